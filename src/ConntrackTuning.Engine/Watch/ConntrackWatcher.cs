using System.Diagnostics;
using ConntrackTuning.Engine.Events;
using ConntrackTuning.Engine.Limits;
using ConntrackTuning.Engine.Metrics;
using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning.Engine.Watch;

/// <summary>
/// Samples a table over time: the count and max from their files, the statistics counters (procfs or
/// ctnetlink), and new connections from a New-event subscription that runs on a thread of its own between
/// samples. Each <see cref="Take"/> turns the differences since the previous one into rates and feeds the
/// count to the forecast.
/// </summary>
internal sealed class ConntrackWatcher : IDisposable
{
    private readonly ConntrackKernel _kernel;
    private readonly string? _networkNamespace;
    private readonly TrendForecast _trend;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource _stop = new();
    private EventListener? _events;
    private Thread? _thread;
    private int _samples;
    private double _lastSeconds;
    private long? _lastCount;
    private long _lastNew;
    private ConntrackStatistic? _lastStatistics;

    public ConntrackWatcher(ConntrackKernel kernel, TimeSpan forecastWindow)
    {
        _kernel = kernel ?? throw new ArgumentNullException(nameof(kernel));
        _networkNamespace = Namespaces.NamespaceContext.CurrentInode;
        _trend = new TrendForecast(forecastWindow);
    }

    /// <summary>Why new connections per second cannot be given (the subscription failed), or null.</summary>
    public string? EventsUnavailable { get; private set; }

    /// <summary>A failure of the statistics read, once, so it is warned once.</summary>
    public string? StatisticsUnavailable { get; private set; }

    public long? Overruns => _events?.Overruns;

    /// <summary>Opens the New-event subscription and starts reading it; a failure leaves the rate out and says why.</summary>
    public void StartEvents(int? bufferBytes)
    {
        try
        {
            _events = EventListener.Open(_kernel.SystemRoot, new EventListenerOptions { Types = [ConntrackEventType.New], BufferBytes = bufferBytes });
        }
        catch (ConntrackException e)
        {
            EventsUnavailable = e.Message;
            return;
        }

        EventListener listener = _events;
        _thread = new Thread(() =>
        {
            try
            {
                listener.Run(static (ref EventRecord _, DateTimeOffset _) => true, static _ => { }, _stop.Token);
            }
            catch (Exception e) when (e is Netlink.NetlinkErrnoException or ObjectDisposedException)
            {
                EventsUnavailable = "the event subscription failed: " + e.Message;
            }
        })
        { IsBackground = true, Name = "Watch-Conntrack events" };
        _thread.Start();
    }

    public ConntrackWatchSample Take()
    {
        SystemRoot root = _kernel.SystemRoot;
        double now = _clock.Elapsed.TotalSeconds;
        long? count = _kernel.CountPathFound is { } c ? root.TryReadInt64(c) : null;
        long? max = _kernel.MaxPathsFound.Count > 0 ? root.TryReadInt64(_kernel.MaxPathsFound[0]) : null;
        ConntrackStatistic? statistics = null;
        try
        {
            statistics = ConntrackStatistic.Sum(StatisticsReader.Read(_kernel), _kernel);
        }
        catch (ConntrackException e)
        {
            StatisticsUnavailable ??= e.Message;
        }

        count ??= statistics?.Entries;
        long? newTotal = EventsUnavailable is null ? _events?.NewSoFar : null;
        _samples++;
        double seconds = now - _lastSeconds;
        bool first = _samples == 1;
        double? Rate(long? current, long? previous) => first || seconds <= 0 || current is null || previous is null ? null : Rounded((current.Value - previous.Value) / seconds);

        if (count is { } counted)
        {
            _trend.Add(now, counted);
        }

        double? untilFull = _trend.SecondsUntilFull(max);
        var sample = new ConntrackWatchSample
        {
            Sample = _samples,
            Time = DateTimeOffset.UtcNow,
            Seconds = Math.Round(first ? 0 : seconds, 3),
            Count = count,
            Max = max,
            UsagePercent = TableRatios.UsagePercent(count, max),
            GrowthPerSecond = Rate(count, _lastCount),
            TrendPerSecond = _trend.Fit() is { } fit ? Rounded(fit.Slope) : null,
            NewPerSecond = newTotal is null ? null : Rate(newTotal, _lastNew),
            DropPerSecond = Rate(statistics?.Drop, _lastStatistics?.Drop),
            EarlyDropPerSecond = Rate(statistics?.EarlyDrop, _lastStatistics?.EarlyDrop),
            InsertFailedPerSecond = Rate(statistics?.InsertFailed, _lastStatistics?.InsertFailed),
            InvalidPerSecond = Rate(statistics?.Invalid, _lastStatistics?.Invalid),
            SearchRestartPerSecond = Rate(statistics?.SearchRestart, _lastStatistics?.SearchRestart),
            SecondsUntilFull = untilFull is { } s ? Math.Round(s, 1) : null,
            FullAt = untilFull is { } f && f < TimeSpan.MaxValue.TotalSeconds / 4 ? DateTimeOffset.UtcNow.AddSeconds(f) : null,
            Forecast = TrendForecast.Describe(untilFull),
            NewConnectionsTotal = newTotal,
            LostEventsTotal = EventsUnavailable is null ? _events?.Overruns : null,
            NetworkNamespace = _networkNamespace,
            Root = _kernel.Root,
        };
        _lastSeconds = now;
        _lastCount = count;
        _lastNew = newTotal ?? 0;
        _lastStatistics = statistics ?? _lastStatistics;
        return sample;
    }

