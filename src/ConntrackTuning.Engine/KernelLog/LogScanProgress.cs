using ConntrackTuning.Engine.Progress;

namespace ConntrackTuning.Engine.KernelLog;

/// <summary>
/// How far a scan of several log inputs has got: bytes of the total when every input is a file of known size
/// (rotated sets, .gz files counted by their compressed size), else inputs of the total (the journal and the
/// ring buffer have no size to count against), with the input being read and its number in the status line.
/// </summary>
internal sealed class LogScanProgress : IDisposable
{
    internal const string Title = "Reading the kernel log";

    private readonly ProgressReporter _reporter;
    private readonly int _inputs;
    private readonly bool _bytes;
    private long _done;
    private long _position;
    private int _index;
    private string _name = "";
    private LogInput? _open;

    public LogScanProgress(IEngineLog log, IReadOnlyCollection<LogInput> inputs, Func<long>? clock = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        _inputs = inputs.Count;
        _bytes = inputs.Count > 0 && inputs.All(i => i.Length is not null);
        long total = _bytes ? inputs.Sum(i => i.Length!.Value) : inputs.Count;
        _reporter = new ProgressReporter(log, EngineActivity.ScanKernelLog, Title, total, Status, clock);
        Advanced = Advance;
    }

    /// <summary>Handed to the input being read: how many of its bytes have been read.</summary>
    public Action<long> Advanced { get; }

    public void Begin(LogInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (_open is not null)
        {
            // The previous input failed part-way (one error, and the scan goes on): it counts as read.
            End(_open);
        }

        _open = input;
        _index++;
        _name = input.Name;
        _position = 0;
        Report();
    }

    public void End(LogInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        _open = null;
        _done += _bytes ? input.Length ?? 0 : 1;
        _position = 0;
        Report();
    }

    public void Dispose() => _reporter.Dispose();

    private void Advance(long position)
    {
        _position = position;
        Report();
    }

    private void Report() => _reporter.Report(_bytes ? _done + _position : _done);

    private string Status(long current, long total) => _bytes
        ? string.Format(CultureInfo.InvariantCulture, "{0} (file {1} of {2}): {3} of {4}", _name, _index, _inputs, Size(current), Size(total))
        : string.Format(CultureInfo.InvariantCulture, "{0} ({1} of {2}): {3} read", _name, _index, _inputs, Size(_position));

    internal static string Size(long bytes) => bytes >= 10L << 20
        ? (bytes >> 20).ToString("N0", CultureInfo.InvariantCulture) + " MB"
        : (bytes / 1024.0 / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " MB";
}
