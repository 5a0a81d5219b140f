using System.Diagnostics;
using ConntrackTuning.Engine.Events;

namespace ConntrackTuning.Commands;

/// <summary>
/// Get-ConntrackEvent: the kernel's connection-tracking events (new, update, destroy, expectations) as they
/// happen, filtered like Get-ConntrackEntry, until -Duration, -Count or Ctrl+C; with -Summary, the rate of new
/// connections and who opens them. Lost events (receive-queue overruns) are warned at once and counted.
/// </summary>
[Cmdlet(VerbsCommon.Get, "ConntrackEvent", DefaultParameterSetName = EventsSet)]
[OutputType(typeof(ConntrackEvent), ParameterSetName = [EventsSet])]
[OutputType(typeof(ConntrackEventSummary), ParameterSetName = [SummarySet])]
public sealed class GetConntrackEventCommand : ConntrackFilterCmdlet
{
    private const string EventsSet = "Events";
    private const string SummarySet = "Summary";

    private long _lastWarnedOverruns;
    private long _lastWarnTicks;

    /// <summary>The event types to receive; the kernel sends only these. Default: New, Update, Destroy (New, Destroy with -Summary).</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public ConntrackEventType[]? EventType { get; set; }

    /// <summary>Stop after this long (seconds, or a TimeSpan).</summary>
    [Parameter]
    [SecondsTransformation]
    public TimeSpan Duration { get; set; }

    /// <summary>Stop after this many events passed the filters.</summary>
    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long Count { get; set; }

    /// <summary>The receive queue to ask the kernel for, in bytes (default 8 MiB, which grows on overruns; a size given here stays).</summary>
    [Parameter]
    [ValidateRange(1024, 1 << 30)]
    public int ReceiveBufferBytes { get; set; }

    /// <summary>Write one summary at the end instead of the events: new connections per second and who opens them.</summary>
    [Parameter(Mandatory = true, ParameterSetName = SummarySet)]
    public SwitchParameter Summary { get; set; }

    [Parameter(ParameterSetName = SummarySet)]
    [ValidateRange(1, 10000)]
    public int Top { get; set; } = 10;

    /// <summary>Also store the summary in this variable: it is set even when Ctrl+C stops the command, when nothing more can be written to the pipeline.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? SummaryVariable { get; set; }

    /// <summary>
    /// The network namespace to listen in, by ip netns name, inode, process id or nsfs path; binds by property name
    /// from Get-ConntrackNamespace. The running system only; one namespace per listener.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    protected override void ProcessRecord() => KeepListenerNamespace(NetworkNamespace);

    // The event socket is created inside the namespace (and nf_conntrack_events is read there): only its events arrive.
    protected override void EndProcessing() => ListenInOneNetworkNamespace("Get-ConntrackEvent", Listen);

