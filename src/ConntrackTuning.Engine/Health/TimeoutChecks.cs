using ConntrackTuning.Engine.Kernel;

using static ConntrackTuning.Engine.Health.HealthText;

namespace ConntrackTuning.Engine.Health;

/// <summary>The check on the TCP established timeout, the one that decides how long dead connections stay tracked.</summary>
internal static class TimeoutChecks
{
    internal static IEnumerable<HealthResult> TcpEstablishedTimeout(HealthContext c)
    {
        if (c.TcpEstablishedTimeout is not { } seconds)
        {
            yield break;
        }

        string evidence = $"{seconds.ToString(CultureInfo.InvariantCulture)} s in {c.TcpEstablishedTimeoutSource}";
        if (seconds < EraTable.TcpEstablishedDefaultSeconds)
        {
            yield return new(HealthSeverity.Ok, $"Established TCP entries are kept {FormatDuration(seconds)} after the last packet.", null, evidence);
            yield break;
        }

        // Under pressure the 5-day default is what fills the table with dead connections; otherwise it is advice.
        bool pressed = c.Limit?.UsagePercent >= c.Options.WarningPercent
            || c.Statistics is { Drop: > 0 } or { EarlyDrop: > 0 }
            || c.EventsHere > 0;
        yield return new(pressed ? HealthSeverity.Warning : HealthSeverity.Info,
            $"Established TCP entries are kept {FormatDuration(seconds)} after the last packet (the kernel default), so connections that died without a FIN or RST stay in the table for days{(pressed ? " while the table is under pressure" : "")}. A server rarely needs more than a day; a classic tuning note for web servers goes much shorter (1200 s).",
            Remedy.SetTcpEstablished(Remedy.TcpEstablishedSeconds, c.Kernel), evidence);
    }
}
