namespace ConntrackTuning.Engine.Sizing;

/// <summary>
/// The one estimate of what a full table costs on a probed kernel, used by Set-ConntrackLimit's memory check and
/// by Test-ConntrackHealth's suggested max alike, so a max the health check suggests is one the change accepts.
/// </summary>
internal static class TableMemory
{
    /// <summary>
    /// The bytes one entry takes on this kernel: the size the machine states (its slab cache, or the tracker's
    /// start-up line), else the era's estimate for its pointer size. Get-ConntrackRecommendation takes the same.
    /// </summary>
    internal static EntrySize EntrySize(ConntrackKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        return EntrySizeProbe.Measure(kernel.SystemRoot, kernel.TrackerKind) ?? EntrySizeProbe.Estimate(kernel.EraRow, KernelDefaults.PointerBits(kernel));
    }

    /// <summary>The bytes of one hash bucket head on this kernel.</summary>
    internal static int BucketBytes(ConntrackKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        return KernelDefaults.BucketSize(kernel.EraRow, KernelDefaults.PointerBits(kernel));
    }

    /// <summary>Kernel memory of a full table: max entries of the given size and the hash table's bucket heads.</summary>
    internal static long FullTableBytes(ConntrackKernel kernel, EntrySize entry, long max, long buckets)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return checked((max * entry.Bytes) + (buckets * BucketBytes(kernel)));
    }

    /// <summary>The largest max whose full table, at one bucket per entry, fits in the given bytes.</summary>
    internal static long LargestMaxWithin(ConntrackKernel kernel, EntrySize entry, long bytes)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return Math.Max(0, bytes) / (entry.Bytes + BucketBytes(kernel));
    }
}
