using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;
using static ConntrackTuning.Engine.Sizing.KernelDefaults;

namespace ConntrackTuning.Engine.Sizing;

/// <summary>
/// Turns RAM, kernel era and entry size into a table size per profile, each with its reasons. Kernel history
/// comes from the era row and <see cref="KernelDefaults"/>; nothing here branches on a version.
/// </summary>
internal static class Recommender
{
    /// <summary>The seed's reserve for a firewall-only box: 128 MiB for syslog and a console.</summary>
    public const long DefaultReservedMemoryBytes = 128L * 1024 * 1024;

    /// <summary>Balanced lets one full table use at most RAM / 64 (1.5625 %).</summary>
    public const int BalancedShareDivisor = 64;

    /// <summary>The max is an int sysctl; nothing larger can be written.</summary>
    public const long KernelMaxBound = int.MaxValue;

    /// <summary>Every profile, in the order -Profile All lists them.</summary>
    public static IReadOnlyList<RecommendationProfile> AllProfiles { get; } =
        [RecommendationProfile.KernelDefault, RecommendationProfile.Guide, RecommendationProfile.FirewallOnly, RecommendationProfile.Balanced];

    internal static IEnumerable<string> Describe(SizingInputs i)
    {
        yield return $"Inputs: RAM {F(i.MemoryBytes)} bytes ({Size(i.MemoryBytes)}, {i.MemorySource}); kernel {i.KernelVersion ?? "of unknown version"}, era {i.Era.Id}; {i.PointerBits}-bit ({i.PointerBitsSource}); {F(i.PageSize)}-byte pages ({i.PageSizeSource}).";
        int bucket = BucketSize(i.Era, i.PointerBits);
        string head = i.Era.BucketHeadPointers == 2 ? "a list_head of two pointers" : "an hlist_head of one pointer";
        yield return $"Entry size {F(i.EntrySize.Bytes)} bytes, from {i.EntrySize.Source}. A bucket is {head}, {bucket} bytes.";
    }

    /// <summary>
    /// One profile's recommendation. Warnings that belong to this profile (below the current count, a hash size
    /// over the kernel's bound, lowering the current max) go to the log as well as into the reasons.
    /// </summary>
    public static ConntrackRecommendation Recommend(SizingInputs inputs, RecommendationProfile profile, IEngineLog log)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(log);
        KernelDefault kernelDefault = Compute(inputs.MemoryBytes, inputs.PointerBits, inputs.Era, null, inputs.PageSize);
        var reasons = new List<string>(inputs.Context);
        var warnings = new List<string>();

        (long max, long hash) = profile switch
        {
            RecommendationProfile.KernelDefault => SizingProfiles.KernelDefaultProfile(inputs, kernelDefault, reasons),
            RecommendationProfile.Guide => SizingProfiles.GuideProfile(inputs, reasons),
            RecommendationProfile.FirewallOnly => SizingProfiles.FirewallOnlyProfile(inputs, reasons),
            RecommendationProfile.Balanced => SizingProfiles.BalancedProfile(inputs, kernelDefault, reasons),
            _ => throw new ArgumentOutOfRangeException(nameof(profile)),
        };

        (max, hash) = ApplyKernelBounds(inputs, profile, max, hash, reasons, warnings);
        int bucket = BucketSize(inputs.Era, inputs.PointerBits);
        long memory = checked((max * inputs.EntrySize.Bytes) + (hash * bucket));
        reasons.Add($"Memory of one full table: {F(max)} x {F(inputs.EntrySize.Bytes)} + {F(hash)} x {bucket} = {F(memory)} bytes ({Size(memory)}); extensions such as NAT or accounting come on top.");
        AddNamespaceReason(inputs, memory, hash * bucket, reasons);

        if (inputs.CurrentCount is { } count && count > max)
        {
            warnings.Add($"{profile}: max {F(max)} is below the {F(count)} entries in the table now; applying it would drop new connections until the count falls.");
        }

        if (profile == RecommendationProfile.Balanced && inputs.CurrentMax is { } currentMax && currentMax > max)
        {
            warnings.Add($"Balanced: max {F(max)} is below the current max {F(currentMax)}; applying it would lower the limit. Keep {F(currentMax)} unless its memory is the concern.");
        }

        foreach (string warning in warnings)
        {
            reasons.Add("Warning: " + warning);
            log.Warning(warning);
        }

