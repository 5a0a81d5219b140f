using ConntrackTuning.Engine.Kernel;

namespace ConntrackTuning.Engine.Sizing;

/// <summary>
/// The table size a kernel picks for itself at start-up: the bucket count (HASHSIZE), the max (CONNTRACK_MAX)
/// derived from it, and each step of the arithmetic in words.
/// </summary>
/// <param name="Max">The max the kernel sets.</param>
/// <param name="HashSize">The buckets the kernel allocates (after its rounding).</param>
/// <param name="ComputedBuckets">The bucket count before the allocator rounded it.</param>
/// <param name="MaxFactor">Max / buckets before rounding: 8, 4 or 1 by era, 8 whenever hashsize was given.</param>
/// <param name="Steps">The arithmetic, one sentence per step, with the numbers.</param>
internal sealed record KernelDefault(long Max, long HashSize, long ComputedBuckets, int MaxFactor, IReadOnlyList<string> Steps);

/// <summary>
/// The kernel's own sizing of the conntrack table, per era (KERNEL-FACTS §3), as one routine driven by the
/// era table's columns (<see cref="KernelEra.Sizing"/>, <see cref="KernelEra.BucketHeadPointers"/>,
/// <see cref="KernelEra.BucketRounding"/>) and the per-rule numbers below. Comparisons are on page counts and
/// strict, as in the kernel: exactly 4 GiB is not "over 4 GiB".
/// </summary>
internal static class KernelDefaults
{
    /// <summary>The page size assumed when nothing tells: 4 KiB, as on x86 and most arm64 and riscv kernels.</summary>
    public const int DefaultPageSize = 4096;

    private const long GiB = 1L << 30;

    /// <summary>The pointer size a kernel's rules are worked out for: the rules know 32 and 64 bits, and an unknown size is taken as 64.</summary>
    internal static int PointerBits(ConntrackKernel kernel) => kernel.PointerBits == 32 ? 32 : 64;

    /// <summary>
    /// The page size of a root's kernel, with where it came from: on the running kernel this process's, so a 64 KiB-page
    /// arm64 host is predicted right; under a root nothing states it and <see cref="DefaultPageSize"/> is assumed.
    /// </summary>
    internal static (int Bytes, string Source) RootPageSize(SystemRoot root) =>
        root.IsLive ? (Environment.SystemPageSize, "this machine") : (DefaultPageSize, "assumed; nothing under the root states it");

    /// <summary>The kernel's divisor: a bucket head for every 16 KiB of RAM ("use 1/16384 of memory"), which the seed guide's formula keeps.</summary>
    internal const long BytesPerBucketHead = 16384;

    /// <summary>
    /// Max = 8 x buckets: the kernel's ratio up to 2.6.23 and, in every era, when a hash size is given (the rules' given
    /// factor below). The seed guide kept it as HASHSIZE = CONNTRACK_MAX / 8, and it is the most entries per bucket
    /// Test-ConntrackHealth accepts by default and Get-ConntrackRecommendation takes.
    /// </summary>
    internal const int ClassicEntriesPerBucket = 8;

    /// <summary>A tier: when RAM is over OverBytes (compared in pages), the bucket count is set to Buckets.</summary>
    private sealed record Tier(long OverBytes, long Buckets, bool Only64Bit);

    /// <summary>
    /// The numbers of one sizing rule: floor, tiers (first match wins), the max factor when the kernel sizes
    /// the table itself and when hashsize was given, and whether the rule has a hashsize option at all.
    /// </summary>
    private sealed record Rule(long Floor, Tier[] Tiers, int ComputedFactor, int GivenFactor, bool TakesHashSize);

    private static readonly Dictionary<SizingRule, Rule> Rules = new()
    {
        [SizingRule.ListUncapped] = new(0, [], 8, 8, TakesHashSize: false),
        [SizingRule.ListCapped] = new(16, [new(GiB, 8192, false)], 8, 8, TakesHashSize: true),
        [SizingRule.HlistCapped] = new(32, [new(GiB, 16384, false)], 4, 8, TakesHashSize: true),
        [SizingRule.HlistTiered] = new(32, [new(4 * GiB, 65536, false), new(GiB, 16384, false)], 4, 8, TakesHashSize: true),
        [SizingRule.Sanitized] = new(1024, [new(4 * GiB, 262144, true), new(GiB, 65536, false)], 1, 8, TakesHashSize: true),
    };

