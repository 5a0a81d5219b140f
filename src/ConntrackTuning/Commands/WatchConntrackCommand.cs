using System.Diagnostics;
using ConntrackTuning.Engine.Metrics;
using ConntrackTuning.Engine.Watch;

namespace ConntrackTuning.Commands;

/// <summary>
/// Watch-Conntrack: samples the table every -Interval until -Count, -Duration or Ctrl+C: usage, growth, new
/// connections per second (events), the drop counters' rates and when the table is full at the current trend.
/// In a terminal it redraws one compact view; in a pipeline (or with -AsObject) it writes one sample per
/// interval. -MetricsPath also rewrites a node_exporter textfile at each interval.
/// </summary>
[Cmdlet(VerbsCommon.Watch, "Conntrack", SupportsShouldProcess = true, DefaultParameterSetName = WatchSet)]
[OutputType(typeof(ConntrackWatchSample))]
public sealed class WatchConntrackCommand : ConntrackReadCmdlet
{
    // The metrics file by -MetricsPath or by -LiteralPath, not both: PowerShell refuses the two together.
    private const string WatchSet = "Watch";
    private const string MetricsPathSet = "MetricsPath";
    private const string LiteralPathSet = "LiteralPath";

    /// <summary>Time between samples (seconds, or a TimeSpan).</summary>
    [Parameter(Position = 0)]
    [SecondsTransformation]
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Stop after this many samples.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Count { get; set; }

    /// <summary>Stop after this long.</summary>
    [Parameter]
    [SecondsTransformation]
    public TimeSpan Duration { get; set; }

    /// <summary>How far back the trend line of the forecast looks.</summary>
    [Parameter]
    [SecondsTransformation]
    public TimeSpan ForecastWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Write sample objects even in a terminal, instead of redrawing the view.</summary>
    [Parameter]
    public SwitchParameter AsObject { get; set; }

    /// <summary>A node_exporter textfile (.prom) to rewrite atomically at each interval; wildcards name the one existing file they match.</summary>
    [Parameter(Mandatory = true, ParameterSetName = MetricsPathSet)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string? MetricsPath { get; set; }

    /// <summary>The textfile of -MetricsPath named exactly as written (brackets, * and ? are part of the name).</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string? LiteralPath { get; set; }

    /// <summary>
    /// The network namespace to watch, by ip netns name, inode, process id or nsfs path; binds by property name from
    /// Get-ConntrackNamespace. The running system only; one namespace per watch.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    protected override void ProcessRecord() => KeepListenerNamespace(NetworkNamespace);

    // The count and statistics files and the New-event socket are all opened inside the namespace.
    protected override void EndProcessing() => ListenInOneNetworkNamespace("Watch-Conntrack", Watch);

    private void Watch()
    {
        if (Interval < TimeSpan.FromMilliseconds(100))
        {
            throw new ConntrackException(ErrorIds.InvalidWatchInterval, ErrorKind.InvalidArgument,
                $"-Interval {Interval.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s is too short; the shortest is 0.1 s.", nameof(Interval),
                "Give -Interval 1 or more (seconds); the default is 2.");
        }

        ConntrackKernel kernel = ProbeKernel();
        RequireTable(kernel);

        string? metrics = ParameterSetName switch
        {
            MetricsPathSet => ResolveDestinationPath(MetricsPath!, literal: false, PathUse.MetricFile),
            LiteralPathSet => ResolveDestinationPath(LiteralPath!, literal: true, PathUse.MetricFile),
            _ => null,
        };
        if (metrics is not null)
        {
            MetricFile.CheckDestination(metrics);
            if (!ShouldProcess($"Rewrite {metrics} at every interval with the watch's metrics", $"Rewrite {metrics} at every interval?", "Watch conntrack"))
            {
                metrics = null;
            }
        }

        SystemRoot? metricsFileSystem = metrics is null ? null : MetricFile.OpenFileSystem(this);

        bool draw = !AsObject && MyInvocation.PipelinePosition == MyInvocation.PipelineLength && !Console.IsOutputRedirected
            && Host?.UI?.RawUI is not null && Host.UI.SupportsVirtualTerminal && Host.Name != "Default Host";
        using var watcher = new ConntrackWatcher(kernel, ForecastWindow);
        watcher.StartEvents(null);
        if (watcher.EventsUnavailable is { } why)
        {
            WriteWarning($"New connections per second are left out: {why}");
        }
        else
        {
            WriteVerbose("Listening to New events for the rate of new connections.");
        }

        var screen = new WatchScreen();
        int drawn = 0;
        long warnedLost = 0;
        bool warnedStatistics = false;
        var clock = Stopwatch.StartNew();
        TimeSpan? deadline = MyInvocation.BoundParameters.ContainsKey(nameof(Duration)) ? Duration : null;
        for (int taken = 0; ; )
        {
            ConntrackWatchSample sample = watcher.Take();
            taken++;
            if (watcher.StatisticsUnavailable is { } s && !warnedStatistics)
            {
                warnedStatistics = true;
                WriteWarning($"The drop and trouble rates are left out: {s}");
            }

            // The write says so itself (verbose "Wrote ... atomically"), once per interval.
            if (metrics is not null)
            {
                MetricFile.Write(metrics, watcher.Metrics(sample), metricsFileSystem!);
            }

            if (draw)
            {
                screen.Add(sample);
                drawn = Draw(screen.Render(sample, Host!.UI.RawUI!.WindowSize.Width, Interval), drawn);
            }
            else
            {
                if (sample.LostEventsTotal is { } lost && lost > warnedLost)
                {
                    warnedLost = lost;
                    WriteWarning($"Events lost: {lost} receive-queue overrun(s) (ENOBUFS) since the watch started; NewPerSecond counts low.");
                }

                WriteObject(sample);
            }

            if ((MyInvocation.BoundParameters.ContainsKey(nameof(Count)) && taken >= Count) || (deadline is { } d && clock.Elapsed >= d))
            {
                break;
            }

            // The next sample is due one interval after the previous was due, so the intervals do not drift.
            TimeSpan wait = Interval * taken - clock.Elapsed;
            if (deadline is { } end && end - clock.Elapsed < wait)
            {
                wait = end - clock.Elapsed;
            }

            if (wait > TimeSpan.Zero && Cancellation.WaitHandle.WaitOne(wait))
            {
                break;
            }

            if (Cancellation.IsCancellationRequested)
            {
                break;
            }
        }

        if (draw && Stopping)
        {
            Host!.UI?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Watch-Conntrack stopped after {clock.Elapsed.TotalSeconds:0.#} s."));
        }
    }

    // Redraws the view over the previous one: cursor up to its first line, each line cleared to its end.
    private int Draw(IReadOnlyList<string> lines, int previous)
    {
        var text = new StringBuilder();
        if (previous > 0)
        {
            text.Append("\u001b[").Append(previous.ToString(CultureInfo.InvariantCulture)).Append('F');
        }

        foreach (string line in lines)
        {
            text.Append(line).Append("\u001b[K\n");
        }

        for (int extra = lines.Count; extra < previous; extra++)
        {
            text.Append("\u001b[K\n");
        }

        Host!.UI?.Write(text.ToString());
        return Math.Max(lines.Count, previous);
    }
}
