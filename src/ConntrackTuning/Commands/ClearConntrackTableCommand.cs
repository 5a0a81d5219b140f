using ConntrackTuning.Engine.Namespaces;
using ConntrackTuning.Engine.Removal;

namespace ConntrackTuning.Commands;

/// <summary>
/// Clear-ConntrackTable: flushes the connection table (conntrack -F) or the expectation table (conntrack -F
/// expect) of the running system, or of another of its network namespaces (-NetworkNamespace), after saying how
/// many entries it holds; one ConntrackRemoval record.
/// </summary>
[Cmdlet(VerbsCommon.Clear, "ConntrackTable", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(ConntrackRemoval))]
public sealed class ClearConntrackTableCommand : ConntrackCmdlet
{
    /// <summary>The running system only ("/").</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public override string Root { get; set; } = "/";

    /// <summary>Connection (the default) or Expectation.</summary>
    [Parameter(Position = 0)]
    [ValidateSet("Connection", "Expectation")]
    public string Table { get; set; } = "Connection";

    /// <summary>
    /// The network namespace whose table is flushed, by ip netns name, inode, process id or nsfs path; binds by
    /// property name from Get-ConntrackNamespace. The running system only.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    // Every record of a namespace (an entry, a health finding, a statistic) binds -NetworkNamespace by property
    // name: many piped records of one namespace flush its table once, with one question, not once each.
    private readonly HashSet<string> _asked = new(StringComparer.Ordinal);

    // The count and flush socket is created inside the namespace: only that namespace's table is flushed.
    protected override void ProcessRecord() => RunInNetworkNamespace(NetworkNamespace, kernel =>
    {
        FlushTable table = Table.Equals("Expectation", StringComparison.OrdinalIgnoreCase) ? FlushTable.Expectation : FlushTable.Connection;
        if (!_asked.Add(NamespaceContext.CurrentInode ?? ""))
        {
            WriteVerbose($"The {table.ToString().ToLowerInvariant()} table of {NamespaceContext.CurrentInode ?? "this process's network namespace"} was flushed (or asked about) once already by this command.");
            return;
        }

        using TableFlusher flusher = TableFlusher.Open(kernel, table, networkNamespace: null);
        // The flusher names the namespace its socket was made in, and none when it is this process's own.
        string where = flusher.NetworkNamespace is { } inode ? $" of network namespace {inode}" : "";
        string what = string.Create(CultureInfo.InvariantCulture,
            $"Flush the {table.ToString().ToLowerInvariant()} table{where}: delete all {flusher.CountBefore} entr{(flusher.CountBefore == 1 ? "y" : "ies")}");
        if (ShouldProcess(what + ".", what + "?", "Clear-ConntrackTable"))
        {
            WriteObject(flusher.Flush());
        }
    });
}
