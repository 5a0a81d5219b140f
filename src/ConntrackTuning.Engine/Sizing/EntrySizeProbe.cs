using ConntrackTuning.Engine.Kernel;

namespace ConntrackTuning.Engine.Sizing;

/// <summary>Where the size of one conntrack entry came from, best first.</summary>
internal enum EntrySizeOrigin
{
    /// <summary>Given by the caller (-EntrySize).</summary>
    Given,

    /// <summary>Read from the tracker's slab cache: sys/kernel/slab or proc/slabinfo.</summary>
    Slab,

    /// <summary>Stated by the tracker's start-up line, "B bytes per conntrack" (ip_conntrack only).</summary>
    StartupLine,

    /// <summary>The era table's estimate for the pointer size.</summary>
    Estimate,
}

/// <summary>The bytes one entry takes, and the evidence.</summary>
internal sealed record EntrySize(long Bytes, EntrySizeOrigin Origin, string Source);

/// <summary>
/// Finds the size of one conntrack entry under a root, in order: the live slab cache, the tracker's start-up
/// line, the era's estimate. The slab figure is the slot (alignment included), which is what a full table
/// really costs; the start-up line states sizeof the structure.
/// </summary>
internal static class EntrySizeProbe
{
    /// <summary>The largest entry size believed: anything bigger in a file is corruption, not a kernel.</summary>
    internal const long MaxPlausibleEntrySize = 65536;

    /// <summary>The measured entry size of the tracker under the root, or null when nothing there states it.</summary>
    public static EntrySize? Measure(SystemRoot root, Tracker tracker)
    {
        ArgumentNullException.ThrowIfNull(root);
        string name = EraTable.TrackerName(tracker);
        return FromSysfs(root, name) ?? FromSlabinfo(root, name) ?? FromStartupLine(root, tracker, name);
    }

    /// <summary>The era's estimate, labelled as one.</summary>
    public static EntrySize Estimate(KernelEra era, int pointerBits)
    {
        ArgumentNullException.ThrowIfNull(era);
        KernelDefaults.ValidatePointerBits(pointerBits);
        int bytes = pointerBits == 64 ? era.EstimatedEntrySize64 : era.EstimatedEntrySize32;
        return new EntrySize(bytes, EntrySizeOrigin.Estimate,
            $"estimate for {era.TrackerName} era {era.Id} on {pointerBits}-bit (no slab figure or start-up line was readable)");
    }

    private static EntrySize? FromSysfs(SystemRoot root, string name)
    {
        // SLUB lists each cache in sysfs; slab_size is the slot, object_size the structure inside it.
        string folder = $"sys/kernel/slab/{name}";
        long? slot = ReadSize(root, folder + "/slab_size");
        long? objectSize = ReadSize(root, folder + "/object_size");
        if (slot is { } s)
        {
            string detail = objectSize is { } o && o != s ? $", the slot of a {o}-byte object (object_size)" : "";
            return new EntrySize(s, EntrySizeOrigin.Slab, $"{root.Full(folder + "/slab_size")}{detail}");
        }

        return objectSize is { } only ? new EntrySize(only, EntrySizeOrigin.Slab, root.Full(folder + "/object_size")) : null;
    }

    private static EntrySize? FromSlabinfo(SystemRoot root, string name)
    {
        const string file = "proc/slabinfo";
        foreach (string line in root.ReadLines(file))
        {
            string[] t = line.Split((char[]?)null, 5, StringSplitOptions.RemoveEmptyEntries);
            if (t.Length < 5 || !IsTrackerCache(t[0], name))
            {
                continue;
            }

            // "name active_objs num_objs objsize ..." in every slabinfo version from 1.1 (2.4) to 2.1.
            if (long.TryParse(t[3], NumberStyles.None, CultureInfo.InvariantCulture, out long size) && size is > 0 and <= MaxPlausibleEntrySize)
            {
                return new EntrySize(size, EntrySizeOrigin.Slab, $"{root.Full(file)}: objsize of cache {t[0]}");
            }

            root.Log.Verbose($"{root.Full(file)}: the {t[0]} row has objsize '{t[3]}', which is not a size; ignored.");
        }

        return null;
    }

    /// <summary>
    /// "nf_conntrack" (4.7 on), "ip_conntrack", or one of the per-namespace caches "nf_conntrack_ffff8800..." of
    /// 2.6.3x to 4.6; never "nf_conntrack_expect".
    /// </summary>
    internal static bool IsTrackerCache(string cache, string name)
    {
        if (cache == name)
        {
            return true;
        }

        if (!cache.StartsWith(name + "_", StringComparison.Ordinal) || cache.Length == name.Length + 1)
        {
            return false;
        }

        foreach (char c in cache.AsSpan(name.Length + 1))
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    private static EntrySize? FromStartupLine(SystemRoot root, Tracker tracker, string name)
    {
        // Only ip_conntrack printed "B bytes per conntrack"; nf_conntrack's line never had it.
        if (tracker != Tracker.IpConntrack)
        {
            return null;
        }

        if (StartupLine.Find(root, name) is { BytesPerEntry: { } bytes } line && bytes is > 0 and <= (int)MaxPlausibleEntrySize)
        {
            return new EntrySize(bytes, EntrySizeOrigin.StartupLine, $"{line.Source}: {line.Line}");
        }

        return null;
    }

    private static long? ReadSize(SystemRoot root, string relative)
    {
        string? text = root.TryReadText(relative);
        if (text is null)
        {
            return null;
        }

        if (long.TryParse(text.AsSpan().Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long size) && size is > 0 and <= MaxPlausibleEntrySize)
        {
            return size;
        }

        root.Log.Verbose($"{root.Full(relative)} holds '{text.Trim()}', which is not an entry size; ignored.");
        return null;
    }
}
