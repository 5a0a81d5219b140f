using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Sizing;

using static ConntrackTuning.Engine.Health.HealthText;

namespace ConntrackTuning.Engine.Health;

/// <summary>The checks on the table itself: the tracker is loaded, where it runs, how full it is, how its size compares with the kernel's default, and how long its hash chains get.</summary>
internal static class TableChecks
{
    internal static IEnumerable<HealthResult> Loaded(HealthContext c)
    {
        if (!c.Kernel.IsLoaded)
        {
            yield return new(HealthSeverity.Info,
                $"Connection tracking is not loaded (neither nf_conntrack nor ip_conntrack is present under {c.Kernel.Root}), so there is no table to overflow.",
                null, c.Kernel.KernelRelease is { } r ? $"kernel {r}" : null);
            yield break;
        }

        yield return new(HealthSeverity.Ok, $"{c.Kernel.Tracker} is loaded ({c.Kernel.ModuleState}).", null,
            $"kernel {c.Kernel.KernelRelease ?? "(release unknown)"}, era {c.Kernel.Era}");
    }

    internal static IEnumerable<HealthResult> Namespace(HealthContext c)
    {
        if (c.Kernel.IsInitialNamespace)
        {
            yield break;
        }

        yield return new(HealthSeverity.Info,
            $"This is not the initial network namespace (a container or 'ip netns'). The counters, the count and the timeouts here are this namespace's own, but the limit and the hash size are global: they belong to the host and can only be changed there.",
            null, c.Kernel.NetworkNamespace is { } ns ? $"network namespace {ns}" : null);
    }

    internal static IEnumerable<HealthResult> Usage(HealthContext c)
    {
        if (c.Limit is not { } limit)
        {
            yield return new(HealthSeverity.Info, $"The table's size and count cannot be read: {c.LimitError}");
            yield break;
        }

        string evidence = $"count {limit.Count?.ToString(CultureInfo.InvariantCulture) ?? "unknown"} ({limit.CountSource ?? "no source"}), max {limit.Max?.ToString(CultureInfo.InvariantCulture) ?? "unknown"} ({limit.MaxSource ?? "no source"})";
        if (limit.Max == 0)
        {
            yield return new(HealthSeverity.Info,
                "The max is 0, which the kernel takes as no limit at all: the table grows until memory runs out instead of dropping new connections.",
                Remedy.SetMax(Remedy.SuggestMax(c) ?? 262144), evidence);
            yield break;
        }

        if (limit.UsagePercent is not { } usage)
        {
            yield return new(HealthSeverity.Info, "The table's usage cannot be computed: the count or the max is unknown.", null, evidence);
            yield break;
        }

        HealthSeverity severity = c.Options.UsageSeverity(usage);
        string message = severity switch
        {
            HealthSeverity.Critical => $"The table is {P(usage)} % full ({N(limit.Count!.Value)} of {N(limit.Max!.Value)}), at or above the critical {P(c.Options.CriticalPercent)} %: new connections are dropped once it is full.{c.OnHost}",
            HealthSeverity.Warning => $"The table is {P(usage)} % full ({N(limit.Count!.Value)} of {N(limit.Max!.Value)}), at or above the warning {P(c.Options.WarningPercent)} %.{c.OnHost}",
            _ => $"The table is {P(usage)} % full ({N(limit.Count!.Value)} of {N(limit.Max!.Value)}).",
        };
        yield return new(severity, message, severity >= HealthSeverity.Warning ? Remedy.RaiseMax(c) : null, evidence);
    }

    internal static IEnumerable<HealthResult> KernelDefaultCheck(HealthContext c)
    {
        if (c.Limit is not { Max: { } max } limit || max == 0)
        {
            yield break;
        }

        if (c.KernelDefault is not { } kd)
        {
            yield return new(HealthSeverity.Info, $"What this kernel would choose by itself cannot be computed: {c.SizingError}");
            yield break;
        }

        string evidence = $"max {max.ToString(CultureInfo.InvariantCulture)} ({limit.MaxSource}); the kernel's own default for {kd.MemoryBytes / (1024 * 1024)} MiB on era {kd.Era}: {kd.Max.ToString(CultureInfo.InvariantCulture)}";
        yield return max < kd.Max
            ? new(HealthSeverity.Warning,
                $"The max ({N(max)}) is below what this kernel would choose by itself for this RAM ({N(kd.Max)}): someone lowered it, often with a sysctl.conf line written for a smaller machine or an older kernel.{c.OnHost}",
                Remedy.RaiseMax(c), evidence)
            : new(HealthSeverity.Ok, $"The max ({N(max)}) is at or above what this kernel would choose by itself for this RAM ({N(kd.Max)}).", null, evidence);
    }

    internal static IEnumerable<HealthResult> EntriesPerBucket(HealthContext c)
    {
        if (c.Limit is not { EntriesPerBucket: { } ratio, Max: { } max, HashSize: { } hash })
        {
            yield break;
        }

        string evidence = $"max {max.ToString(CultureInfo.InvariantCulture)} ({c.Limit.MaxSource}), hash size {hash.ToString(CultureInfo.InvariantCulture)} ({c.Limit.HashSizeSource})";
        yield return ratio > c.Options.MaxEntriesPerBucket
            ? new(HealthSeverity.Warning,
                $"A full table holds {P(ratio)} {EntryWord(ratio)} per hash bucket, more than {P(c.Options.MaxEntriesPerBucket)}: every lookup walks a long chain. A bucket costs only a pointer, so a hash size near the max is cheap.{(TrackerModule.HashFixedWhileLoaded(c.Kernel) ? " This kernel fixes the hash size when the module loads: the new size takes effect at the next boot." : "")}{c.OnHost}",
                Remedy.SetHashSize(c.PlannedHashSize ?? Remedy.SuggestHashSize(Math.Max(max, c.PlannedMax ?? 0), c), c.Kernel), evidence)
            : new(HealthSeverity.Ok, $"A full table holds {P(ratio)} {EntryWord(ratio)} per hash bucket (at most {P(c.Options.MaxEntriesPerBucket)} advised).", null, evidence);
    }
}
