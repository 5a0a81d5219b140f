namespace ConntrackTuning.Engine.Watch;

/// <summary>
/// The trend of the entry count: a least-squares line through the samples of a sliding window, its slope the
/// growth per second, and when that line reaches the max. "Not filling" (no forecast) when the slope is flat or
/// falling: below a tenth of an entry per second, or too few samples to draw a line.
/// </summary>
internal sealed class TrendForecast
{
    /// <summary>A slope below this (entries per second) is flat: no forecast.</summary>
    public const double FlatSlope = 0.1;

    private readonly Queue<(double Seconds, double Count)> _points = new();
    private readonly double _window;

    /// <param name="window">How far back the fit looks.</param>
    public TrendForecast(TimeSpan window) => _window = Math.Max(1, window.TotalSeconds);

    public int Points => _points.Count;

    public void Add(double seconds, double count)
    {
        _points.Enqueue((seconds, count));
        while (_points.Count > 2 && seconds - _points.Peek().Seconds > _window)
        {
            _points.Dequeue();
        }
    }

    /// <summary>The fitted slope (entries per second) and the fitted count at the last sample; null with fewer than two samples.</summary>
    public (double Slope, double Fitted)? Fit()
    {
        int n = _points.Count;
        if (n < 2)
        {
            return null;
        }

        double sx = 0, sy = 0, sxx = 0, sxy = 0, last = 0;
        foreach ((double x, double y) in _points)
        {
            sx += x;
            sy += y;
            sxx += x * x;
            sxy += x * y;
            last = x;
        }

        double d = n * sxx - sx * sx;
        if (d <= 0)
        {
            return null;
        }

        double slope = (n * sxy - sx * sy) / d;
        double intercept = (sy - slope * sx) / n;
        return (slope, intercept + slope * last);
    }

    /// <summary>Seconds until the fitted line reaches <paramref name="max"/>; null when not filling or no max.</summary>
    public double? SecondsUntilFull(long? max)
    {
        if (max is not > 0 || Fit() is not { } fit || fit.Slope < FlatSlope)
        {
            return null;
        }

        return Math.Max(0, (max.Value - fit.Fitted) / fit.Slope);
    }

    /// <summary>"full in 2 h 13 min", "full now", or "not filling".</summary>
    public static string Describe(double? seconds)
    {
        if (seconds is not { } s)
        {
            return "not filling";
        }

        if (s < 1)
        {
            return "full now";
        }

        var t = TimeSpan.FromSeconds(Math.Min(s, TimeSpan.MaxValue.TotalSeconds / 2));
        string text = t.TotalDays >= 1 ? $"{(int)t.TotalDays} d {t.Hours} h"
            : t.TotalHours >= 1 ? $"{(int)t.TotalHours} h {t.Minutes} min"
            : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes} min {t.Seconds} s"
            : $"{(int)t.TotalSeconds} s";
        return "full in " + text;
    }
}
