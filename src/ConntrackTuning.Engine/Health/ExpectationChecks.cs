using static ConntrackTuning.Engine.Health.HealthText;

namespace ConntrackTuning.Engine.Health;

/// <summary>
/// The expectation table's check: helpers (ftp, sip, h323, ...) announce data and media connections there, and
/// when it is full the packet that would announce one is dropped, so FTP transfers and calls fail while the
/// connection table looks fine. Same thresholds as the connection table.
/// </summary>
internal static class ExpectationChecks
{
    public static IEnumerable<HealthResult> Usage(HealthContext c)
    {
        if (c.Limit is not { } limit || limit.ExpectMax is not { } max)
        {
            yield break;
        }

        string evidence = $"expectations {limit.ExpectCount?.ToString(CultureInfo.InvariantCulture) ?? "unknown"} ({limit.ExpectCountSource ?? "no source"}), max {max.ToString(CultureInfo.InvariantCulture)} ({limit.ExpectMaxSource})";
        if (limit.ExpectUsagePercent is not { } usage)
        {
            yield return new(HealthSeverity.Info, "The expectation table's usage cannot be computed: its count is unknown (it needs root, or the statistics file).", null, evidence);
            yield break;
        }

        HealthSeverity severity = c.Options.UsageSeverity(usage);
        string figures = $"{N(limit.ExpectCount!.Value)} of {N(max)}";
        // nf_conntrack_expect_max is global: read-only (0444) in any namespace but the initial one.
        string onHost = c.Kernel.IsInitialNamespace ? "" : " Run it on the host (the initial network namespace): nf_conntrack_expect_max is global.";
        string message = severity switch
        {
            HealthSeverity.Critical => $"The expectation table is {P(usage)} % full ({figures}): helpers drop the packets whose expectations do not fit (\"nf_conntrack: expectation table full\"), so FTP data and SIP media connections fail.{onHost}",
            HealthSeverity.Warning => $"The expectation table is {P(usage)} % full ({figures}), at or above the warning {P(c.Options.WarningPercent)} %.{onHost}",
            _ => $"The expectation table is {P(usage)} % full ({figures}).",
        };
        string? fix = severity >= HealthSeverity.Warning
            ? $"sysctl -w net.netfilter.nf_conntrack_expect_max={(max * 2).ToString(CultureInfo.InvariantCulture)}"
            : null;
        yield return new(severity, message, fix, evidence);
    }
}
