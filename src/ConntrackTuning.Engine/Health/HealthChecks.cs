using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using ConntrackTuning.Engine.Persistence;
using ConntrackTuning.Engine.Changes;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.KernelLog;
using ConntrackTuning.Engine.Limits;
using ConntrackTuning.Engine.Platform;
using ConntrackTuning.Engine.Sizing;
using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning.Engine.Health;

/// <summary>How bad a finding is. The order is the point: a larger value is worse.</summary>
internal enum HealthSeverity
{
    Ok = 0,
    Info = 1,
    Warning = 2,
    Critical = 3,
}

/// <summary>The thresholds of the checks, from Test-ConntrackHealth's parameters.</summary>
internal sealed record HealthOptions
{
    public double WarningPercent { get; init; } = 75;

    public double CriticalPercent { get; init; } = 90;

    /// <summary>The seed's advice: at most 8 entries per bucket when the table is full.</summary>
    public double MaxEntriesPerBucket { get; init; } = 8;

    /// <summary>The time the log is searched over; null for the checks' default (this boot when live, the whole log of a tree).</summary>
    public TimeWindow? LogWindow { get; init; }

    public void Validate()
    {
        static ConntrackException Bad(string message, string target, string action) =>
            new(ErrorIds.InvalidThreshold, ErrorKind.InvalidArgument, message, target, action);

        foreach ((string name, double value) in new[] { ("WarningPercent", WarningPercent), ("CriticalPercent", CriticalPercent) })
        {
            if (double.IsNaN(value) || value <= 0 || value > 100)
            {
                throw Bad($"-{name} {value.ToString(CultureInfo.InvariantCulture)} is not a percentage above 0 and at most 100.", name,
                    $"Give -{name} a value such as {(name == "WarningPercent" ? 75 : 90)}.");
            }
        }

        if (WarningPercent > CriticalPercent)
        {
            throw Bad($"-WarningPercent {WarningPercent.ToString(CultureInfo.InvariantCulture)} is above -CriticalPercent {CriticalPercent.ToString(CultureInfo.InvariantCulture)}; a table would be critical before it is a warning.",
                "WarningPercent", "Give a -WarningPercent no higher than -CriticalPercent (the defaults are 75 and 90).");
        }

        if (double.IsNaN(MaxEntriesPerBucket) || MaxEntriesPerBucket <= 0)
        {
            throw Bad($"-MaxEntriesPerBucket {MaxEntriesPerBucket.ToString(CultureInfo.InvariantCulture)} must be above 0.", "MaxEntriesPerBucket",
                "Give -MaxEntriesPerBucket a value such as 8 (the classic default) or 1 (one entry per bucket).");
        }
    }
}

/// <summary>What one check concluded.</summary>
internal sealed record HealthResult(HealthSeverity Severity, string Message, string? Recommendation = null, string? Evidence = null);

