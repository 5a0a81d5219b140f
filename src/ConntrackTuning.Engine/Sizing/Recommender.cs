using System;
using System.Collections.Generic;
using System.Linq;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;
using ConntrackTuning.Engine.Platform;
using static ConntrackTuning.Engine.Sizing.KernelDefaults;

namespace ConntrackTuning.Engine.Sizing;

/// <summary>The sizing profiles Get-ConntrackRecommendation offers.</summary>
public enum RecommendationProfile
{
    /// <summary>What the kernel picks by itself when nothing is set.</summary>
    KernelDefault,

    /// <summary>The seed guide's formula, RAM / 16384 / (pointer bits / 32), without the caps for big machines.</summary>
    Guide,

    /// <summary>The seed's firewall-only box: everything but a reserve goes to conntrack.</summary>
    FirewallOnly,

    /// <summary>This module's rule for a general-purpose server that must not drop connections.</summary>
    Balanced,
}

/// <summary>
/// What the caller gives to plan for another machine; every null is read from the root (or assumed when
/// planning without one).
/// </summary>
public sealed record RecommendationRequest
{
    public long? MemoryBytes { get; init; }

    public int? PointerBits { get; init; }

    /// <summary>A release as uname -r prints it, or a bare version.</summary>
    public string? KernelVersion { get; init; }

    public long? EntrySize { get; init; }

    public long? ReservedMemoryBytes { get; init; }

    public int? EntriesPerBucket { get; init; }

    public int? PageSize { get; init; }
}

/// <summary>Every input of the sizing, resolved, with where each came from.</summary>
public sealed record SizingInputs
{
    public required long MemoryBytes { get; init; }

    public required string MemorySource { get; init; }

    public required int PointerBits { get; init; }

    public required string PointerBitsSource { get; init; }

    public required int PageSize { get; init; }

    public required string PageSizeSource { get; init; }

    public required KernelEra Era { get; init; }

    public string? KernelVersion { get; init; }

    public required EntrySize EntrySize { get; init; }

    public long ReservedMemoryBytes { get; init; } = Recommender.DefaultReservedMemoryBytes;

    public int? EntriesPerBucket { get; init; }

    public long? CurrentMax { get; init; }

    public long? CurrentHashSize { get; init; }

    public long? CurrentCount { get; init; }

    public NamespaceCensus? Namespaces { get; init; }

    /// <summary>The tracker's start-up line under the root, on kernels old enough to print one; null otherwise.</summary>
    public StartupLine? StartupLine { get; init; }

    /// <summary>False when the root was read from inside a container's network namespace.</summary>
    public bool IsInitialNamespace { get; init; } = true;

    /// <summary>The root read, or null when planning without a machine.</summary>
    public string? Root { get; init; }

    /// <summary>Context every profile's reasons start with: where the inputs came from.</summary>
    public IReadOnlyList<string> Context { get; init; } = [];
}

/// <summary>
/// Turns RAM, kernel era and entry size into a table size per profile, each with its reasons. Kernel history
/// comes from the era row and <see cref="KernelDefaults"/>; nothing here branches on a version.
/// </summary>
public static class Recommender
{
    /// <summary>The seed's reserve for a firewall-only box: 128 MiB for syslog and a console.</summary>
    public const long DefaultReservedMemoryBytes = 128L * 1024 * 1024;

    /// <summary>Balanced lets one full table use at most RAM / 64 (1.5625 %).</summary>
    public const int BalancedShareDivisor = 64;

    /// <summary>The kernel refuses hash sizes over INT_MAX / 8 (since b541ba7d1f5a, 2025, backported).</summary>
    public const long KernelHashSizeBound = int.MaxValue / 8;

    /// <summary>The max is an int sysctl; nothing larger can be written.</summary>
    public const long KernelMaxBound = int.MaxValue;

    /// <summary>Every profile, in the order -Profile All lists them.</summary>
    public static IReadOnlyList<RecommendationProfile> AllProfiles { get; } =
        [RecommendationProfile.KernelDefault, RecommendationProfile.Guide, RecommendationProfile.FirewallOnly, RecommendationProfile.Balanced];

    private static readonly KernelVersion FirstConntrackKernel = new(2, 4, 0);

