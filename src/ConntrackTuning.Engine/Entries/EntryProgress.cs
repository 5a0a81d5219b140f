using ConntrackTuning.Engine.Progress;

namespace ConntrackTuning.Engine.Entries;

/// <summary>
/// How far a read of the conntrack table has got: entries of the kernel's count (ctnetlink, the procfs file,
/// whose size is unknown until read; the count sysctl is cheap) or bytes of a saved file's size. Entries are
/// counted before the filter, since the count is of the whole table.
/// </summary>
internal sealed class EntryProgress : IDisposable
{
    internal const string Title = "Reading the conntrack table";

    private readonly ProgressReporter _reporter;
    private readonly bool _bytes;
    private long _entries;

    private EntryProgress(IEngineLog log, string source, long total, bool bytes, Func<long>? clock)
    {
        _bytes = bytes;
        _reporter = new ProgressReporter(log, EngineActivity.ReadEntries, Title, total, (current, all) => bytes
            ? string.Format(CultureInfo.InvariantCulture, "{0}: {1:N0} entries, {2:N0} of {3:N0} KiB", source, _entries, current >> 10, all >> 10)
            : all > 0
                ? string.Format(CultureInfo.InvariantCulture, "{0}: {1:N0} of {2:N0} entries", source, current, all)
                : string.Format(CultureInfo.InvariantCulture, "{0}: {1:N0} entries", source, current), clock);
    }

    /// <summary>Entries of <paramref name="count"/> (null or 0 when the kernel's count is not known: no percentage then).</summary>
    public static EntryProgress OfCount(IEngineLog log, string source, long? count, Func<long>? clock = null) =>
        new(log, source, count ?? 0, bytes: false, clock);

    /// <summary>Bytes of a file of <paramref name="length"/> bytes.</summary>
    public static EntryProgress OfBytes(IEngineLog log, string source, long length, Func<long>? clock = null) =>
        new(log, source, length, bytes: true, clock);

    /// <summary>One more entry read. The clock is looked at every 256 entries, so the count costs nothing.</summary>
    public void Entry()
    {
        if ((++_entries & 255) == 0 && !_bytes)
        {
            _reporter.Report(_entries);
        }
    }

    /// <summary>How far into the file the reads have got (for <see cref="OfBytes"/>).</summary>
    public void Bytes(long position)
    {
        if (_bytes)
        {
            _reporter.Report(position);
        }
    }

    /// <summary>A dump started again (it was interrupted or lost messages): the count starts again too.</summary>
    public void Restart() => _entries = 0;

    public void Dispose() => _reporter.Dispose();
}
