using ConntrackTuning.Engine.KernelLog;
using ConntrackTuning.Engine.Namespaces;

namespace ConntrackTuning.Commands;

/// <summary>
/// Get-ConntrackDropEvent: the kernel's "table full, dropping packet" messages of every era as objects, from
/// the live kernel log (journal and ring buffer), log files (plain or gzip), lines piped in, or the var/log of
/// a -Root tree; streamed in one pass, with a summary of how many packets were dropped at least and at most.
/// </summary>
[Cmdlet(VerbsCommon.Get, "ConntrackDropEvent", DefaultParameterSetName = LiveSet)]
[OutputType(typeof(ConntrackDropEvent))]
[OutputType(typeof(ConntrackDropSummary))]
public sealed class GetConntrackDropEventCommand : ConntrackCmdlet
{
    private const string LiveSet = "Live";
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";
    private const string LineSet = "Line";

    private DropEventScanner _scanner = new(TimeWindow.All);
    private TimeWindow _window = TimeWindow.All;
    private LogContext? _pipelineContext;

    /// <summary>The folder whose kernel log is read: "/" (the default) for this machine's journal and ring buffer, else the var/log files of a sosreport or image.</summary>
    [Parameter(ParameterSetName = LiveSet, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public override string Root { get; set; } = "/";

    /// <summary>Log files to read (wildcards allowed; .gz files are decompressed). A folder is read like -Root.</summary>
    [Parameter(ParameterSetName = PathSet, Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    /// <summary>Log files or folders to read, taken as written (no wildcards); files piped from Get-ChildItem bind here by PSPath.</summary>
    [Parameter(ParameterSetName = LiteralPathSet, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    /// <summary>Log lines, usually piped in from Get-Content or a command; each string may hold several lines.</summary>
    [Parameter(ParameterSetName = LineSet, Mandatory = true, ValueFromPipeline = true)]
    [AllowEmptyString]
    public string[] Line { get; set; } = [];

    /// <summary>Only events at or after this time.</summary>
    [Parameter]
    public DateTime? Since { get; set; }

    /// <summary>Only events at or before this time.</summary>
    [Parameter]
    public DateTime? Until { get; set; }

    /// <summary>One summary object at the end instead of the events: at least and at most how many packets were dropped.</summary>
    [Parameter]
    public SwitchParameter Summary { get; set; }

    protected override void BeginProcessing()
    {
        try
        {
            _window = TimeWindow.Create(Since, Until);
        }
        catch (ConntrackException e)
        {
            ThrowTerminatingError(ToErrorRecord(e));
        }

        _scanner = new DropEventScanner(_window);
    }

    protected override void ProcessRecord()
    {
        switch (ParameterSetName)
        {
            case LineSet:
                ReadLines();
                break;
            case PathSet or LiteralPathSet:
                // All the files first, so the progress counts bytes and files of everything -Path names.
                List<LogInput> inputs = [];
                bool literal = ParameterSetName == LiteralPathSet;
                foreach (string path in literal ? LiteralPath : Path)
                {
                    Run(() => inputs.AddRange(ResolvePath(path, literal)));
                }

                Emit(inputs);
                break;
            default:
                IReadOnlyList<LogInput>? live = null;
                bool isLive = false;
                Run(() =>
                {
                    SystemRoot root = OpenRoot();
                    isLive = root.IsLive;
                    live = DropEventReader.DefaultInputs(root, _window);
                });
                Emit(live ?? [], attribute: isLive);
                break;
        }
    }

    protected override void EndProcessing()
    {
        if (_scanner.Undated > 0)
        {
            WriteWarning($"{_scanner.Undated} table-full message(s) were left out because their lines carry no date and -Since or -Until was given (dmesg output without -T, for example).");
        }

        if (Summary)
        {
            WriteObject(_scanner.Summary());
        }
    }

    private void ReadLines()
    {
        const string source = "pipeline";
        _scanner.AddSource(source);
        _pipelineContext ??= new LogContext { YearReference = DateTime.Now };
        foreach (string text in Line)
        {
            if (text is null)
            {
                continue;
            }

            // Get-Content -Raw and multi-line strings arrive as one string.
            foreach (string line in text.Contains('\n', StringComparison.Ordinal) ? text.Split('\n') : [text])
            {
                if (_scanner.Feed(line, _pipelineContext, source) is { } drop && !Summary)
                {
                    WriteObject(drop);
                }
            }
        }
    }

    private List<LogInput> ResolvePath(string path, bool literal)
    {
        IReadOnlyList<string> files = ResolveExistingPaths(path, literal, PathUse.LogFile);
        SystemRoot fileSystem = OpenFolder("/");
        List<LogInput> inputs = [];
        foreach (string file in KernelLogSources.RotationOrder(files))
        {
            if (System.IO.Directory.Exists(file))
            {
                Run(() => inputs.AddRange(DropEventReader.DefaultInputs(OpenFolder(file), _window)));
            }
            else
            {
                inputs.Add(KernelLogSources.File(fileSystem, file));
            }
        }

        return inputs;
    }

    // This machine's namespaces, read once when the first message names one. Only the live log is matched against
    // them: inodes are numbered alike on every host, so another machine's log would match by accident.
    private NamespaceDirectory? _directory;

    private void Attribute(ConntrackDropEvent drop)
    {
        if (drop.NetworkNamespace is { } inode)
        {
            _directory ??= NamespaceDirectory.Read(OpenRoot());
            (drop.NamespaceName, drop.Owner) = _directory.Describe(inode, drop.TimeStamp);
        }
    }

    /// <summary>
    /// Each input on its own, so a damaged or unreadable file is one error and the others are still read; one
    /// progress bar over them all, ended also when one fails or the command is stopped.
    /// </summary>
    private void Emit(IReadOnlyList<LogInput> inputs, bool attribute = false)
    {
        using var progress = new LogScanProgress(this, inputs);
        foreach (LogInput input in inputs)
        {
            Run(() =>
            {
                foreach (ConntrackDropEvent drop in DropEventReader.Read([input], _scanner, progress))
                {
                    if (!Summary)
                    {
                        if (attribute)
                        {
                            Attribute(drop);
                        }

                        WriteObject(drop);
                    }
                }
            });
        }
    }
}