    /// <summary>
    /// Resolves every input. With a kernel (read from a root) each input the request leaves null comes from it;
    /// without one (planning for a machine that is not there) the request must give the memory and the kernel
    /// version, and the rest is assumed and said so. A kernel version that differs from the root's takes its
    /// era from the table, and then the root's measured entry size (which belongs to the root's kernel) is not
    /// used.
    /// </summary>
    public static SizingInputs Resolve(RecommendationRequest request, ConntrackKernel? kernel)
    {
        ArgumentNullException.ThrowIfNull(request);
        ValidateRequest(request);
        KernelVersion? planned = request.KernelVersion is { } text ? ParseVersion(text) : null;
        var context = new List<string>();

        if (kernel is null)
        {
            return ResolvePlanned(request, planned, context);
        }

        SystemRoot root = kernel.SystemRoot;
        bool sameKernel = planned is null || (kernel.Version is { } v && v == planned.Value);
        KernelEra era = sameKernel ? kernel.EraRow : EraTable.Find(EraTable.ExpectedTracker(planned!.Value), planned.Value);
        string? version = sameKernel ? kernel.KernelVersion : planned!.Value.ToString();

        long memory;
        string memorySource;
        if (request.MemoryBytes is { } givenMemory)
        {
            (memory, memorySource) = (givenMemory, "given");
        }
        else if (kernel.MemoryBytes is { } read)
        {
            string meminfo = root.Full("proc/meminfo");
            if (read <= 0)
            {
                throw new ConntrackException(ErrorIds.InvalidSizingInput, ErrorKind.InvalidData,
                    $"{meminfo} says MemTotal is {read} bytes; a sizing needs the machine's RAM.", meminfo,
                    "Give the machine's RAM with -MemoryBytes.");
            }

            (memory, memorySource) = (read, $"MemTotal in {meminfo}");
        }
        else
        {
            throw new ConntrackException(ErrorIds.MemorySizeUnknown, ErrorKind.ObjectNotFound,
                $"No MemTotal under {kernel.Root} (proc/meminfo is missing or has no MemTotal line), so there is no RAM to size the table from.",
                root.Full("proc/meminfo"), "Give the machine's RAM with -MemoryBytes, such as -MemoryBytes 16GB.");
        }

        int bits = request.PointerBits ?? kernel.PointerBits;
        string bitsSource = request.PointerBits is null ? kernel.PointerBitsSource ?? "the probe" : "given";
        (int pageSize, string pageSource) = request.PageSize is { } givenPage
            ? (givenPage, "given")
            : root.IsLive ? (Environment.SystemPageSize, "this machine") : (DefaultPageSize, "assumed; nothing under the root states it");

        EntrySize entry;
        if (request.EntrySize is { } givenEntry)
        {
            entry = new EntrySize(givenEntry, EntrySizeOrigin.Given, "given (-EntrySize)");
        }
        else if (sameKernel && bits == kernel.PointerBits && EntrySizeProbe.Measure(root, kernel.TrackerKind) is { } measured)
        {
            entry = measured;
        }
        else
        {
            entry = EntrySizeProbe.Estimate(era, bits);
            if (!sameKernel || bits != kernel.PointerBits)
            {
                context.Add($"The entry size under {kernel.Root} belongs to its own kernel ({kernel.KernelRelease ?? "unknown"}, {kernel.PointerBits}-bit), not the one planned, so the era's estimate is used.");
            }
        }

        long? currentMax = null, currentHash = null, currentCount = null;
        if (kernel.IsLoaded)
        {
            ConntrackLimit limit = LimitReader.Read(kernel);
            (currentMax, currentHash, currentCount) = (limit.Max, limit.HashSize, limit.Count);
        }
        else
        {
            context.Add(kernel.RootKind == "Image"
                ? $"{kernel.Root} is an image: no kernel runs there, so there is no current max, hash size or count to compare with; sized for its installed kernel {kernel.KernelRelease ?? "(none installed)"}."
                : $"Connection tracking is not loaded under {kernel.Root}: there is no current max, hash size or count to compare with.");
        }

        if (!sameKernel)
        {
            context.Add($"Planned for kernel {version} (era {era.Id}) instead of the {kernel.KernelRelease ?? "unknown"} kernel under {kernel.Root}; current values are that system's.");
        }

        if (!kernel.IsInitialNamespace)
        {
            context.Add("Read from inside a network namespace other than the host's: the max and hash size belong to the host, so apply the recommendation there.");
        }

        var inputs = new SizingInputs
        {
            MemoryBytes = memory,
            MemorySource = memorySource,
            PointerBits = bits,
            PointerBitsSource = bitsSource,
            PageSize = pageSize,
            PageSizeSource = pageSource,
            Era = era,
            KernelVersion = version,
            EntrySize = entry,
            ReservedMemoryBytes = request.ReservedMemoryBytes ?? DefaultReservedMemoryBytes,
            EntriesPerBucket = request.EntriesPerBucket,
            CurrentMax = currentMax,
            CurrentHashSize = currentHash,
            CurrentCount = currentCount,
            Namespaces = NamespaceCensus.Take(root, kernel.TrackerKind),
            // Old kernels sized from num_physpages, which MemTotal understates; their start-up line says what they chose.
            StartupLine = sameKernel && era.SizesFromAllPhysicalPages && kernel.IsLoaded ? StartupLine.Find(root, kernel.Tracker) : null,
            IsInitialNamespace = kernel.IsInitialNamespace,
            Root = kernel.Root,
        };
        return inputs with { Context = [.. Describe(inputs), .. context] };
    }

