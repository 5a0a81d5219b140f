namespace ConntrackTuning.Engine.Health;

/// <summary>How the checks word numbers, counts and durations, so every finding reads the same.</summary>
internal static class HealthText
{
    internal static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    internal static string P(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    internal static string EntryWord(double count) => count == 1 ? "entry" : "entries";

    internal static string FormatDuration(long seconds) => seconds switch
    {
        >= 86400 when seconds % 86400 == 0 => $"{seconds / 86400} day{(seconds == 86400 ? "" : "s")}",
        >= 3600 when seconds % 3600 == 0 => $"{seconds / 3600} h",
        _ => $"{seconds} s",
    };
}
