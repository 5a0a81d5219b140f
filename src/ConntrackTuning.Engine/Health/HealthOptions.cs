using ConntrackTuning.Engine.KernelLog;
using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Engine.Health;

/// <summary>The thresholds of the checks, from Test-ConntrackHealth's parameters.</summary>
internal sealed record HealthOptions
{
    /// <summary>The thresholds when none is given: Test-ConntrackHealth's parameters default to these.</summary>
    public static HealthOptions Defaults { get; } = new();

    public double WarningPercent { get; init; } = 75;

    public double CriticalPercent { get; init; } = 90;

    /// <summary>The seed's advice: at most 8 entries per bucket when the table is full.</summary>
    public double MaxEntriesPerBucket { get; init; } = KernelDefaults.ClassicEntriesPerBucket;

    /// <summary>The time the log is searched over; null for the checks' default (this boot when live, the whole log of a tree).</summary>
    public TimeWindow? LogWindow { get; init; }

    /// <summary>How bad a table this full is (the connection table and the expectation table share the thresholds).</summary>
    public HealthSeverity UsageSeverity(double usagePercent) =>
        usagePercent >= CriticalPercent ? HealthSeverity.Critical
        : usagePercent >= WarningPercent ? HealthSeverity.Warning
        : HealthSeverity.Ok;

    public void Validate()
    {
        static ConntrackException Bad(string message, string target, string action) =>
            new(ErrorIds.InvalidThreshold, ErrorKind.InvalidArgument, message, target, action);

        foreach ((string name, double value) in new[] { ("WarningPercent", WarningPercent), ("CriticalPercent", CriticalPercent) })
        {
            if (double.IsNaN(value) || value <= 0 || value > 100)
            {
                throw Bad($"-{name} {value.ToString(CultureInfo.InvariantCulture)} is not a percentage above 0 and at most 100.", name,
                    $"Give -{name} a value such as {HealthText.P(name == "WarningPercent" ? Defaults.WarningPercent : Defaults.CriticalPercent)}.");
            }
        }

        if (WarningPercent > CriticalPercent)
        {
            throw Bad($"-WarningPercent {WarningPercent.ToString(CultureInfo.InvariantCulture)} is above -CriticalPercent {CriticalPercent.ToString(CultureInfo.InvariantCulture)}; a table would be critical before it is a warning.",
                "WarningPercent", $"Give a -WarningPercent no higher than -CriticalPercent (the defaults are {HealthText.P(Defaults.WarningPercent)} and {HealthText.P(Defaults.CriticalPercent)}).");
        }

        if (double.IsNaN(MaxEntriesPerBucket) || MaxEntriesPerBucket <= 0)
        {
            throw Bad($"-MaxEntriesPerBucket {MaxEntriesPerBucket.ToString(CultureInfo.InvariantCulture)} must be above 0.", "MaxEntriesPerBucket",
                $"Give -MaxEntriesPerBucket a value such as {HealthText.P(Defaults.MaxEntriesPerBucket)} (the classic default) or 1 (one entry per bucket).");
        }
    }
}