    private static SizingInputs ResolvePlanned(RecommendationRequest request, KernelVersion? planned, List<string> context)
    {
        if (request.MemoryBytes is not { } memory)
        {
            throw new ConntrackException(ErrorIds.MemorySizeUnknown, ErrorKind.InvalidArgument,
                "Planning without a machine needs the RAM to size for.", null,
                "Give -MemoryBytes (and -KernelVersion), or give -Root to read a system.");
        }

        if (planned is not { } version)
        {
            throw new ConntrackException(ErrorIds.InvalidKernelVersion, ErrorKind.InvalidArgument,
                "Planning without a machine needs the kernel version to size for.", null,
                "Give -KernelVersion as 'uname -r' prints it (such as 5.15.0-91-generic), or give -Root to read a system.");
        }

        KernelEra era = EraTable.Find(EraTable.ExpectedTracker(version), version);
        (int bits, string bitsSource) = request.PointerBits is { } givenBits
            ? (givenBits, "given")
            : request.KernelVersion is { } release && KernelProbe.PointerBitsFromRelease(release) is int fromRelease
                ? (fromRelease, $"kernel release {release}")
                : (64, "assumed; give -PointerBits 32 for a 32-bit kernel");
        context.Add("Planned without a machine: nothing was read, so there is no current max, hash size or count to compare with.");
        var inputs = new SizingInputs
        {
            MemoryBytes = memory,
            MemorySource = "given",
            PointerBits = bits,
            PointerBitsSource = bitsSource,
            PageSize = request.PageSize ?? DefaultPageSize,
            PageSizeSource = request.PageSize is null ? "assumed; give -PageSize for kernels with larger pages" : "given",
            Era = era,
            KernelVersion = version.ToString(),
            EntrySize = request.EntrySize is { } e
                ? new EntrySize(e, EntrySizeOrigin.Given, "given (-EntrySize)")
                : EntrySizeProbe.Estimate(era, bits),
            ReservedMemoryBytes = request.ReservedMemoryBytes ?? DefaultReservedMemoryBytes,
            EntriesPerBucket = request.EntriesPerBucket,
            Root = null,
        };
        return inputs with { Context = [.. Describe(inputs), .. context] };
    }

    private static KernelVersion ParseVersion(string text)
    {
        KernelVersion version = ConntrackTuning.Engine.Kernel.KernelVersion.Parse(text);
        if (version < FirstConntrackKernel)
        {
            throw new ConntrackException(ErrorIds.InvalidKernelVersion, ErrorKind.InvalidArgument,
                $"Kernel {version} predates connection tracking, which arrived with netfilter in 2.4.", text,
                "Give a kernel version from 2.4.0 on.");
        }

        return version;
    }

