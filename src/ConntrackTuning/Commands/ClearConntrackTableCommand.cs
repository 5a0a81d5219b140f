using ConntrackTuning.Completers;
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

    protected override void ProcessRecord()
    {
        Run(() =>
        {
            // The count and flush socket is created inside the namespace: only that namespace's table is flushed.
            using IDisposable? inside = EnterNetworkNamespace(NetworkNamespace);
            ConntrackKernel kernel = ProbeKernel();
            FlushTable table = Table.Equals("Expectation", System.StringComparison.OrdinalIgnoreCase) ? FlushTable.Expectation : FlushTable.Connection;
            using TableFlusher flusher = TableFlusher.Open(kernel, table, networkNamespace: null);
            string where = inside is null ? "" : $" of network namespace {flusher.NetworkNamespace}";
            string what = string.Create(CultureInfo.InvariantCulture,
                $"Flush the {table.ToString().ToLowerInvariant()} table{where}: delete all {flusher.CountBefore} entr{(flusher.CountBefore == 1 ? "y" : "ies")}");
            if (ShouldProcess(what + ".", what + "?", "Clear-ConntrackTable"))
            {
                WriteObject(flusher.Flush());
            }
        });
    }
}