    /// <summary>
    /// What the kernel of an era sets when it starts on a machine of this size.
    /// </summary>
    /// <param name="memoryBytes">The RAM the kernel counts: MemTotal in bytes (totalram_pages); see the steps.</param>
    /// <param name="pointerBits">32 or 64.</param>
    /// <param name="era">The era row, from <see cref="EraTable"/>.</param>
    /// <param name="hashSizeGivenAtLoad">The hashsize module option or nf_conntrack.hashsize= boot value, if any.</param>
    /// <param name="pageSize">The kernel's page size in bytes.</param>
    public static KernelDefault Compute(long memoryBytes, int pointerBits, KernelEra era, long? hashSizeGivenAtLoad = null, int pageSize = DefaultPageSize)
    {
        ArgumentNullException.ThrowIfNull(era);
        ValidateMemory(memoryBytes);
        ValidatePointerBits(pointerBits);
        ValidatePageSize(pageSize);
        if (hashSizeGivenAtLoad is <= 0)
        {
            throw Invalid($"A hash size of {hashSizeGivenAtLoad} was given; a hash size is a number of buckets, at least 1.",
                hashSizeGivenAtLoad.Value, "Give the hashsize the kernel was loaded with, or none.");
        }

        Rule rule = Rules[era.Sizing];
        int bucketBytes = BucketSize(era, pointerBits);
        long pages = memoryBytes / pageSize;
        var steps = new List<string>();
        long buckets;
        int factor;

        if (hashSizeGivenAtLoad is { } given && rule.TakesHashSize)
        {
            buckets = given;
            factor = rule.GivenFactor;
            steps.Add($"hashsize={F(given)} was given at load or boot, so the kernel takes it as the bucket count and does not size the table from RAM.");
        }
        else
        {
            if (hashSizeGivenAtLoad is { } ignored)
            {
                steps.Add($"Kernels of era {era.Id} have no hashsize option; the given {F(ignored)} is ignored.");
            }

            factor = rule.ComputedFactor;
            buckets = FromMemory(rule, era, pointerBits, pageSize, pages, bucketBytes, steps);
        }

        long hashSize = buckets;
        long maxBase = buckets;
        long multiple = pageSize / bucketBytes;
        if (era.BucketRounding != BucketRounding.None)
        {
            hashSize = RoundUp(buckets, multiple);
            string rounded = hashSize == buckets
                ? $"{F(buckets)} is already a multiple of {F(multiple)} (one {F(pageSize)}-byte page of {bucketBytes}-byte bucket heads), so the allocator keeps it."
                : $"The allocator rounds {F(buckets)} up to a multiple of {F(multiple)} (one {F(pageSize)}-byte page of {bucketBytes}-byte bucket heads): {F(hashSize)} buckets.";
            steps.Add(rounded);
            if (era.BucketRounding == BucketRounding.PageMultiple)
            {
                maxBase = hashSize;
            }
            else if (hashSize != buckets)
            {
                steps.Add($"In this era the max is computed before that rounding (each network namespace rounds its own table), so it follows {F(buckets)}, not {F(hashSize)}.");
            }
        }

        long max = factor * maxBase;
        steps.Add(hashSizeGivenAtLoad is not null && rule.TakesHashSize
            ? $"max = {factor} x {F(maxBase)} = {F(max)} (a given hashsize always gives 8 entries per bucket)."
            : $"max = {factor} x {F(maxBase)} = {F(max)} ({FactorWords(rule)}).");
        return new KernelDefault(max, hashSize, buckets, factor, steps);
    }

    /// <summary>Bytes of one bucket head: a list_head (two pointers) before 2.6.24, an hlist_head (one) after.</summary>
    public static int BucketSize(KernelEra era, int pointerBits)
    {
        ArgumentNullException.ThrowIfNull(era);
        ValidatePointerBits(pointerBits);
        return pointerBits / 8 * era.BucketHeadPointers;
    }

    /// <summary>The bucket count the allocator gives for a requested one: a page multiple from 2.6.24, else unchanged.</summary>
    public static long AllocatedBuckets(long requested, KernelEra era, int pointerBits, int pageSize = DefaultPageSize)
    {
        ArgumentNullException.ThrowIfNull(era);
        return era.BucketRounding == BucketRounding.None ? requested : RoundUp(requested, pageSize / BucketSize(era, pointerBits));
    }

