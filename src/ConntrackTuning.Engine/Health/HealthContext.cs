using ConntrackTuning.Engine.KernelLog;
using ConntrackTuning.Engine.Limits;
using ConntrackTuning.Engine.Namespaces;
using ConntrackTuning.Engine.Sizing;
using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning.Engine.Health;

/// <summary>
/// What the checks look at, read once and shared: the kernel, its limits, its counters, its log and its TCP
/// timeout. Each value is read on first use; a value that cannot be read keeps the reason instead, so one
/// missing file silences only the checks that need it.
/// </summary>
internal sealed class HealthContext
{
    private readonly Lazy<(ConntrackLimit? Value, string? Error)> _limit;
    private readonly Lazy<(ConntrackStatistic? Value, string? Error)> _statistics;
    private readonly Lazy<(DropEventScanner? Value, IReadOnlyList<string> Sources, string? Error)> _events;
    private readonly Lazy<(long? Seconds, string? Source)> _tcpEstablished;
    private readonly Lazy<EntrySize> _entrySize;
    private readonly Lazy<(ConntrackRecommendation? KernelDefault, ConntrackRecommendation? Balanced, string? Error)> _sizing;

    public HealthContext(ConntrackKernel kernel, HealthOptions options)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(options);
        Kernel = kernel;
        Options = options;
        _limit = new(() => Try(() => LimitReader.Read(kernel)));
        _statistics = new(() => Try(() => ConntrackStatistic.Sum(StatisticsReader.Read(kernel), kernel)));
        _events = new(ReadEvents);
        _before = new(CountBefore);
        _tcpEstablished = new(ReadTcpEstablished);
        _entrySize = new(() => TableMemory.EntrySize(Kernel));
        _sizing = new(Size);
    }

    public ConntrackKernel Kernel { get; }

    /// <summary>
    /// The max and hash size a fix earlier in this run raises the table to (the checks run in list order, the
    /// pressure checks before EntriesPerBucket and Persistence): later fixes of the same table build on them, so
    /// that following every recommendation in order never shrinks what an earlier one raised.
    /// </summary>
    public long? PlannedMax { get; internal set; }

    /// <inheritdoc cref="PlannedMax"/>
    public long? PlannedHashSize { get; internal set; }

    public HealthOptions Options { get; }

    public SystemRoot Root => Kernel.SystemRoot;

    public ConntrackLimit? Limit => _limit.Value.Value;

    public string? LimitError => _limit.Value.Error;

    public ConntrackStatistic? Statistics => _statistics.Value.Value;

    public string? StatisticsError => _statistics.Value.Error;

    public DropEventScanner? Events => _events.Value.Value;

    public IReadOnlyList<string> EventSources => _events.Value.Sources;

    public string? EventsError => _events.Value.Error;

    /// <summary>
    /// The key of this namespace's events in <see cref="DropEventScanner.ByNamespace"/>: "" (messages naming no
    /// namespace) in the initial one, its inode elsewhere.
    /// </summary>
    public string EventKey => Kernel.IsInitialNamespace ? "" : Kernel.NetworkNamespace ?? "?";

    /// <summary>Table-full messages about this namespace's table: those naming its inode since it was born.</summary>
    public long EventsHere => (Events is { } e && e.ByNamespace.TryGetValue(EventKey, out long n) ? n : 0) - EventsBefore;

    /// <summary>
    /// Messages naming this namespace's inode that were logged before it was born (an earlier namespace's, now
    /// gone, whose number the kernel reused); 0 when its birth cannot be read.
    /// </summary>
    public long EventsBefore => _before.Value;

    private readonly Lazy<long> _before;

    public long? TcpEstablishedTimeout => _tcpEstablished.Value.Seconds;

    /// <summary>The bytes of one entry, as Set-ConntrackLimit's memory check takes them (<see cref="TableMemory"/>).</summary>
    public EntrySize EntrySize => _entrySize.Value;

    /// <summary>What this kernel would choose for this RAM by itself (Get-ConntrackRecommendation -Profile KernelDefault).</summary>
    public ConntrackRecommendation? KernelDefault => _sizing.Value.KernelDefault;

    /// <summary>The module's recommended size for this machine (Get-ConntrackRecommendation, profile Balanced).</summary>
    public ConntrackRecommendation? Balanced => _sizing.Value.Balanced;

    public string? SizingError => _sizing.Value.Error;

    public string? TcpEstablishedTimeoutSource => _tcpEstablished.Value.Source;

    /// <summary>The window the log is searched over: the option, else this boot on a live system, else all of it.</summary>
    public TimeWindow LogWindow => Options.LogWindow
        ?? (Root.IsLive && KernelLogSources.BootTime(Root) is { } boot ? new TimeWindow(boot.AddSeconds(-1), null) : TimeWindow.All);

    /// <summary>Where a fix has to be run: global settings belong to the initial namespace.</summary>
    public string OnHost => Kernel.IsInitialNamespace ? "" : " Run it on the host (the initial network namespace): the limit and the hash size are global.";

    private static (T? Value, string? Error) Try<T>(Func<T> read) where T : class
    {
        try
        {
            return (read(), null);
        }
        catch (ConntrackException e)
        {
            return (null, e.Message);
        }
    }

    private long CountBefore()
    {
        if (Kernel.IsInitialNamespace || !Root.IsLive || Events?.TimesByNamespace.GetValueOrDefault(EventKey) is not { } times
            || !ulong.TryParse(EventKey, NumberStyles.None, CultureInfo.InvariantCulture, out ulong inode))
        {
            return 0;
        }

        DateTime? birth = NamespaceContext.Current is { } entered ? NamespaceBirth.Of(entered.Path, entered.Inode) : NamespaceBirth.Of("/proc/self/ns/net", inode);
        return times.Count(t => NamespaceBirth.Predates(t, birth));
    }

    private (DropEventScanner?, IReadOnlyList<string>, string?) ReadEvents()
    {
        try
        {
            IReadOnlyList<LogInput> inputs = DropEventReader.DefaultInputs(Root, LogWindow);
            DropEventScanner scanner = DropEventReader.Scan(inputs, LogWindow, Root.Log);
            return (scanner, inputs.Select(i => i.Name).ToArray(), null);
        }
        catch (Exception e) when (e is ConntrackException or IOException or UnauthorizedAccessException)
        {
            return (null, [], e.Message);
        }
    }

    private (ConntrackRecommendation?, ConntrackRecommendation?, string?) Size()
    {
        try
        {
            // The sizing engine's own warnings (a profile below the current max, and so on) belong to
            // Get-ConntrackRecommendation; here only its numbers are used.
            SizingInputs inputs = SizingInputResolver.Resolve(new RecommendationRequest(), Kernel);
            return (Recommender.Recommend(inputs, RecommendationProfile.KernelDefault, NullEngineLog.Instance),
                Recommender.Recommend(inputs, RecommendationProfile.Balanced, NullEngineLog.Instance), null);
        }
        catch (ConntrackException e)
        {
            return (null, null, e.Message);
        }
    }

    private (long?, string?) ReadTcpEstablished()
    {
        if (Kernel.TimeoutDirectoryFound is not { } dir || Kernel.EraRow.TimeoutPrefix is not { } prefix)
        {
            return (null, null);
        }

        string path = $"{dir}/{prefix}tcp_timeout_established";
        try
        {
            return (Root.TryReadInt64(path), Root.Full(path));
        }
        catch (ConntrackException)
        {
            return (null, Root.Full(path));
        }
    }
}
