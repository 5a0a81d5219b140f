using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning.Commands;

/// <summary>
/// Get-ConntrackStatistic: the kernel's per-CPU conntrack counters (drop, early_drop, insert_failed, ...) of
/// the network namespace read, summed over the CPUs or one object per CPU.
/// </summary>
[Cmdlet(VerbsCommon.Get, "ConntrackStatistic")]
[OutputType(typeof(ConntrackStatistic))]
public sealed class GetConntrackStatisticCommand : ConntrackNamespaceReadCmdlet
{
    /// <summary>One object per CPU instead of the sum.</summary>
    [Parameter]
    public SwitchParameter PerCpu { get; set; }

    private protected override void Read(ConntrackKernel kernel)
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
    }
}