/// <summary>One check: a name and a function of the shared context. Adding a check is adding one of these to the list.</summary>
internal sealed record HealthCheck(string Name, Func<HealthContext, IEnumerable<HealthResult>> Run);

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
        _tcpEstablished = new(ReadTcpEstablished);
        _sizing = new(Size);
    }

    public ConntrackKernel Kernel { get; }

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

    /// <summary>Table-full messages about this namespace's table.</summary>
    public long EventsHere => Events is { } e && e.ByNamespace.TryGetValue(EventKey, out long n) ? n : 0;

    public long? TcpEstablishedTimeout => _tcpEstablished.Value.Seconds;

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

    private (DropEventScanner?, IReadOnlyList<string>, string?) ReadEvents()
    {
        try
        {
            IReadOnlyList<LogInput> inputs = DropEventReader.DefaultInputs(Root, LogWindow);
            DropEventScanner scanner = DropEventReader.Scan(inputs, LogWindow);
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
            SizingInputs inputs = Recommender.Resolve(new RecommendationRequest(), Kernel);
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

/// <summary>
/// The commands a finding recommends, and the sizes in them: Get-ConntrackRecommendation's Balanced size when
/// it is larger than the current max, else a simple rule (double what is used, a power of two, a quarter of
/// RAM at most), so that Test-ConntrackHealth and Get-ConntrackRecommendation agree.
/// </summary>
internal static class Remedy
{
    /// <summary>The established timeout to suggest: kube-proxy's 24 hours keeps idle but live connections (SSH, database pools) tracked.</summary>
    public const int TcpEstablishedSeconds = 86400;

    public static string SetMax(long max) => $"Set-ConntrackLimit -Max {max.ToString(CultureInfo.InvariantCulture)} -Persist";

    /// <summary>
    /// Applied now and persisted; where the running hash cannot be resized (2.4, early 2.6), persisted only, which is
    /// all such a kernel allows: the size takes effect when the module loads at the next boot.
    /// </summary>
    public static string SetHashSize(long size, ConntrackKernel kernel) =>
        SettingWriter.HashFixedWhileLoaded(kernel) ? PersistHashSize(size) : $"Set-ConntrackHashSize -HashSize {size.ToString(CultureInfo.InvariantCulture)} -Persist";

    /// <summary>Writes only the configuration, so the next boot applies the value that runs now.</summary>
    public static string PersistMax(long max) => $"Set-ConntrackLimit -Max {max.ToString(CultureInfo.InvariantCulture)} -PersistOnly";

    public static string PersistHashSize(long size) => $"Set-ConntrackHashSize -HashSize {size.ToString(CultureInfo.InvariantCulture)} -PersistOnly";

    public static string SetTcpEstablished(long seconds) =>
        $"Set-ConntrackTimeout -Protocol tcp -State established -Seconds {seconds.ToString(CultureInfo.InvariantCulture)} -Persist";

    /// <summary>
    /// Room for twice the current size and twice the current count, as a power of two, but no more than a
    /// quarter of RAM would hold; null when even that is no larger than the current max.
    /// </summary>
    public static long? SuggestMax(HealthContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        ConntrackLimit? limit = context.Limit;
        long max = limit?.Max ?? 0;
        long count = limit?.Count ?? 0;
        if (context.Balanced is { } balanced && balanced.Max > max && balanced.Max >= 2 * count)
        {
            return balanced.Max;
        }

        long wanted = NextPowerOfTwo(Math.Max(Math.Max(max, count) * 2, 1024));
        if (context.Kernel.MemoryBytes is { } memory && memory > 0)
        {
            int entry = EntryBytes(context.Kernel);
            long cap = PreviousPowerOfTwo(memory / 4 / entry);
            wanted = Math.Min(wanted, cap);
        }

        return wanted > max ? wanted : null;
    }

    /// <summary>
    /// One bucket per entry, as the kernel itself sizes the table since 5.15 (a bucket costs one or two
    /// pointers): a power of two, or a prime before 2.4.21, whose additive hash spreads well only over a prime.
    /// The Balanced recommendation's hash size when the max is its max.
    /// </summary>
    public static long SuggestHashSize(long max, HealthContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Balanced is { } balanced && balanced.Max == max)
        {
            return balanced.HashSize;
        }

        ConntrackKernel kernel = context.Kernel;
        long target = Math.Max(max, 1024);
        return kernel.EraRow.HashShape == HashShape.Prime ? NextPrime(target) : NextPowerOfTwo(target);
    }

    internal static long NextPrime(long value)
    {
        for (long n = Math.Max(value, 2); ; n++)
        {
            bool prime = n == 2 || n % 2 != 0;
            for (long d = 3; prime && d * d <= n; d += 2)
            {
                prime = n % d != 0;
            }

            if (prime)
            {
                return n;
            }
        }
    }

    /// <summary>The fix for a table that is too small: a larger max, with the hash size when the chains would grow past the threshold.</summary>
    public static string? RaiseMax(HealthContext context)
    {
        if (SuggestMax(context) is not { } max)
        {
            return context.TcpEstablishedTimeout is > TcpEstablishedSeconds ? SetTcpEstablished(TcpEstablishedSeconds) : null;
        }

        string command = SetMax(max);
        if (context.Limit?.HashSize is { } hash && hash > 0 && (double)max / hash > context.Options.MaxEntriesPerBucket)
        {
            command += "; " + SetHashSize(SuggestHashSize(max, context), context.Kernel);
        }

        return command;
    }

    internal static int EntryBytes(ConntrackKernel kernel) =>
        (kernel.PointerBits == 32 ? kernel.EraRow.EstimatedEntrySize32 : kernel.EraRow.EstimatedEntrySize64) + (kernel.PointerBits == 32 ? 4 : 8);

    internal static long NextPowerOfTwo(long value)
    {
        long p = 1;
        while (p < value && p < (1L << 40))
        {
            p <<= 1;
        }

        return p;
    }

    internal static long PreviousPowerOfTwo(long value)
    {
        long p = 1;
        while (p * 2 <= value && p < (1L << 40))
        {
            p <<= 1;
        }

        return p;
    }
}

/// <summary>
/// Every check Test-ConntrackHealth runs, in the order of its output. A check is a small function of the
/// shared <see cref="HealthContext"/>; it yields nothing when what it needs is missing (the Statistics and
/// KernelLog checks say why once). A check that needs another engine (the persisted configuration, next) is
/// one more entry in <see cref="Default"/>.
/// </summary>
internal static class HealthChecks
{
    public static IReadOnlyList<HealthCheck> Default { get; } =
    [
        new("Loaded", Loaded),
        new("Namespace", Namespace),
        new("Usage", Usage),
        new("KernelDefault", KernelDefaultCheck),
        new("Statistics", Statistics),
        new("Drop", Drop),
        new("EarlyDrop", EarlyDrop),
        new("InsertFailed", InsertFailed),
        new("KernelLog", KernelLog),
        new("TableFullEvents", TableFullEvents),
        new("EntriesPerBucket", EntriesPerBucket),
        new("TcpEstablishedTimeout", TcpEstablishedTimeout),
        new("Persistence", Persistence),
        new("BootOrder", BootOrder),
    ];

    public static IEnumerable<ConntrackHealthFinding> Run(HealthContext context, IReadOnlyList<HealthCheck>? checks = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        foreach (HealthCheck check in checks ?? Default)
        {
            if (!context.Kernel.IsLoaded && check.Name != "Loaded")
            {
                continue;
            }

            foreach (HealthResult r in check.Run(context))
            {
                yield return new ConntrackHealthFinding
                {
                    Severity = r.Severity.ToString(),
                    SeverityLevel = (int)r.Severity,
                    Check = check.Name,
                    Message = r.Message,
                    Recommendation = r.Recommendation,
                    Evidence = r.Evidence,
                    NetworkNamespace = context.Kernel.NetworkNamespace,
                    Root = context.Kernel.Root,
                };
            }
        }
    }

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string P(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    private static string Entries(double count) => count == 1 ? "entry" : "entries";

    private static IEnumerable<HealthResult> Loaded(HealthContext c)
    {
        if (!c.Kernel.IsLoaded)
        {
            yield return new(HealthSeverity.Info,
                $"Connection tracking is not loaded (neither nf_conntrack nor ip_conntrack is present under {c.Kernel.Root}), so there is no table to overflow.",
                null, c.Kernel.KernelRelease is { } r ? $"kernel {r}" : null);
            yield break;
        }

        yield return new(HealthSeverity.Ok, $"{c.Kernel.Tracker} is loaded ({c.Kernel.ModuleState}).", null,
            $"kernel {c.Kernel.KernelRelease ?? "(release unknown)"}, era {c.Kernel.Era}");
    }

    private static IEnumerable<HealthResult> Namespace(HealthContext c)
    {
        if (c.Kernel.IsInitialNamespace)
        {
            yield break;
        }

        yield return new(HealthSeverity.Info,
            $"This is not the initial network namespace (a container or 'ip netns'). The counters, the count and the timeouts here are this namespace's own, but the limit and the hash size are global: they belong to the host and can only be changed there.",
            null, c.Kernel.NetworkNamespace is { } ns ? $"network namespace {ns}" : null);
    }

    private static IEnumerable<HealthResult> Usage(HealthContext c)
    {
        if (c.Limit is not { } limit)
        {
            yield return new(HealthSeverity.Info, $"The table's size and count cannot be read: {c.LimitError}");
            yield break;
        }

        string evidence = $"count {limit.Count?.ToString(CultureInfo.InvariantCulture) ?? "unknown"} ({limit.CountSource ?? "no source"}), max {limit.Max?.ToString(CultureInfo.InvariantCulture) ?? "unknown"} ({limit.MaxSource ?? "no source"})";
        if (limit.Max == 0)
        {
            yield return new(HealthSeverity.Info,
                "The max is 0, which the kernel takes as no limit at all: the table grows until memory runs out instead of dropping new connections.",
                Remedy.SetMax(Remedy.SuggestMax(c) ?? 262144), evidence);
            yield break;
        }

        if (limit.UsagePercent is not { } usage)
        {
            yield return new(HealthSeverity.Info, "The table's usage cannot be computed: the count or the max is unknown.", null, evidence);
            yield break;
        }

        HealthSeverity severity = usage >= c.Options.CriticalPercent ? HealthSeverity.Critical
            : usage >= c.Options.WarningPercent ? HealthSeverity.Warning
            : HealthSeverity.Ok;
        string message = severity switch
        {
            HealthSeverity.Critical => $"The table is {P(usage)} % full ({N(limit.Count!.Value)} of {N(limit.Max!.Value)}), at or above the critical {P(c.Options.CriticalPercent)} %: new connections are dropped once it is full.{c.OnHost}",
            HealthSeverity.Warning => $"The table is {P(usage)} % full ({N(limit.Count!.Value)} of {N(limit.Max!.Value)}), at or above the warning {P(c.Options.WarningPercent)} %.{c.OnHost}",
            _ => $"The table is {P(usage)} % full ({N(limit.Count!.Value)} of {N(limit.Max!.Value)}).",
        };
        yield return new(severity, message, severity >= HealthSeverity.Warning ? Remedy.RaiseMax(c) : null, evidence);
    }

    private static IEnumerable<HealthResult> KernelDefaultCheck(HealthContext c)
    {
        if (c.Limit is not { Max: { } max } limit || max == 0)
        {
            yield break;
        }

        if (c.KernelDefault is not { } kd)
        {
            yield return new(HealthSeverity.Info, $"What this kernel would choose by itself cannot be computed: {c.SizingError}");
            yield break;
        }

        string evidence = $"max {max.ToString(CultureInfo.InvariantCulture)} ({limit.MaxSource}); the kernel's own default for {kd.MemoryBytes / (1024 * 1024)} MiB on era {kd.Era}: {kd.Max.ToString(CultureInfo.InvariantCulture)}";
        yield return max < kd.Max
            ? new(HealthSeverity.Warning,
                $"The max ({N(max)}) is below what this kernel would choose by itself for this RAM ({N(kd.Max)}): someone lowered it, often with a sysctl.conf line written for a smaller machine or an older kernel.{c.OnHost}",
                Remedy.RaiseMax(c), evidence)
            : new(HealthSeverity.Ok, $"The max ({N(max)}) is at or above what this kernel would choose by itself for this RAM ({N(kd.Max)}).", null, evidence);
    }

    private static IEnumerable<HealthResult> Statistics(HealthContext c)
    {
        if (c.Statistics is null)
        {
            yield return new(HealthSeverity.Info, $"The drop counters cannot be read, so the Drop, EarlyDrop and InsertFailed checks were skipped: {c.StatisticsError}");
        }
    }

    private static string CounterEvidence(ConntrackStatistic s, string column, long value) =>
        $"{column} = {value.ToString(CultureInfo.InvariantCulture)} summed over {s.CpuCount} CPU(s) in {s.Source}";

    private static IEnumerable<HealthResult> Drop(HealthContext c)
    {
        if (c.Statistics is not { Drop: { } drop } s)
        {
            yield break;
        }

        yield return drop > 0
            ? new(HealthSeverity.Warning,
                $"{N(drop)} packets were dropped by conntrack since the namespace (or the machine) started, most often because the table was full.{c.OnHost}",
                Remedy.RaiseMax(c), CounterEvidence(s, "drop", drop))
            : new(HealthSeverity.Ok, "No packet was dropped by conntrack.", null, CounterEvidence(s, "drop", drop));
    }

    private static IEnumerable<HealthResult> EarlyDrop(HealthContext c)
    {
        if (c.Statistics is not { EarlyDrop: { } early } s)
        {
            yield break;
        }

        yield return early > 0
            ? new(HealthSeverity.Warning,
                $"{N(early)} unassured entries were evicted to make room: the table has been full.{c.OnHost}",
                Remedy.RaiseMax(c), CounterEvidence(s, "early_drop", early))
            : new(HealthSeverity.Ok, "No entry was evicted early for lack of room.", null, CounterEvidence(s, "early_drop", early));
    }

    private static IEnumerable<HealthResult> InsertFailed(HealthContext c)
    {
        if (c.Statistics is not { InsertFailed: { } failed } s)
        {
            yield break;
        }

        yield return failed > 0
            ? new(HealthSeverity.Info,
                $"{N(failed)} new {(failed == 1 ? "entry" : "entries")} clashed with one created at the same moment (typical of parallel UDP such as DNS lookups through NAT). A larger table does not help; the remedy is on the client side (for example 'options single-request-reopen' in resolv.conf, or a node-local DNS cache).",
                null, CounterEvidence(s, "insert_failed", failed))
            : new(HealthSeverity.Ok, "No insert clash.", null, CounterEvidence(s, "insert_failed", failed));
    }

    private static IEnumerable<HealthResult> KernelLog(HealthContext c)
    {
        if (c.EventsError is { } error)
        {
            yield return new(HealthSeverity.Info, $"The kernel log cannot be searched for table-full messages, so the TableFullEvents check was skipped: {error}");
        }
    }

    private static IEnumerable<HealthResult> TableFullEvents(HealthContext c)
    {
        if (c.Events is not { } events)
        {
            yield break;
        }

        string ours = c.EventKey;
        long here = c.EventsHere;
        long elsewhere = events.ByNamespace.Where(kv => kv.Key != ours && kv.Key.Length > 0).Sum(kv => kv.Value);
        ConntrackDropSummary summary = events.Summary();
        TimeWindow window = c.LogWindow;
        string span = window.Since is { } since ? $" since {since:yyyy-MM-dd HH:mm:ss}" : "";
        string evidence = $"{string.Join(", ", c.EventSources)}{span}" + (summary.LastTimeStamp is { } last ? $"; last at {last:yyyy-MM-dd HH:mm:ss}" : "");

        if (here > 0)
        {
            // The suppressed count cannot be split by namespace; with events elsewhere it is an upper bound for all.
            string bound = summary.Suppressed > 0
                ? $"at least {N(here)} and at most {N(here + summary.Suppressed)} packets"
                : $"{N(here)} packets";
            string where = c.Kernel.IsInitialNamespace ? "" : $" in network namespace {ours}";
            yield return new(HealthSeverity.Critical,
                $"The kernel logged that the conntrack table was full{where}{span}: {bound} were dropped ({N(here)} logged, up to {N(summary.Suppressed)} more in rate-limited messages).{c.OnHost}",
                Remedy.RaiseMax(c), evidence);
        }
        else
        {
            // With messages from other namespaces, "no message" alone would read as a clean log right above the warning about them.
            string scope = !c.Kernel.IsInitialNamespace ? " for this namespace" : elsewhere > 0 ? " from this (the initial) network namespace" : "";
            string others = c.Kernel.IsInitialNamespace && elsewhere > 0 ? $"; {N(elsewhere)} name other network namespaces (see TableFullEvents below)" : "";
            yield return new(HealthSeverity.Ok, $"No table-full message{scope} in the kernel log{span}{others}.", null, evidence);
        }

        if (c.Kernel.IsInitialNamespace && elsewhere > 0)
        {
            yield return new(HealthSeverity.Warning,
                $"{N(elsewhere)} table-full messages name other network namespaces (containers: {string.Join(", ", summary.NetworkNamespaces)}). Each namespace may hold up to the global max, so raising it here is the fix for them too.",
                Remedy.RaiseMax(c), evidence);
        }
    }

    private static IEnumerable<HealthResult> EntriesPerBucket(HealthContext c)
    {
        if (c.Limit is not { EntriesPerBucket: { } ratio, Max: { } max, HashSize: { } hash })
        {
            yield break;
        }

        string evidence = $"max {max.ToString(CultureInfo.InvariantCulture)} ({c.Limit.MaxSource}), hash size {hash.ToString(CultureInfo.InvariantCulture)} ({c.Limit.HashSizeSource})";
        yield return ratio > c.Options.MaxEntriesPerBucket
            ? new(HealthSeverity.Warning,
                $"A full table holds {P(ratio)} {Entries(ratio)} per hash bucket, more than {P(c.Options.MaxEntriesPerBucket)}: every lookup walks a long chain. A bucket costs only a pointer, so a hash size near the max is cheap.{(SettingWriter.HashFixedWhileLoaded(c.Kernel) ? " This kernel fixes the hash size when the module loads: the new size takes effect at the next boot." : "")}{c.OnHost}",
                Remedy.SetHashSize(Remedy.SuggestHashSize(max, c), c.Kernel), evidence)
            : new(HealthSeverity.Ok, $"A full table holds {P(ratio)} {Entries(ratio)} per hash bucket (at most {P(c.Options.MaxEntriesPerBucket)} advised).", null, evidence);
    }

    private static IEnumerable<HealthResult> TcpEstablishedTimeout(HealthContext c)
    {
        if (c.TcpEstablishedTimeout is not { } seconds)
        {
            yield break;
        }

        string evidence = $"{seconds.ToString(CultureInfo.InvariantCulture)} s in {c.TcpEstablishedTimeoutSource}";
        if (seconds < 432000)
        {
            yield return new(HealthSeverity.Ok, $"Established TCP entries are kept {FormatDuration(seconds)} after the last packet.", null, evidence);
            yield break;
        }

        // Under pressure the 5-day default is what fills the table with dead connections; otherwise it is advice.
        bool pressed = c.Limit?.UsagePercent >= c.Options.WarningPercent
            || c.Statistics is { Drop: > 0 } or { EarlyDrop: > 0 }
            || c.EventsHere > 0;
        yield return new(pressed ? HealthSeverity.Warning : HealthSeverity.Info,
            $"Established TCP entries are kept {FormatDuration(seconds)} after the last packet (the kernel default), so connections that died without a FIN or RST stay in the table for days{(pressed ? " while the table is under pressure" : "")}. A server rarely needs more than a day; a classic tuning note for web servers goes much shorter (1200 s).",
            Remedy.SetTcpEstablished(Remedy.TcpEstablishedSeconds), evidence);
    }

    /// <summary>A reboot must not quietly undo tuning: the values the next boot applies against those running now.</summary>
    private static IEnumerable<HealthResult> Persistence(HealthContext c)
    {
        // Inside a container the limits are the host's, and so is their persistence (the Namespace check says so).
        if (c.Limit is not { } limit || !c.Kernel.IsInitialNamespace)
        {
            yield break;
        }

        string evidence = string.Join("; ", new[] { limit.PersistedMaxSource, limit.PersistedHashSizeSource }.Where(s => s is not null))
            is { Length: > 0 } sources ? sources : "no configuration file sets the max or the hash size";
        if (!limit.Drift)
        {
            yield return new(HealthSeverity.Ok, "The next boot applies the max and the hash size that run now.", null, evidence);
            yield break;
        }

        // Keep the larger of the two: a larger value at the next boot is tuning (or a kernel default) that is not
        // in force yet, so it is applied now; a larger running one is tuning nobody persisted, so it is written to
        // the configuration. Never recommend shrinking the table.
        var fixes = new List<string>();
        if (limit.MaxDrift && limit.Max is { } max)
        {
            fixes.Add(limit.NextBootMax is { } next && next > max ? Remedy.SetMax(next) : Remedy.PersistMax(max));
        }

        if (limit.HashSizeDrift && limit.HashSize is { } hash)
        {
            fixes.Add(limit.NextBootHashSize is { } next && next > hash ? Remedy.SetHashSize(next, c.Kernel) : Remedy.PersistHashSize(hash));
        }

        yield return new(HealthSeverity.Warning,
            $"A reboot will change the table: {limit.DriftReason} The fix keeps the larger value, running and persisted.",
            fixes.Count > 0 ? string.Join("; ", fixes) : null, evidence);
    }

    /// <summary>
    /// The boot-order trap (ECOSYSTEM.md §2.1): systemd-sysctl applies sysctl.d early, before a firewall rule loads a
    /// modular tracker, and silently skips the keys that do not exist yet. Only modules-load.d (which runs first)
    /// or a modprobe install hook that runs sysctl make such keys stick.
    /// </summary>
    private static IEnumerable<HealthResult> BootOrder(HealthContext c)
    {
        ConntrackKernel kernel = c.Kernel;
        if (!kernel.IsLoaded || !kernel.IsInitialNamespace)
        {
            yield break;
        }

        string tracker = kernel.EraRow.TrackerName;
        Dictionary<string, PersistedValue> sysctl = BootConfig.AllSysctl(c.Root);
        var keys = sysctl.Where(kv => IsTrackerKey(kv.Key)).OrderBy(kv => kv.Value.Sequence).ToList();
        if (keys.Count == 0)
        {
            yield break;
        }

        string keyList = string.Join(", ", keys.Select(kv => kv.Key).Take(4)) + (keys.Count > 4 ? $" and {keys.Count - 4} more" : "");
        string files = string.Join(", ", keys.Select(kv => kv.Value.Source).Distinct(StringComparer.Ordinal));
        bool? loadable = SettingWriter.IsLoadableModule(kernel);
        if (loadable == false)
        {
            yield return new(HealthSeverity.Ok, $"{tracker} is built into the kernel, so {keyList} exist when systemd-sysctl applies them at boot.", null, files);
            yield break;
        }

        if (loadable is null)
        {
            yield break;
        }

        string? loader = LoaderAtBoot(c.Root, kernel, tracker) ?? BootConfig.SysctlInstallHook(c.Root, tracker);
        if (loader is not null)
        {
            yield return new(HealthSeverity.Ok, $"{tracker} is a loadable module, and it is loaded (or its keys applied) before the sysctl files need it.", null, loader);
            yield break;
        }

        long persistedMax = c.Limit?.PersistedMax ?? c.Limit?.Max ?? 0;
        yield return new(HealthSeverity.Warning,
            $"{keyList} (in {files}) will be skipped at boot: {tracker} is a loadable module that no modules-load.d file loads, so when systemd-sysctl applies the sysctl files early at boot the keys do not exist yet and are ignored without an error. The module loads later with the first firewall rule and keeps its defaults.{(persistedMax > 0 ? $" The fix also lists {tracker} in /etc/modules-load.d/conntrack-tuning.conf, so it loads before the keys are applied." : "")}",
            persistedMax > 0 ? Remedy.PersistMax(persistedMax) : null,
            files);
    }

    private static bool IsTrackerKey(string key) =>
        key.StartsWith("net.netfilter.nf_conntrack_", StringComparison.Ordinal) || key == "net.nf_conntrack_max"
        || key.StartsWith("net.ipv4.netfilter.ip_conntrack_", StringComparison.Ordinal) || key == "net.ipv4.ip_conntrack_max";

    /// <summary>The modules-load entry that brings the tracker in at boot: the tracker itself, or a module that depends on it.</summary>
    private static string? LoaderAtBoot(SystemRoot root, ConntrackKernel kernel, string tracker)
    {
        IReadOnlyList<(string Module, string Source)> loaded = BootConfig.ModulesLoadedAtBoot(root);
        if (loaded.FirstOrDefault(m => m.Module == tracker) is { Source: not null } direct)
        {
            return $"{direct.Source} lists {tracker}";
        }

        if (loaded.Count == 0 || kernel.KernelRelease is not { } release)
        {
            return null;
        }

        // nf_conntrack_ipv4, nf_nat and the like pull the tracker in as a dependency (modules.dep: "module.ko: deps").
        foreach (string line in root.ReadLines($"lib/modules/{release}/modules.dep"))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !line.AsSpan(colon).Contains("/" + tracker + ".ko", StringComparison.Ordinal))
            {
                continue;
            }

            string name = System.IO.Path.GetFileName(line[..colon]);
            name = ModprobeFile.NormalizeModule(name.Split('.')[0]);
            if (loaded.FirstOrDefault(m => m.Module == name) is { Source: not null } dependent)
            {
                return $"{dependent.Source} lists {name}, which loads {tracker}";
            }
        }

        return null;
    }

    private static string FormatDuration(long seconds) => seconds switch
    {
        >= 86400 when seconds % 86400 == 0 => $"{seconds / 86400} day{(seconds == 86400 ? "" : "s")}",
        >= 3600 when seconds % 3600 == 0 => $"{seconds / 3600} h",
        _ => $"{seconds} s",
    };
}
