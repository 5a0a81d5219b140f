namespace ConntrackTuning.Engine.Progress;

/// <summary>
/// The engine's one progress channel: long work calls <see cref="Report"/> as often as it likes (a clock read and
/// a compare when nothing is due), and the log receives at most one record per <see cref="Interval"/>, the first
/// only once the work has run for <see cref="Delay"/> (work that ends sooner shows nothing). Disposing it ends the
/// activity: a Completed record follows whenever a record was shown, also when the work failed or was stopped.
/// Used on the thread that does the work, which is the one PowerShell lets write progress.
/// </summary>
internal sealed class ProgressReporter : IDisposable
{
    /// <summary>Long enough that quick commands never flash a bar; short enough that a second's work shows one.</summary>
    internal static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(400);

    /// <summary>A host redraws no faster than this is useful to read.</summary>
    internal static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    private readonly IEngineLog _log;
    private readonly EngineActivity _activity;
    private readonly string _title;
    private readonly Func<long, long, string> _status;
    private readonly Func<long> _clock;
    private readonly long _started;
    private long _next;
    private long _current;
    private bool _shown;
    private bool _ended;

    /// <param name="log">Where the records go (a cmdlet turns them into ProgressRecords).</param>
    /// <param name="activity">The kind of work; its number is the stable activity id.</param>
    /// <param name="title">The activity as the user reads it: "Reading the kernel log".</param>
    /// <param name="total">Of what <see cref="Report"/> counts; 0 or less when not known.</param>
    /// <param name="status">The status line for (current, total), built only when a record is due.</param>
    /// <param name="clock">Milliseconds of a monotonic clock; tests pass their own.</param>
    public ProgressReporter(IEngineLog log, EngineActivity activity, string title, long total, Func<long, long, string> status, Func<long>? clock = null)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(status);
        _log = log;
        _activity = activity;
        _title = title;
        _status = status;
        _clock = clock ?? (() => Environment.TickCount64);
        _started = _clock();
        _next = _started + (long)Delay.TotalMilliseconds;
        Total = total;
    }

    /// <summary>Of what the work counts; may be learned or corrected after the start.</summary>
    public long Total { get; set; }

    /// <summary>Whether a record has reached the log (so the Completed record will too).</summary>
    public bool Shown => _shown;

    /// <summary>Where the work is; a record reaches the log when one is due.</summary>
    public void Report(long current)
    {
        _current = current;
        long now = _clock();
        if (now < _next || _ended)
        {
            return;
        }

        _next = now + (long)Interval.TotalMilliseconds;
        _shown = true;
        long total = Total;
        TimeSpan? remaining = null;
        if (total > 0 && current > 0 && current <= total)
        {
            remaining = TimeSpan.FromMilliseconds((double)(now - _started) * (total - current) / current);
        }

        _log.Progress(new EngineProgress(_activity, _title, _status(current, total), current, total, Completed: false) { Remaining = remaining });
    }

    /// <summary>Ends the activity; the Completed record is sent only when a record was shown.</summary>
    public void Dispose()
    {
        if (_ended)
        {
            return;
        }

        _ended = true;
        if (_shown)
        {
            _log.Progress(new EngineProgress(_activity, _title, _status(_current, Total), _current, Total, Completed: true));
        }
    }
}
