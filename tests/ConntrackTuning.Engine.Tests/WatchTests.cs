using System;
using System.Linq;
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
}
