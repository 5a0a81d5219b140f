using ConntrackTuning.Engine.Kernel;
using static ConntrackTuning.Engine.Sizing.KernelDefaults;

namespace ConntrackTuning.Engine.Sizing;

/// <summary>How each profile sizes the table (max and hash size) from the resolved inputs, with the reason for every step.</summary>
internal static class SizingProfiles
{
    internal static (long Max, long Hash) KernelDefaultProfile(SizingInputs inputs, KernelDefault kd, List<string> reasons)
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

    internal static (long Max, long Hash) GuideProfile(SizingInputs inputs, List<string> reasons)
    {
        const long guideFloor = 128;
        long divisor = inputs.PointerBits / 32;
        long max = inputs.MemoryBytes / BytesPerBucketHead / divisor;
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

        int epb = inputs.EntriesPerBucket ?? ClassicEntriesPerBucket;
        long hash = HashForMax(inputs, max, epb, reasons, inputs.EntriesPerBucket is null ? $"the guide's HASHSIZE = CONNTRACK_MAX / {epb}" : $"-EntriesPerBucket {epb}");
        return (max, hash);
    }

    internal static (long Max, long Hash) FirewallOnlyProfile(SizingInputs inputs, List<string> reasons)
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
        long hash = HashSizeMath.ShapeDown(raw, inputs.Era.HashShape);
        reasons.Add(Recommender.Capitalized(Recommender.ShapeWords(inputs.Era, raw, hash, down: true)));
        hash = AtLeastAllocation(inputs, hash, reasons);
        long max = epb * hash;
        reasons.Add(epb == 1
            ? $"max = hash size = {F(hash)} (one entry per bucket, the seed's choice where memory allows and performance matters)."
            : $"max = {epb} x {F(hash)} = {F(max)} (-EntriesPerBucket {epb}).");
        return (max, hash);
    }

    internal static (long Max, long Hash) BalancedProfile(SizingInputs inputs, KernelDefault kd, List<string> reasons)
    {
        int epb = inputs.EntriesPerBucket ?? 1;
        int bucket = BucketSize(inputs.Era, inputs.PointerBits);
        long share = inputs.MemoryBytes / Recommender.BalancedShareDivisor;
        long perBucket = (epb * inputs.EntrySize.Bytes) + bucket;
        reasons.Add($"Balanced: sized for a general-purpose server that must not drop connections. A full table may use at most 1/{Recommender.BalancedShareDivisor} of RAM, never less than the kernel's own default, never less than twice the current count, {(epb == 1 ? "one entry per bucket" : $"{epb} entries per bucket (-EntriesPerBucket)")}.");
        long raw = share / perBucket;
        long hash = Math.Max(1, HashSizeMath.ShapeDown(raw, inputs.Era.HashShape));
        reasons.Add($"Share: RAM / {Recommender.BalancedShareDivisor} = {F(share)} bytes; / ({epb} x {F(inputs.EntrySize.Bytes)} + {bucket}) = {F(raw)} buckets; {Recommender.ShapeWords(inputs.Era, raw, hash, down: true)}");
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
            long needed = Recommender.CeilDiv(floor, epb);
            hash = HashSizeMath.ShapeUp(needed, inputs.Era.HashShape);
            max = epb * hash;
            reasons.Add($"{F(epb * HashSizeMath.ShapeDown(raw, inputs.Era.HashShape))} would be below {floorWhy}, which wins over the 1/{Recommender.BalancedShareDivisor} share: {F(floor)} / {epb} = {F(needed)} buckets; {Recommender.ShapeWords(inputs.Era, needed, hash, down: false)} max = {epb} x {F(hash)} = {F(max)}.");
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
        long needed = Recommender.CeilDiv(max, epb);
        long hash = HashSizeMath.ShapeUp(needed, inputs.Era.HashShape);
        reasons.Add($"Hash size for {why}: {F(max)} / {epb} = {F(needed)}; {Recommender.ShapeWords(inputs.Era, needed, hash, down: false)}");
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
}