    private static void ValidateRequest(RecommendationRequest r)
    {
        if (r.MemoryBytes is { } m)
        {
            ValidateMemory(m);
        }

        if (r.PointerBits is { } b)
        {
            ValidatePointerBits(b);
        }

        if (r.PageSize is { } p)
        {
            ValidatePageSize(p);
        }

        if (r.EntrySize is { } e && (e <= 0 || e > EntrySizeProbe.MaxPlausibleEntrySize))
        {
            throw Invalid($"An entry size of {e} bytes was given; conntrack entries take from about 100 to a few hundred bytes.", e,
                $"Give the bytes per entry between 1 and {F(EntrySizeProbe.MaxPlausibleEntrySize)} (the slab's objsize), or omit it to measure it.");
        }

        if (r.ReservedMemoryBytes is <= 0)
        {
            throw Invalid($"A reserve of {r.ReservedMemoryBytes} bytes was given; the reserve is the memory kept for everything but conntrack and must be more than 0.",
                r.ReservedMemoryBytes.Value, "Give the reserve in bytes, such as 128MB (the seed's figure for a console firewall).");
        }

        if (r.EntriesPerBucket is { } epb && (epb < 1 || epb > 8))
        {
            throw Invalid($"{epb} entries per bucket was given; the seed recommends 1 and the kernel's historical default is 8.", epb,
                "Give a whole number from 1 to 8.");
        }
    }

    private static IEnumerable<string> Describe(SizingInputs i)
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
            RecommendationProfile.KernelDefault => KernelDefaultProfile(inputs, kernelDefault, reasons),
            RecommendationProfile.Guide => GuideProfile(inputs, reasons),
            RecommendationProfile.FirewallOnly => FirewallOnlyProfile(inputs, reasons),
            RecommendationProfile.Balanced => BalancedProfile(inputs, kernelDefault, reasons),
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
            EntriesPerBucket = Math.Round((double)max / hash, 2),
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

    private static (long Max, long Hash) KernelDefaultProfile(SizingInputs inputs, KernelDefault kd, List<string> reasons)
    {
        reasons.Add("KernelDefault: what this kernel sets by itself when nothing is configured.");
        reasons.AddRange(kd.Steps);
        if (inputs.StartupLine is { } line)
        {
            reasons.Add($"The kernel's own start-up line says {F(line.Buckets)} buckets, {F(line.Max)} max ({line.Source}); a hashsize given at load would show there too.");
        }

        if (inputs.EntriesPerBucket is { } epb)
        {
            reasons.Add($"-EntriesPerBucket {epb} does not apply: this profile reports what the kernel does.");
        }

        return (kd.Max, kd.HashSize);
    }

    private static (long Max, long Hash) GuideProfile(SizingInputs inputs, List<string> reasons)
    {
        const long guideFloor = 128;
        long divisor = inputs.PointerBits / 32;
        long max = inputs.MemoryBytes / 16384 / divisor;
        reasons.Add($"Guide: the seed guide's formula without its caps, max = RAM / 16384 / (pointer bits / 32) = {F(inputs.MemoryBytes)} / 16384 / {divisor} = {F(max)}.");
        if (inputs.MemoryBytes > 1L << 30)
        {
            reasons.Add("The guide's 65,536 cap for machines over 1 GiB is left out: it was the kernel's default, and the guide says to set more by hand on such machines.");
        }

        if (max < guideFloor)
        {
            reasons.Add($"{F(max)} is below the guide's floor of {guideFloor}, so max = {guideFloor}.");
            max = guideFloor;
        }

        int epb = inputs.EntriesPerBucket ?? 8;
        long hash = HashForMax(inputs, max, epb, reasons, epb == 8 && inputs.EntriesPerBucket is null ? "the guide's HASHSIZE = CONNTRACK_MAX / 8" : $"-EntriesPerBucket {epb}");
        return (max, hash);
    }

