using ConntrackTuning.Engine.KernelLog;

using static ConntrackTuning.Engine.Health.HealthText;

namespace ConntrackTuning.Engine.Health;

/// <summary>The checks on the kernel log: whether it was readable, and the table-full events in the window.</summary>
internal static class KernelLogChecks
{
    internal static IEnumerable<HealthResult> KernelLog(HealthContext c)
    {
        if (c.EventsError is { } error)
        {
            yield return new(HealthSeverity.Info, $"The kernel log cannot be searched for table-full messages, so the TableFullEvents check was skipped: {error}");
        }
    }

    internal static IEnumerable<HealthResult> TableFullEvents(HealthContext c)
    {
        if (c.Events is not { } events)
        {
            yield break;
        }

        string ours = c.EventKey;
        long here = c.EventsHere;
        long elsewhere = events.ByNamespace.Where(kv => kv.Key != ours && kv.Key.Length > 0).Sum(kv => kv.Value);
        ConntrackDropSummary summary = events.Summary();
        TimeWindow window = c.LogWindow;
        string span = window.Since is { } since ? $" since {since:yyyy-MM-dd HH:mm:ss}" : "";
        string evidence = $"{string.Join(", ", c.EventSources)}{span}" + (summary.LastTimeStamp is { } last ? $"; last at {last:yyyy-MM-dd HH:mm:ss}" : "");

        if (here > 0)
        {
            // The suppressed count cannot be split by namespace; with events elsewhere it is an upper bound for all.
            string bound = summary.Suppressed > 0
                ? $"at least {N(here)} and at most {N(here + summary.Suppressed)} packets"
                : $"{N(here)} packets";
            string where = c.Kernel.IsInitialNamespace ? "" : $" in network namespace {ours}";
            yield return new(HealthSeverity.Critical,
                $"The kernel logged that the conntrack table was full{where}{span}: {bound} were dropped ({N(here)} logged, up to {N(summary.Suppressed)} more in rate-limited messages).{c.OnHost}",
                Remedy.RaiseMax(c), evidence);
        }
        else
        {
            // With messages from other namespaces, "no message" alone would read as a clean log right above the warning about them.
            string scope = !c.Kernel.IsInitialNamespace ? " for this namespace" : elsewhere > 0 ? " from this (the initial) network namespace" : "";
            string others = c.Kernel.IsInitialNamespace && elsewhere > 0 ? $"; {N(elsewhere)} name other network namespaces (see TableFullEvents below)" : "";
            // Said, not silently dropped: the messages are real, only not this namespace's.
            others += c.EventsBefore > 0 ? $"; {N(c.EventsBefore)} older messages name its inode number but were logged before this namespace was made, by a namespace now gone that had the same number" : "";
            yield return new(HealthSeverity.Ok, $"No table-full message{scope} in the kernel log{span}{others}.", null, evidence);
        }

        if (c.Kernel.IsInitialNamespace && elsewhere > 0)
        {
            yield return new(HealthSeverity.Warning,
                $"{N(elsewhere)} table-full messages name other network namespaces (containers: {string.Join(", ", summary.NetworkNamespaces)}). Each namespace may hold up to the global max, so raising it here is the fix for them too.",
                Remedy.RaiseMax(c), evidence);
        }
    }
}
