using ConntrackTuning.Completers;
using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning.Commands;

/// <summary>
/// Get-ConntrackStatistic: the kernel's per-CPU conntrack counters (drop, early_drop, insert_failed, ...) of
/// the network namespace read, summed over the CPUs or one object per CPU.
/// </summary>
[Cmdlet(VerbsCommon.Get, "ConntrackStatistic")]
[OutputType(typeof(ConntrackStatistic))]
public sealed class GetConntrackStatisticCommand : ConntrackReadCmdlet
{
    /// <summary>One object per CPU instead of the sum.</summary>
    [Parameter]
    public SwitchParameter PerCpu { get; set; }

    /// <summary>
    /// The network namespace to read the counters of, by ip netns name, inode, process id or nsfs path; binds by property name
    /// from Get-ConntrackNamespace. The running system only.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    protected override void ProcessRecord() => RunInNetworkNamespace(NetworkNamespace, kernel =>
    {
        CpuStatistics statistics = StatisticsReader.Read(kernel);
        if (PerCpu)
        {
            foreach (ConntrackStatistic cpu in ConntrackStatistic.PerCpu(statistics, kernel))
            {
                WriteObject(cpu);
            }
        }
        else
        {
            WriteObject(ConntrackStatistic.Sum(statistics, kernel));
        }
    });
}
