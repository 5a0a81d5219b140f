using System;
using System.Linq;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Watch;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>The watch's forecast (least squares over a sliding window) and its terminal view.</summary>
public class WatchTests
{
    [Fact]
    public void FitsTheSlopeOfASteadyFillAndForecastsTheTimeToFull()
    {
        var trend = new TrendForecast(TimeSpan.FromSeconds(60));
        for (int t = 0; t <= 10; t++)
        {
            trend.Add(t, 1000 + (250 * t) + (t % 2 == 0 ? 5 : -5));
        }

        (double slope, double fitted) = trend.Fit()!.Value;
        Assert.InRange(slope, 249, 251);
        Assert.InRange(fitted, 3490, 3510);
        Assert.InRange(trend.SecondsUntilFull(10_000)!.Value, (10_000 - 3510) / 251.0, (10_000 - 3490) / 249.0);
        Assert.StartsWith("full in 2", TrendForecast.Describe(trend.SecondsUntilFull(10_000)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-40.0)]
    [InlineData(0.05)]
    public void IsNotFillingWhenFlatOrFalling(double slope)
    {
        var trend = new TrendForecast(TimeSpan.FromSeconds(60));
        for (int t = 0; t < 10; t++)
        {
            trend.Add(t, 5000 + (slope * t));
        }

        Assert.Null(trend.SecondsUntilFull(262144));
        Assert.Equal("not filling", TrendForecast.Describe(trend.SecondsUntilFull(262144)));
    }

    [Fact]
    public void ForgetsSamplesOlderThanTheWindow()
    {
        var trend = new TrendForecast(TimeSpan.FromSeconds(5));
        for (int t = 0; t <= 10; t++)
        {
            trend.Add(t, t <= 5 ? 100 * t : 500);
        }

        // The rise ended at t = 5; the window holds t = 5 .. 10, all 500.
        Assert.Equal(6, trend.Points);
        Assert.Equal(0, trend.Fit()!.Value.Slope, 6);
        Assert.Null(trend.SecondsUntilFull(1000));
    }

    [Fact]
    public void NeedsTwoSamplesForALineAndAMaxForAForecast()
    {
        var trend = new TrendForecast(TimeSpan.FromSeconds(5));
        trend.Add(0, 10);
        Assert.Null(trend.Fit());
        trend.Add(1, 20);
        Assert.Null(trend.SecondsUntilFull(null));
        Assert.Null(trend.SecondsUntilFull(0));
        Assert.Equal(9, trend.SecondsUntilFull(110)!.Value, 6);
    }

    [Fact]
    public void DrawsEveryLineWithinTheWindowWidthWithASparklineOfUsage()
    {
        var screen = new WatchScreen();
        ConntrackWatchSample last = null!;
        for (int i = 1; i <= 30; i++)
        {
            last = new ConntrackWatchSample { Sample = i, Time = DateTimeOffset.UnixEpoch, Count = i * 1000, Max = 100_000, UsagePercent = i, GrowthPerSecond = 500, Forecast = "full in 3 min 0 s", Root = "/" };
            screen.Add(last);
        }

        var lines = screen.Render(last, 60, TimeSpan.FromSeconds(2));
        Assert.All(lines, l => Assert.True(l.Length <= 60, l));
        Assert.Contains(lines, l => l.StartsWith('[') && l.Contains("30.00 %", StringComparison.Ordinal));
        string spark = lines.Single(l => l.StartsWith("usage ", StringComparison.Ordinal));
        Assert.Contains('█', spark);
        Assert.Contains('▁', spark);
        Assert.Contains(lines, l => l.Contains("full in 3 min", StringComparison.Ordinal));
    }
    [Theory]
    [InlineData(-0.001, 0.0)]
    [InlineData(-0.004, 0.0)]
    [InlineData(-0.006, -0.01)]
    [InlineData(12.346, 12.35)]
    public void A_rate_is_kept_to_two_decimals_and_a_fall_that_rounds_away_is_a_positive_zero(double perSecond, double expected)
    {
        double rounded = ConntrackWatcher.Rounded(perSecond);
        Assert.Equal(expected, rounded);
        // -0 equals 0 but prints "-0" and serializes as -0 in JSON and the textfile: the sign must be gone.
        Assert.False(expected == 0 && double.IsNegative(rounded), $"{perSecond} rounded to -0");
    }

    [Fact]
    public void WritesRatesWithoutANegativeZeroAndNewPerSecondAsTheOtherRates()
    {
        var screen = new WatchScreen();
        // The first sample: no rate yet, but events are counted (a total of 0).
        var first = new ConntrackWatchSample { Sample = 1, Time = DateTimeOffset.UnixEpoch, Count = 1000, Max = 100_000, UsagePercent = 1, NewConnectionsTotal = 0, Forecast = "not filling", Root = "/" };
        screen.Add(first);
        Assert.Contains(screen.Render(first, 120, TimeSpan.FromSeconds(2)), l => l.StartsWith("growth -/s  trend -/s  new -/s  not filling", StringComparison.Ordinal));

        // A flat table whose fitted slope rounds to -0, a count that fell by a hair, events not available.
        var flat = new ConntrackWatchSample
        {
            Sample = 2, Time = DateTimeOffset.UnixEpoch, Count = 1000, Max = 100_000, UsagePercent = 1, GrowthPerSecond = -0.04,
            TrendPerSecond = Math.Round(-0.001, 2), DropPerSecond = -0.0, Forecast = "not filling", Root = "/",
        };
        screen.Add(flat);
        var lines = screen.Render(flat, 120, TimeSpan.FromSeconds(2));
        Assert.Contains(lines, l => l.StartsWith("growth 0/s  trend 0/s  new n/a  not filling", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("drop 0/s  ", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("-0", StringComparison.Ordinal));
    }

    [Fact]
    public void WritesTheTextfileOfASampleWithEveryMetricInItsOrder()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        using var watcher = new ConntrackWatcher(KernelProbe.Probe(tree.Open()), TimeSpan.FromMinutes(5));
        // The statistics counters come from the last sample taken; the rest from the sample given.
        watcher.Take();
        var full = new ConntrackWatchSample
        {
            Sample = 2, Time = new DateTimeOffset(2026, 12, 3, 10, 0, 0, 250, TimeSpan.Zero), Count = 64000, Max = 65536,
            NewConnectionsTotal = 1234, LostEventsTotal = 0, TrendPerSecond = 12.5, SecondsUntilFull = 122.9, Root = tree.Path,
        };
        Assert.Equal(
            [
                "watch_timestamp_seconds 1796292000.25", "entries 64000", "entries_limit 65536", "usage_ratio 0.9765625",
                "stat_found_total 0", "stat_invalid_total 59", "stat_ignore_total 0", "stat_insert_total 0", "stat_insert_failed_total 1",
                "stat_drop_total 23", "stat_early_drop_total 5", "stat_icmp_error_total 0", "stat_search_restart_total 5",
                "stat_clash_resolve_total 3", "stat_chain_too_long_total 0", "stat_new_total 0", "stat_delete_total 0",
                "stat_expect_new_total 0", "stat_expect_create_total 0", "stat_expect_delete_total 0",
                "new_connections_total 1234", "events_lost_total 0", "entries_trend_per_second 12.5", "seconds_until_full 122.9",
            ],
            Values(watcher.Metrics(full)));

        // What a sample does not have is left out, not written as 0; a limit of 0 (none) has no ratio.
        var bare = new ConntrackWatchSample { Sample = 1, Time = DateTimeOffset.UnixEpoch, Max = 0, Root = tree.Path };
        string[] values = Values(watcher.Metrics(bare));
        Assert.Equal(["watch_timestamp_seconds 0", "entries_limit 0"], values.Take(2));
        Assert.All(values.Skip(2), v => Assert.StartsWith("stat_", v, StringComparison.Ordinal));
        Assert.Equal(16, values.Length - 2);
    }

    // The sample lines of a textfile without the prefix; each family's # HELP and # TYPE come right before its first.
    private static string[] Values(string text)
    {
        string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith("# HELP ", StringComparison.Ordinal))
            {
                string name = lines[i].Split(' ')[2];
                Assert.Equal($"# TYPE {name} {(name.EndsWith("_total", StringComparison.Ordinal) ? "counter" : "gauge")}", lines[i + 1]);
                Assert.StartsWith(name + " ", lines[i + 2], StringComparison.Ordinal);
            }
        }

        return lines.Where(l => !l.StartsWith('#')).Select(l => l["conntrack_tuning_".Length..]).ToArray();
    }
}
