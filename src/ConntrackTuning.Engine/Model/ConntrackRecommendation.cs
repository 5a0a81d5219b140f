namespace ConntrackTuning;

/// <summary>
/// A recommended table size for one profile, with what it costs and why. Output of Get-ConntrackRecommendation.
/// Max binds by name to Set-ConntrackLimit -Max, HashSize to Set-ConntrackHashSize -HashSize, and Root to the
/// -Root of either, so a piped recommendation is applied to the system it was made for.
/// </summary>
public sealed class ConntrackRecommendation
{
    /// <summary>KernelDefault, Guide, FirewallOnly or Balanced.</summary>
    public string Profile { get; init; } = "";

    /// <summary>The recommended CONNTRACK_MAX: the most entries each network namespace's table may hold.</summary>
    public long Max { get; init; }

    /// <summary>The recommended HASHSIZE (buckets), as the kernel will allocate it (its rounding already applied).</summary>
    public long HashSize { get; init; }

    /// <summary>Max / HashSize: the entries a bucket holds when the table is full.</summary>
    public double EntriesPerBucket { get; init; }

    /// <summary>Max x EntrySize + HashSize x BucketSize: kernel memory of one full table, in bytes.</summary>
    public long EstimatedMemoryBytes { get; init; }

    /// <summary>Bytes one entry takes (the slab slot), from EntrySizeSource.</summary>
    public long EntrySize { get; init; }

    /// <summary>Where EntrySize came from: the live slab, the tracker's start-up line, a parameter, or the era's estimate.</summary>
    public string EntrySizeSource { get; init; } = "";

    /// <summary>Bytes of one bucket head: one pointer, two before 2.6.24.</summary>
    public int BucketSize { get; init; }

    /// <summary>The RAM the sizing started from, in bytes.</summary>
    public long MemoryBytes { get; init; }

    /// <summary>32 or 64.</summary>
    public int PointerBits { get; init; }

    /// <summary>The kernel's page size in bytes; the kernel rounds hash sizes to a page of bucket heads from 2.6.24.</summary>
    public int PageSize { get; init; }

    /// <summary>The kernel version the sizing is for, such as 2.6.5 or 6.18.44; null when no file under the root tells.</summary>
    public string? KernelVersion { get; init; }

    /// <summary>The era table row whose rules were applied.</summary>
    public string Era { get; init; } = "";

    /// <summary>The max in force now; null when planning without a machine or when conntrack is not loaded.</summary>
    public long? CurrentMax { get; init; }

    /// <summary>The hash size in force now; null when unknown.</summary>
    public long? CurrentHashSize { get; init; }

    /// <summary>Entries in the table of the namespace read, now; null when unknown.</summary>
    public long? CurrentCount { get; init; }

    /// <summary>The max this kernel picks by itself when nothing is set.</summary>
    public long KernelDefaultMax { get; init; }

    /// <summary>The hash size this kernel picks by itself when nothing is set.</summary>
    public long KernelDefaultHashSize { get; init; }

    /// <summary>Each step of the arithmetic, in words and numbers.</summary>
    public IReadOnlyList<string> Reasons { get; init; } = [];

    /// <summary>The system the recommendation is for ("/" for this machine); null when it was planned without one.</summary>
    public string? Root { get; init; }
}