    private static (long Max, long Hash) FirewallOnlyProfile(SizingInputs inputs, List<string> reasons)
    {
        long reserve = inputs.ReservedMemoryBytes;
        long budget = inputs.MemoryBytes - reserve;
        if (budget <= 0)
        {
            throw new ConntrackException(ErrorIds.ReserveExceedsMemory, ErrorKind.InvalidArgument,
                $"The reserve of {F(reserve)} bytes ({Size(reserve)}) is not below the RAM of {F(inputs.MemoryBytes)} bytes ({Size(inputs.MemoryBytes)}): nothing is left for the FirewallOnly table.",
                reserve.ToString(System.Globalization.CultureInfo.InvariantCulture), "Give -ReservedMemoryBytes below the RAM (the seed keeps 128MB of 512MB), or choose another -Profile.");
        }

        int epb = inputs.EntriesPerBucket ?? 1;
        int bucket = BucketSize(inputs.Era, inputs.PointerBits);
        long perBucket = (epb * inputs.EntrySize.Bytes) + bucket;
        long raw = budget / perBucket;
        if (raw < 1)
        {
            throw new ConntrackException(ErrorIds.ReserveExceedsMemory, ErrorKind.InvalidArgument,
                $"The reserve of {F(reserve)} bytes leaves {F(budget)} bytes, less than one bucket with its entries ({F(perBucket)} bytes).",
                reserve.ToString(System.Globalization.CultureInfo.InvariantCulture), "Give a smaller -ReservedMemoryBytes, or choose another -Profile.");
        }

        string formula = epb == 1
            ? $"max = hash size = (RAM - reserve) / (entry size + bucket size) = ({F(inputs.MemoryBytes)} - {F(reserve)}) / ({F(inputs.EntrySize.Bytes)} + {bucket}) = {F(budget)} / {F(perBucket)} = {F(raw)}"
            : $"hash size = (RAM - reserve) / ({epb} x entry size + bucket size) = ({F(inputs.MemoryBytes)} - {F(reserve)}) / ({epb} x {F(inputs.EntrySize.Bytes)} + {bucket}) = {F(budget)} / {F(perBucket)} = {F(raw)}";
        reasons.Add($"FirewallOnly: the seed's ideal case, everything but a {Size(reserve)} reserve goes to conntrack: {formula}.");
        long hash = ShapeDown(raw, inputs.Era.HashShape);
        reasons.Add(Capitalized(ShapeWords(inputs.Era, raw, hash, down: true)));
        hash = AtLeastAllocation(inputs, hash, reasons);
        long max = epb * hash;
        reasons.Add(epb == 1
            ? $"max = hash size = {F(hash)} (one entry per bucket, the seed's choice where memory allows and performance matters)."
            : $"max = {epb} x {F(hash)} = {F(max)} (-EntriesPerBucket {epb}).");
        return (max, hash);
    }

    private static (long Max, long Hash) BalancedProfile(SizingInputs inputs, KernelDefault kd, List<string> reasons)
    {
        int epb = inputs.EntriesPerBucket ?? 1;
        int bucket = BucketSize(inputs.Era, inputs.PointerBits);
        long share = inputs.MemoryBytes / BalancedShareDivisor;
        long perBucket = (epb * inputs.EntrySize.Bytes) + bucket;
        reasons.Add($"Balanced: sized for a general-purpose server that must not drop connections. A full table may use at most 1/{BalancedShareDivisor} of RAM, never less than the kernel's own default, never less than twice the current count, {(epb == 1 ? "one entry per bucket" : $"{epb} entries per bucket (-EntriesPerBucket)")}.");
        long raw = share / perBucket;
        long hash = Math.Max(1, ShapeDown(raw, inputs.Era.HashShape));
        reasons.Add($"Share: RAM / {BalancedShareDivisor} = {F(share)} bytes; / ({epb} x {F(inputs.EntrySize.Bytes)} + {bucket}) = {F(raw)} buckets; {ShapeWords(inputs.Era, raw, hash, down: true)}");
        long max = epb * hash;

        long floor = kd.Max;
        string floorWhy = $"the kernel's own default max {F(kd.Max)}";
        if (inputs.CurrentCount is { } count && 2 * count > floor)
        {
            floor = 2 * count;
            floorWhy = $"twice the current count, 2 x {F(count)} = {F(floor)}";
        }

        if (max < floor)
        {
            long needed = CeilDiv(floor, epb);
            hash = ShapeUp(needed, inputs.Era.HashShape);
            max = epb * hash;
            reasons.Add($"{F(epb * ShapeDown(raw, inputs.Era.HashShape))} would be below {floorWhy}, which wins over the 1/{BalancedShareDivisor} share: {F(floor)} / {epb} = {F(needed)} buckets; {ShapeWords(inputs.Era, needed, hash, down: false)} max = {epb} x {F(hash)} = {F(max)}.");
        }
        else
        {
            reasons.Add($"max = {epb} x {F(hash)} = {F(max)}, not below {floorWhy}{(inputs.CurrentCount is null ? " (the current count is unknown)" : "")}.");
        }

        hash = AtLeastAllocation(inputs, hash, reasons);
        max = epb * hash;
        reasons.Add(epb == 1
            ? "One entry per bucket, as the 5.15 kernel chooses: every connection is hashed twice (original and reply direction), so a lookup in a full table walks about two nodes. kube-proxy writes hashsize = max / 4 and the guide's kernels used 8; a bucket costs one pointer against hundreds of bytes per entry, so 1 costs little memory."
            : $"{epb} entries per bucket: every connection is hashed twice, so a lookup in a full table walks about {2 * epb} nodes.");
        return (max, hash);
    }