        return new ConntrackRecommendation
        {
            Profile = profile.ToString(),
            Max = max,
            HashSize = hash,
            EntriesPerBucket = TableRatios.EntriesPerBucket(max, hash),
            EstimatedMemoryBytes = memory,
            EntrySize = inputs.EntrySize.Bytes,
            EntrySizeSource = inputs.EntrySize.Source,
            BucketSize = bucket,
            MemoryBytes = inputs.MemoryBytes,
            PointerBits = inputs.PointerBits,
            PageSize = inputs.PageSize,
            KernelVersion = inputs.KernelVersion,
            Era = inputs.Era.Id,
            CurrentMax = inputs.CurrentMax,
            CurrentHashSize = inputs.CurrentHashSize,
            CurrentCount = inputs.CurrentCount,
            KernelDefaultMax = kernelDefault.Max,
            KernelDefaultHashSize = kernelDefault.HashSize,
            Reasons = reasons,
            Root = inputs.Root,
        };
    }

    /// <summary>
    /// Warnings about the whole run rather than one profile: every namespace can fill its own table, and a
    /// kernel that cannot resize its hash at run time.
    /// </summary>
    public static void WarnOnce(SizingInputs inputs, IReadOnlyCollection<ConntrackRecommendation> results, IEngineLog log)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(log);
        if (inputs.Namespaces is { Count: > 1 } census)
        {
            string used = census.WithEntries is { } n ? $", {n} of them holding entries now" : "";
            log.Warning($"{census.Count} network namespaces have processes here{used}. Each namespace that tracks connections has its own table, and each may grow to Max: the worst case is {census.Count} x EstimatedMemoryBytes.");
        }

        if (inputs.Era.HashResize == HashResize.None && results.Any(r => r.Profile != nameof(RecommendationProfile.KernelDefault) && r.HashSize != inputs.CurrentHashSize))
        {
            log.Warning($"Kernels of era {inputs.Era.Id} cannot change the hash size at run time: HashSize takes effect only when {inputs.Era.TrackerName} is loaded with hashsize= or at boot, so persist it.");
        }
    }

    private static (long Max, long Hash) ApplyKernelBounds(SizingInputs inputs, RecommendationProfile profile, long max, long hash, List<string> reasons, List<string> warnings)
    {
        if (hash > HashSizeMath.MaxHashSize)
        {
            long bounded = HashSizeMath.ShapeDown(HashSizeMath.MaxHashSize, inputs.Era.HashShape);
            warnings.Add($"{profile}: a hash size of {F(hash)} is over the kernel's bound of {F(HashSizeMath.MaxHashSize)} (INT_MAX / 8), which it refuses; recommending {F(bounded)} instead.");
            if (profile is RecommendationProfile.FirewallOnly or RecommendationProfile.Balanced)
            {
                max = max / hash * bounded;
            }

            hash = bounded;
        }

        if (max > KernelMaxBound)
        {
            reasons.Add($"max {F(max)} is over {F(KernelMaxBound)}, the largest value the max sysctl takes; max = {F(KernelMaxBound)}.");
            max = KernelMaxBound;
        }

        return (max, hash);
    }

    private static void AddNamespaceReason(SizingInputs inputs, long memory, long hashBytes, List<string> reasons)
    {
        if (!inputs.Era.PerNamespaceTables)
        {
            return;
        }

        string perNamespaceHash = inputs.Era.HashPerNamespace
            ? $" In this era each namespace also allocates its own hash table ({F(hashBytes)} bytes), and a run-time resize changes only the host's."
            : "";
        if (inputs.Namespaces is { } census)
        {
            string used = census.WithEntries is { } n ? $" ({n} holding entries now)" : "";
            string have = census.Count == 1 ? "1 namespace has" : $"{census.Count} namespaces have";
            reasons.Add($"Each network namespace may fill its own table to Max: {have} processes here{used}, so the worst case is {census.Count} x {F(memory)} = {F(census.Count * memory)} bytes ({Size(census.Count * memory)}).{perNamespaceHash}");
        }
        else
        {
            reasons.Add($"Each network namespace (every container) that tracks connections may fill its own table to Max, so multiply the memory by their number for the worst case.{perNamespaceHash}");
        }
    }

    internal static string ShapeWords(KernelEra era, long from, long to, bool down) => era.HashShape == HashShape.Prime
        ? $"before 2.4.21 the hash was additive and needs a prime bucket count, so the {(down ? "largest prime not above" : "smallest prime not below")} {F(from)}: {F(to)}."
        : $"from 2.4.21 the hash spreads well over any size and the guide advises a power of two, so the {(down ? "largest power of two not above" : "smallest power of two not below")} {F(from)}: {F(to)}.";

    internal static string Capitalized(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];

    internal static long CeilDiv(long a, long b) => (a + b - 1) / b;
}