    /// <summary>
    /// The node_exporter textfile of a sample: the table and counter metrics of Export-ConntrackMetric under the
    /// same names, and what only a long-running listener has: new connections and lost events, totals since the
    /// watch started (counters), the rates and the forecast (gauges).
    /// </summary>
    public string Metrics(ConntrackWatchSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        var samples = new List<ConntrackMetric>(MetricRows.Length);
        foreach ((string name, string type, string help, Func<ConntrackWatchSample, ConntrackStatistic?, double?> value) in MetricRows)
        {
            if (value(sample, _lastStatistics) is { } v)
            {
                samples.Add(MetricCollector.Sample(_kernel, name, type, help, v));
            }
        }

        return Exposition.Render(samples);
    }

    /// <summary>
    /// A rate to <paramref name="digits"/> decimals, where a fall that rounds to nothing is 0, not the -0 Math.Round
    /// leaves (which prints as "-0" on the screen, in JSON and in the textfile).
    /// </summary>
    internal static double Rounded(double perSecond, int digits = 2) => Math.Round(perSecond, digits) is var r && r != 0 ? r : 0;

    /// <summary>
    /// The textfile's families in the order written, each with its value from the sample and the statistics last read;
    /// a family whose value is null is left out of that sample's file.
    /// </summary>
    private static readonly (string Name, string Type, string Help, Func<ConntrackWatchSample, ConntrackStatistic?, double?> Value)[] MetricRows =
    [
        ("watch_timestamp_seconds", MetricCollector.Gauge,
            "When Watch-Conntrack took these values, in seconds since the Unix epoch. Alert when it grows old: the watch has stopped.",
            (s, _) => s.Time.ToUnixTimeMilliseconds() / 1000.0),
        ("entries", MetricCollector.Gauge, MetricCollector.EntriesHelp, (s, _) => s.Count),
        ("entries_limit", MetricCollector.Gauge, MetricCollector.EntriesLimitHelp, (s, _) => s.Max),
        ("usage_ratio", MetricCollector.Gauge, MetricCollector.UsageRatioHelp, (s, _) => TableRatios.UsageRatio(s.Count, s.Max)),
        .. MetricCollector.StatCounters.Select(c => ($"stat_{c.Name}_total", MetricCollector.Counter, c.Help,
            (Func<ConntrackWatchSample, ConntrackStatistic?, double?>)((_, statistics) => statistics is null ? null : c.Value(statistics)))),
        ("new_connections_total", MetricCollector.Counter,
            "New connections (ctnetlink New events) received since Watch-Conntrack started; the kernel's own new counter is always 0 on current kernels. Use rate() for new connections per second.",
            (s, _) => s.NewConnectionsTotal),
        ("events_lost_total", MetricCollector.Counter,
            "Connection-tracking events lost since Watch-Conntrack started, at least: receive-queue overruns (ENOBUFS), each of which lost one or more events. Above 0, new_connections_total counts low.",
            (s, _) => s.LostEventsTotal),
        ("entries_trend_per_second", MetricCollector.Gauge,
            "Growth of the entry count per second: the least-squares slope over Watch-Conntrack's forecast window.", (s, _) => s.TrendPerSecond),
        ("seconds_until_full", MetricCollector.Gauge,
            "Seconds until the entry count reaches the limit at the current trend; left out while the table is not filling.", (s, _) => s.SecondsUntilFull),
    ];

    public void Dispose()
    {
        _stop.Cancel();
        _thread?.Join(TimeSpan.FromMilliseconds(500));
        _events?.Dispose();
        _stop.Dispose();
    }
}