    private void Listen()
    {
        ConntrackKernel kernel = ProbeKernel();
        RequireTable(kernel);

        ConntrackEventType[] types = (EventType ?? (Summary ? [ConntrackEventType.New, ConntrackEventType.Destroy] : [ConntrackEventType.New, ConntrackEventType.Update, ConntrackEventType.Destroy]))
            .Distinct().Order().ToArray();
        var options = new EventListenerOptions
        {
            Types = types,
            BufferBytes = MyInvocation.BoundParameters.ContainsKey(nameof(ReceiveBufferBytes)) ? ReceiveBufferBytes : null,
            Filter = Filter,
            Duration = MyInvocation.BoundParameters.ContainsKey(nameof(Duration)) ? Duration : null,
            Count = MyInvocation.BoundParameters.ContainsKey(nameof(Count)) ? Count : null,
            Summarize = Summary,
        };
        using EventListener listener = EventListener.Open(kernel.SystemRoot, options);
        var progress = new ProgressRecord(1, "Get-ConntrackEvent", "Listening to connection-tracking events");
        try
        {
            listener.Run(Emit, OnOverrun, Cancellation, elapsed =>
            {
                if (Summary && !Stopping)
                {
                    progress.StatusDescription = string.Create(CultureInfo.InvariantCulture,
                        $"{listener.Received} events, {listener.MatchedNew} new connections, {listener.Overruns} overruns in {elapsed.TotalSeconds:0} s");
                    if (options.Duration is { } d && d > TimeSpan.Zero)
                    {
                        progress.PercentComplete = (int)Math.Min(100, 100 * elapsed.TotalSeconds / d.TotalSeconds);
                    }

                    WriteProgress(progress);
                }
            });
        }
        catch (PipelineStoppedException)
        {
            // Stopped between the check and the write; the summary still goes to the host and the variable below.
        }

        ConntrackEventSummary summary = listener.Summary(Top);
        if (SummaryVariable is { } name)
        {
            SessionState.PSVariable.Set(name, summary);
        }

        if (Stopping || Cancellation.IsCancellationRequested)
        {
            // After Ctrl+C the pipeline takes no more objects; the host still shows what the window saw.
            Host?.UI?.WriteLine(Describe(summary));
            return;
        }

        if (Summary)
        {
            progress.RecordType = ProgressRecordType.Completed;
            WriteProgress(progress);
        }

        if (summary.Overruns > 0)
        {
            WriteWarning(LossText(summary.Overruns, summary.LostEvents, summary));
        }

        WriteVerbose(Describe(summary));
        if (Summary)
        {
            WriteObject(summary);
        }
    }

    private bool Emit(ref EventRecord e, DateTimeOffset received)
    {
        if (Stopping)
        {
            return false;
        }

        if (!Summary)
        {
            WriteObject(new ConntrackEvent(ref e, received));
        }

        return true;
    }

    // The first overrun is warned at once; later ones at most once a second, with the running count.
    private void OnOverrun(long overruns)
    {
        long now = Stopwatch.GetTimestamp();
        if (_lastWarnedOverruns == 0 || now - _lastWarnTicks >= Stopwatch.Frequency)
        {
            _lastWarnedOverruns = overruns;
            _lastWarnTicks = now;
            if (!Stopping)
            {
                string advice = MyInvocation.BoundParameters.ContainsKey(nameof(ReceiveBufferBytes))
                    ? string.Create(CultureInfo.InvariantCulture, $"Give a larger -ReceiveBufferBytes than {ReceiveBufferBytes}, or fewer -EventType.")
                    : "The queue is doubled each time; fewer -EventType (New only) also helps.";
                WriteWarning(string.Create(CultureInfo.InvariantCulture,
                    $"Events lost: the kernel's receive queue overflowed (ENOBUFS), {overruns} time(s) so far; each lost one or more events, and the kernel does not say how many. {advice}"));
            }
        }
    }

    private static string LossText(long overruns, long lost, ConntrackEventSummary s) => string.Create(CultureInfo.InvariantCulture,
        $"{overruns} receive-queue overrun(s) (ENOBUFS): at least {lost} event(s) were lost{(s.LostEstimate is { } e ? $" (estimate from the entry count: {e})" : "")}; the receive queue ended at {s.ReceiveBufferBytes} bytes.");

    internal static string Describe(ConntrackEventSummary s)
    {
        string who = s.TopSources.Count == 0 ? "" : "; top sources: " + string.Join(", ", s.TopSources.Take(3).Select(t => $"{t.Source} ({t.Count})"));
        return string.Create(CultureInfo.InvariantCulture,
            $"Get-ConntrackEvent ({s.EndedBy}): {s.Received} events in {s.Seconds:0.###} s (New {s.New}, Update {s.Update}, Destroy {s.Destroy}, ExpectNew {s.ExpectNew}, ExpectDestroy {s.ExpectDestroy}), {s.Matched} matched, {s.NewPerSecond} new/s; {s.Overruns} overruns, at least {s.LostEvents} lost; receive queue {s.ReceiveBufferBytes} bytes{who}.");
    }
}
