using ConntrackTuning.Engine.Health;
using ConntrackTuning.Engine.Images;
using ConntrackTuning.Engine.KernelLog;

namespace ConntrackTuning.Commands;

/// <summary>
/// Test-ConntrackHealth: is conntrack healthy here, and if not, what to run. Emits one finding per check,
/// or with -Quiet only whether nothing is at Warning or worse.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "ConntrackHealth")]
[OutputType(typeof(ConntrackHealthFinding))]
[OutputType(typeof(bool))]
public sealed class TestConntrackHealthCommand : ConntrackImageMemoryCmdlet
{
    private HealthOptions _options = new();

    /// <summary>Usage of the max, in percent, from which the Usage check warns.</summary>
    [Parameter]
    public double WarningPercent { get; set; } = HealthOptions.Defaults.WarningPercent;

    /// <summary>Usage of the max, in percent, from which the Usage check is critical.</summary>
    [Parameter]
    public double CriticalPercent { get; set; } = HealthOptions.Defaults.CriticalPercent;

    /// <summary>The most entries per hash bucket a full table may hold before the EntriesPerBucket check warns.</summary>
    [Parameter]
    public double MaxEntriesPerBucket { get; set; } = HealthOptions.Defaults.MaxEntriesPerBucket;

    /// <summary>Searches the kernel log from this time on (default: since boot on this machine, all of it under -Root).</summary>
    [Parameter]
    public DateTime? Since { get; set; }

    /// <summary>Leaves out findings below this severity.</summary>
    [Parameter]
    [ValidateSet("Ok", "Info", "Warning", "Critical")]
    public string MinimumSeverity { get; set; } = "Ok";

    /// <summary>Writes only $true (nothing at Warning or worse) or $false.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    /// <summary>
    /// The network namespace to check (its table, counters and timeouts; the global max and the kernel log are the host's), by ip netns name, inode, process id or nsfs path; binds by property name
    /// from Get-ConntrackNamespace. The running system only.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        _options = new HealthOptions
        {
            WarningPercent = WarningPercent,
            CriticalPercent = CriticalPercent,
            MaxEntriesPerBucket = MaxEntriesPerBucket,
            LogWindow = Since is { } since ? TimeWindow.Create(since, null) : null,
        };
        try
        {
            _options.Validate();
        }
        catch (ConntrackException e)
        {
            // A bad threshold spoils every root of the pipeline alike: nothing can go on.
            ThrowTerminatingError(ToErrorRecord(e));
        }
    }

    protected override void ProcessRecord() => RunInNetworkNamespace(NetworkNamespace, kernel =>
    {
        int minimum = (int)Enum.Parse<HealthSeverity>(MinimumSeverity, ignoreCase: true);
        // An image has no kernel behind it: only the checks that need none run there.
        List<ConntrackHealthFinding> findings = kernel.RootKind == "Image"
            ? ImageHealth.Run(kernel).ToList()
            : HealthChecks.Run(new HealthContext(kernel, _options)).ToList();
        if (Quiet)
        {
            WriteObject(findings.TrueForAll(f => f.SeverityLevel < (int)HealthSeverity.Warning));
            return;
        }

        foreach (ConntrackHealthFinding finding in findings)
        {
            if (finding.SeverityLevel >= minimum)
            {
                WriteObject(finding);
            }
        }
    });
}