    private static long FromMemory(Rule rule, KernelEra era, int pointerBits, int pageSize, long pages, int bucketBytes, List<string> steps)
    {
        long ram = pages * pageSize;
        string listName = era.BucketHeadPointers == 2 ? "list_head" : "hlist_head";
        steps.Add($"RAM = {F(pages)} pages of {F(pageSize)} bytes = {F(ram)} bytes ({era.Description}).");
        if (era.SizesFromAllPhysicalPages)
        {
            steps.Add("Kernels of this era counted every physical page (num_physpages), a little more than MemTotal, so their own figure can be slightly higher than this one.");
        }

        if (pointerBits == 32 && ram > uint.MaxValue)
        {
            // The kernel shifts the page count into an unsigned long; on a 32-bit kernel that wraps at 4 GiB.
            long wrapped = ram & uint.MaxValue;
            steps.Add($"On a 32-bit kernel pages x page size wraps at 4 GiB: the formula sees {F(wrapped)} bytes.");
            ram = wrapped;
        }

        long buckets = ram / BytesPerBucketHead / bucketBytes;
        steps.Add($"buckets = RAM / 16384 / {bucketBytes} (bytes per {listName} on {pointerBits}-bit) = {F(buckets)}.");

        foreach (Tier tier in rule.Tiers)
        {
            long overPages = tier.OverBytes / pageSize;
            if (pages <= overPages)
            {
                continue;
            }

            if (tier.Only64Bit && pointerBits != 64)
            {
                steps.Add($"RAM is over {Size(tier.OverBytes)}, but the {F(tier.Buckets)}-bucket tier is for 64-bit kernels only.");
                continue;
            }

            buckets = tier.Buckets;
            steps.Add($"RAM is over {Size(tier.OverBytes)} ({F(pages)} pages > {F(overPages)}){(tier.Only64Bit ? " on a 64-bit kernel" : "")}, so buckets = {F(tier.Buckets)}.");
            break;
        }

        if (buckets < rule.Floor)
        {
            steps.Add($"{F(buckets)} is below the floor of {F(rule.Floor)}, so buckets = {F(rule.Floor)}.");
            buckets = rule.Floor;
        }

        return buckets;
    }

    private static string FactorWords(Rule rule) => rule.ComputedFactor == rule.GivenFactor
        ? $"always {rule.ComputedFactor} entries per bucket in this era"
        : $"factor {rule.ComputedFactor} when the kernel sizes the table itself; {rule.GivenFactor} when hashsize is given at load";

    internal static long RoundUp(long value, long multiple) => (value + multiple - 1) / multiple * multiple;

    internal static void ValidateMemory(long memoryBytes)
    {
        if (memoryBytes <= 0)
        {
            throw Invalid($"A memory size of {memoryBytes} bytes was given; it must be more than 0.", memoryBytes,
                "Give the RAM in bytes, such as 536870912 or 512MB in PowerShell.");
        }
    }

    internal static void ValidatePointerBits(int pointerBits)
    {
        if (pointerBits is not (32 or 64))
        {
            throw Invalid($"{pointerBits}-bit pointers were given; Linux conntrack runs on 32-bit and 64-bit kernels only.", pointerBits,
                "Give 32 or 64.");
        }
    }

    internal static void ValidatePageSize(int pageSize)
    {
        if (pageSize < 4096 || pageSize > 1 << 20 || (pageSize & (pageSize - 1)) != 0)
        {
            throw Invalid($"A page size of {pageSize} bytes was given; Linux pages are a power of two from 4096 to 1048576 bytes.", pageSize,
                "Give the kernel's page size ('getconf PAGESIZE'), usually 4096.");
        }
    }

    internal static ConntrackException Invalid(string message, object value, string action) =>
        new(ErrorIds.InvalidSizingInput, ErrorKind.InvalidArgument, message, Convert.ToString(value, CultureInfo.InvariantCulture), action);

    /// <summary>A count with thousands separators, the way the reasons print every number.</summary>
    internal static string F(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>"1 GiB", "4 GiB", "512 MiB", or "1.5 MiB": sizes in the reasons.</summary>
    internal static string Size(long bytes)
    {
        if (bytes >= GiB && bytes % GiB == 0)
        {
            return F(bytes / GiB) + " GiB";
        }

        double mib = bytes / 1048576.0;
        return mib >= 1024
            ? (mib / 1024).ToString("#,0.#", CultureInfo.InvariantCulture) + " GiB"
            : mib.ToString("#,0.#", CultureInfo.InvariantCulture) + " MiB";
    }
}
