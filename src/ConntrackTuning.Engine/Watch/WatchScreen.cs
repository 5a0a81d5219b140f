namespace ConntrackTuning.Engine.Watch;

/// <summary>
/// The compact view Watch-Conntrack redraws in place in a terminal: a usage bar, the rates, the forecast and a
/// sparkline of usage over the last samples, each line cut to the window's width.
/// </summary>
internal sealed class WatchScreen
{
    private static readonly char[] Ticks = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    private readonly Queue<double> _usage = new();
    private readonly int _keep;

    /// <param name="keep">How many samples the sparkline can hold at most (the widest window it will be drawn in).</param>
    public WatchScreen(int keep = 1000) => _keep = Math.Max(1, keep);

    public void Add(ConntrackWatchSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        _usage.Enqueue(sample.UsagePercent ?? 0);
        while (_usage.Count > _keep)
        {
            _usage.Dequeue();
        }
    }

    public IReadOnlyList<string> Render(ConntrackWatchSample s, int width, TimeSpan interval)
    {
        ArgumentNullException.ThrowIfNull(s);
        width = Math.Max(40, width);
        CultureInfo c = CultureInfo.InvariantCulture;
        string Rate(double? v) => v is { } x ? ConntrackWatcher.Rounded(x, 1).ToString("0.#", c) : "-";
        double usage = s.UsagePercent ?? 0;
        string label = string.Create(c, $" {usage,6:0.00} % {s.Count:N0} / {s.Max:N0}");
        int barWidth = Math.Max(10, width - label.Length - 2);
        int filled = (int)Math.Round(barWidth * Math.Clamp(usage, 0, 100) / 100);
        var lines = new List<string>
        {
            string.Create(c, $"conntrack {s.Root}{(s.NetworkNamespace is { } ns ? "  network namespace " + ns : "")}  sample {s.Sample} at {s.Time.ToLocalTime():HH:mm:ss}  every {interval.TotalSeconds:0.#} s  (Ctrl+C ends)"),
            "[" + new string('#', filled) + new string('.', barWidth - filled) + "]" + label,
            $"growth {Rate(s.GrowthPerSecond)}/s  trend {Rate(s.TrendPerSecond)}/s  new {(s.NewConnectionsTotal is null ? "n/a" : Rate(s.NewPerSecond) + "/s")}  {s.Forecast}",
            $"drop {Rate(s.DropPerSecond)}/s  early_drop {Rate(s.EarlyDropPerSecond)}/s  insert_failed {Rate(s.InsertFailedPerSecond)}/s  invalid {Rate(s.InvalidPerSecond)}/s  search_restart {Rate(s.SearchRestartPerSecond)}/s",
            "usage " + Sparkline(width - 6, out string span) + span,
        };
        if (s.LostEventsTotal is > 0)
        {
            lines.Add(string.Create(c, $"events lost (ENOBUFS): at least {s.LostEventsTotal}; new/s counts low"));
        }

        for (int i = 0; i < lines.Count; i++)
        {
            if (lines[i].Length > width)
            {
                lines[i] = lines[i][..width];
            }
        }

        return lines;

        string Sparkline(int room, out string suffix)
        {
            double[] values = [.. _usage];
            int n = Math.Min(values.Length, Math.Max(1, room - 12));
            double lo = double.MaxValue, hi = double.MinValue;
            for (int i = values.Length - n; i < values.Length; i++)
            {
                lo = Math.Min(lo, values[i]);
                hi = Math.Max(hi, values[i]);
            }

            var text = new StringBuilder(n);
            for (int i = values.Length - n; i < values.Length; i++)
            {
                int level = hi - lo < 1e-9 ? 0 : (int)Math.Round((values[i] - lo) / (hi - lo) * (Ticks.Length - 1));
                text.Append(Ticks[level]);
            }

            suffix = string.Create(c, $" {lo:0.##}-{hi:0.##} %, {TimeSpan.FromSeconds(n * interval.TotalSeconds):g}");
            return text.ToString();
        }
    }
}