    /// <summary>The hash for a given max: the nearest shaped size at or above max / entries per bucket.</summary>
    private static long HashForMax(SizingInputs inputs, long max, int epb, List<string> reasons, string why)
    {
        long needed = CeilDiv(max, epb);
        long hash = ShapeUp(needed, inputs.Era.HashShape);
        reasons.Add($"Hash size for {why}: {F(max)} / {epb} = {F(needed)}; {ShapeWords(inputs.Era, needed, hash, down: false)}");
        return AtLeastAllocation(inputs, hash, reasons);
    }

    /// <summary>From 2.6.24 the kernel allocates at least one page of bucket heads; a smaller size reads back larger.</summary>
    private static long AtLeastAllocation(SizingInputs inputs, long hash, List<string> reasons)
    {
        long allocated = AllocatedBuckets(hash, inputs.Era, inputs.PointerBits, inputs.PageSize);
        if (allocated != hash)
        {
            reasons.Add($"The kernel rounds {F(hash)} buckets up to a multiple of {F(inputs.PageSize / BucketSize(inputs.Era, inputs.PointerBits))} (a page of bucket heads), so the hash size it will read back is {F(allocated)}.");
        }

        return allocated;
    }

    private static (long Max, long Hash) ApplyKernelBounds(SizingInputs inputs, RecommendationProfile profile, long max, long hash, List<string> reasons, List<string> warnings)
    {
        if (hash > KernelHashSizeBound)
        {
            long bounded = ShapeDown(KernelHashSizeBound, inputs.Era.HashShape);
            warnings.Add($"{profile}: a hash size of {F(hash)} is over the kernel's bound of {F(KernelHashSizeBound)} (INT_MAX / 8), which it refuses; recommending {F(bounded)} instead.");
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

    private static string ShapeWords(KernelEra era, long from, long to, bool down) => era.HashShape == HashShape.Prime
        ? $"before 2.4.21 the hash was additive and needs a prime bucket count, so the {(down ? "largest prime not above" : "smallest prime not below")} {F(from)}: {F(to)}."
        : $"from 2.4.21 the hash spreads well over any size and the guide advises a power of two, so the {(down ? "largest power of two not above" : "smallest power of two not below")} {F(from)}: {F(to)}.";

    private static string Capitalized(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];

    private static long CeilDiv(long a, long b) => (a + b - 1) / b;

    /// <summary>The smallest power of two, or prime, not below n.</summary>
    internal static long ShapeUp(long n, HashShape shape)
    {
        if (n <= 1)
        {
            return shape == HashShape.Prime ? 2 : 1;
        }

        if (shape == HashShape.PowerOfTwo)
        {
            long p = 1;
            while (p < n)
            {
                p <<= 1;
            }

            return p;
        }

        long c = n;
        while (!IsPrime(c))
        {
            c++;
        }

        return c;
    }

    /// <summary>The largest power of two, or prime, not above n; 1 when there is none.</summary>
    internal static long ShapeDown(long n, HashShape shape)
    {
        if (n < 2)
        {
            return 1;
        }

        if (shape == HashShape.PowerOfTwo)
        {
            long p = 1;
            while (p <= n / 2)
            {
                p <<= 1;
            }

            return p;
        }

        long c = n;
        while (!IsPrime(c))
        {
            c--;
        }

        return c;
    }

    internal static bool IsPrime(long n)
    {
        if (n < 2)
        {
            return false;
        }

        if (n % 2 == 0)
        {
            return n == 2;
        }

        for (long d = 3; d * d <= n; d += 2)
        {
            if (n % d == 0)
            {
                return false;
            }
        }

        return true;
    }
}
