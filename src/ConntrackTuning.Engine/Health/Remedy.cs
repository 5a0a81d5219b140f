using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;
using ConntrackTuning.Engine.Namespaces;
using ConntrackTuning.Engine.Sizing;
using ConntrackTuning.Engine.Writers;

namespace ConntrackTuning.Engine.Health;

/// <summary>
/// The commands a finding recommends, and the sizes in them: Get-ConntrackRecommendation's Balanced size when
/// it is larger than the current max, else a simple rule (double what is used, a power of two, a quarter of
/// RAM at most), so that Test-ConntrackHealth and Get-ConntrackRecommendation agree.
/// </summary>
internal static class Remedy
{
    /// <summary>The established timeout to suggest: kube-proxy's 24 hours keeps idle but live connections (SSH, database pools) tracked.</summary>
    public const int TcpEstablishedSeconds = (int)KubeProxy.DefaultEstablished;

    public static string SetMax(long max) => $"Set-ConntrackLimit -Max {max.ToString(CultureInfo.InvariantCulture)} -Persist";

    /// <summary>
    /// Applied now and persisted; where the running hash cannot be resized (2.4, early 2.6), persisted only, which is
    /// all such a kernel allows: the size takes effect when the module loads at the next boot.
    /// </summary>
    public static string SetHashSize(long size, ConntrackKernel kernel) =>
        TrackerModule.HashFixedWhileLoaded(kernel) ? PersistHashSize(size) : $"Set-ConntrackHashSize -HashSize {size.ToString(CultureInfo.InvariantCulture)} -Persist";

    /// <summary>Writes only the configuration, so the next boot applies the value that runs now.</summary>
    public static string PersistMax(long max) => $"Set-ConntrackLimit -Max {max.ToString(CultureInfo.InvariantCulture)} -PersistOnly";

    public static string PersistHashSize(long size) => $"Set-ConntrackHashSize -HashSize {size.ToString(CultureInfo.InvariantCulture)} -PersistOnly";

    /// <summary>
    /// Timeouts are per network namespace and the next boot's files set the initial one only: another namespace's
    /// fix is a run-time one (Set-ConntrackTimeout refuses -Persist with -NetworkNamespace, and inside the namespace
    /// it would persist the host's), and names the namespace when the check entered it with -NetworkNamespace.
    /// </summary>
    public static string SetTcpEstablished(long seconds, ConntrackKernel kernel)
    {
        string command = $"Set-ConntrackTimeout -Protocol tcp -State established -Seconds {seconds.ToString(CultureInfo.InvariantCulture)}";
        if (kernel.IsInitialNamespace)
        {
            return command + " -Persist";
        }

        return NamespaceContext.Current is not null && kernel.NetworkNamespace is { } ns ? $"{command} -NetworkNamespace {ns}" : command;
    }

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
        // A quarter of RAM at the entry size Set-ConntrackLimit's memory check takes for the same max (TableMemory),
        // with one bucket per entry: the largest max suggested, the Balanced one included.
        long? room = context.Kernel.MemoryBytes is { } memory && memory > 0
            ? TableMemory.LargestMaxWithin(context.Kernel, context.EntrySize, memory / 4)
            : null;
        if (context.Balanced is { } balanced && balanced.Max > max && balanced.Max >= 2 * count && (room is null || balanced.Max <= room))
        {
            return balanced.Max;
        }

        long wanted = HashSizeMath.ShapeUp(Math.Max(Math.Max(max, count) * 2, 1024), HashShape.PowerOfTwo);
        if (room is { } r)
        {
            wanted = Math.Min(wanted, HashSizeMath.ShapeDown(r, HashShape.PowerOfTwo));
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
        return HashSizeMath.ShapeUp(target, kernel.EraRow.HashShape);
    }

    /// <summary>The fix for a table that is too small: a larger max, with the hash size when the chains would grow past the threshold.</summary>
    public static string? RaiseMax(HealthContext context)
    {
        if (SuggestMax(context) is not { } max)
        {
            return context.TcpEstablishedTimeout is > TcpEstablishedSeconds ? SetTcpEstablished(TcpEstablishedSeconds, context.Kernel) : null;
        }

        string command = SetMax(max);
        context.PlannedMax = max;
        // The ratio the EntriesPerBucket check will judge once the new max is in place, rounded as it is there.
        if (TableRatios.EntriesPerBucket(max, context.Limit?.HashSize) > context.Options.MaxEntriesPerBucket)
        {
            long hash = SuggestHashSize(max, context);
            context.PlannedHashSize = hash;
            command += "; " + SetHashSize(hash, context.Kernel);
        }

        return command;
    }
}
