namespace ConntrackTuning.Engine.Progress;

/// <summary>
/// A polling wait (for the write lock) that a stop ends at once and that shows, after the reporter's delay, how
/// long it has waited of how long it will: the sleep between polls is a wait on the stop signal's handle, so
/// Ctrl+C wakes it immediately instead of after the poll interval.
/// </summary>
internal sealed class WaitProgress : IDisposable
{
    internal const string Title = "Waiting for the write lock";

    private readonly CancellationToken _cancellation;
    private readonly ProgressReporter _reporter;
    private readonly long _started = Environment.TickCount64;

    public WaitProgress(IEngineLog log, string what, TimeSpan timeout, CancellationToken cancellation)
    {
        _cancellation = cancellation;
        _reporter = new ProgressReporter(log, EngineActivity.WaitForLock, Title, (long)timeout.TotalMilliseconds,
            (current, total) => string.Format(CultureInfo.InvariantCulture, "{0}: waited {1:0} s of at most {2:0} s", what, current / 1000.0, total / 1000.0));
    }

    /// <summary>
    /// Sleeps for <paramref name="interval"/> unless the stop signal comes first. False when it came: the caller
    /// lets go of what it holds and throws (<see cref="CancellationToken.ThrowIfCancellationRequested"/>).
    /// </summary>
    public bool Pause(TimeSpan interval)
    {
        _reporter.Report(Environment.TickCount64 - _started);
        return !_cancellation.IsCancellationRequested && !_cancellation.WaitHandle.WaitOne(interval);
    }

    public void Dispose() => _reporter.Dispose();
}
