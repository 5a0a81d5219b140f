using ConntrackTuning.Engine.Entries;

namespace ConntrackTuning.Commands;

/// <summary>
/// Get-ConntrackEntry: the entries of the conntrack table, filtered like conntrack -L, streamed as objects; or,
/// with -Summary, who fills the table (by protocol, state, source, destination and port) without holding it.
/// </summary>
[Cmdlet(VerbsCommon.Get, "ConntrackEntry", DefaultParameterSetName = EntriesSet)]
[OutputType(typeof(ConntrackEntry), ParameterSetName = [EntriesSet])]
[OutputType(typeof(ConntrackSummary), ParameterSetName = [SummarySet])]
public sealed class GetConntrackEntryCommand : ConntrackFilterCmdlet
{
    private const string EntriesSet = "Entries";
    private const string SummarySet = "Summary";

    /// <summary>Saved copies of the table (procfs file of any era, or conntrack -L output) to read instead of a root's table.</summary>
    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? Path { get; set; }

    /// <summary>
    /// Saved copies of the table named exactly as written (brackets and all). Not bound from the pipeline: piped
    /// files and folders bind to -Root by value, which reads a file as a saved table and a folder as a root.
    /// </summary>
    [Parameter]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[]? LiteralPath { get; set; }

    /// <summary>Aggregate instead of listing: counts by protocol and state, top sources, destinations and ports.</summary>
    [Parameter(Mandatory = true, ParameterSetName = SummarySet)]
    public SwitchParameter Summary { get; set; }

    /// <summary>How many sources, destinations and destination ports the summary lists.</summary>
    [Parameter(ParameterSetName = SummarySet)]
    [ValidateRange(1, 10000)]
    public int Top { get; set; } = 10;

    /// <summary>
    /// The network namespace to read the table of, by ip netns name, inode, process id or nsfs path; binds by property name
    /// from Get-ConntrackNamespace. The running system only.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    protected override void ProcessRecord()
    {
        if (Path is not null || LiteralPath is not null)
        {
            foreach (string file in ExistingPaths(Path, LiteralPath, PathUse.SavedTable))
            {
                Run(() => ReadSaved(file));
            }

            return;
        }

        // A file piped in (Get-ChildItem *.txt | Get-ConntrackEntry) binds to -Root; read it as a saved table.
        string rootPath = "";
        Run(() => rootPath = ResolveRoot());
        if (rootPath.Length == 0)
        {
            return;
        }

        if (EntryReader.IsFile(rootPath))
        {
            Run(() => ReadSaved(rootPath));
            return;
        }

        // The socket (or procfs table file) is opened inside the namespace; the entries stream here.
        RunInNetworkNamespace(NetworkNamespace, kernel =>
        {
            RequireTable(kernel);
            if (Summary)
            {
                WriteObject(EntryReader.Summarize((visitor, restart) => EntryReader.ReadTable(kernel, Filter, visitor, wantFigures: true, restart),
                    Filter, Top, kernel.Root));
            }
            else
            {
                EntryReader.ReadTable(kernel, Filter, Emit);
            }
        });
    }

    private void ReadSaved(string file)
    {
        SystemRoot directory = OpenFolder(System.IO.Path.GetDirectoryName(file) ?? "/");
        string name = System.IO.Path.GetFileName(file);
        if (Summary)
        {
            WriteObject(EntryReader.Summarize((visitor, _) => EntryReader.ReadFile(directory, name, Filter, visitor), Filter, Top, file));
        }
        else
        {
            EntryReader.ReadFile(directory, name, Filter, Emit);
        }
    }

    private bool Emit(ref EntryRecord record)
    {
        WriteObject(new ConntrackEntry(ref record));
        return true;
    }
}
