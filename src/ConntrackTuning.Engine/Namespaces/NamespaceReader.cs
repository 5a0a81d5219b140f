using ConntrackTuning.Engine.KernelLog;
using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning.Engine.Namespaces;

/// <summary>The table-full messages of this boot, per namespace inode ("" for messages that name none).</summary>
internal sealed record TableFullLog(IReadOnlyDictionary<string, long> Counts, IReadOnlyDictionary<string, DateTime> Last)
{
    public static readonly TableFullLog Empty = new(new Dictionary<string, long>(), new Dictionary<string, DateTime>());

    /// <summary>The time of each message per namespace inode (null when undated), to split the messages of a reused inode.</summary>
    public IReadOnlyDictionary<string, List<DateTime?>> Times { get; init; } = new Dictionary<string, List<DateTime?>>();

    /// <summary>
    /// The messages of one namespace logged since it was born, their last time, and those of the same inode before
    /// it (an earlier namespace's, now gone) with their first and last time.
    /// </summary>
    public (long Count, DateTime? Last, int Older, DateTime? OlderFirst, DateTime? OlderLast) Since(string key, DateTime? birth)
    {
        if (birth is null || !Times.TryGetValue(key, out List<DateTime?>? times))
        {
            return (Counts.GetValueOrDefault(key), Last.TryGetValue(key, out DateTime l) ? l : null, 0, null, null);
        }

        var older = times.Where(t => NamespaceBirth.Predates(t, birth)).Select(t => t!.Value).ToList();
        DateTime? last = times.Where(t => t is not null && !NamespaceBirth.Predates(t, birth)).Max();
        return (times.Count - older.Count, last, older.Count, older.Count > 0 ? older.Min() : null, older.Count > 0 ? older.Max() : null);
    }

    /// <summary>Reads this boot's kernel log (the whole log of a tree under -Root); an unreadable log is a verbose note and no messages.</summary>
    public static TableFullLog Read(SystemRoot root) => Read(root, out _) ?? Empty;

    /// <summary>
    /// The same, or null with the reason when the log cannot be read (kernel.dmesg_restrict for a user other than root,
    /// a tree without logs): then no namespace's count is known, which 0 would misstate.
    /// </summary>
    public static TableFullLog? Read(SystemRoot root, out string? error)
    {
        error = null;
        ArgumentNullException.ThrowIfNull(root);
        TimeWindow window = root.IsLive && KernelLogSources.BootTime(root) is { } boot ? new TimeWindow(boot.AddSeconds(-1), null) : TimeWindow.All;
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var last = new Dictionary<string, DateTime>(StringComparer.Ordinal);
        var times = new Dictionary<string, List<DateTime?>>(StringComparer.Ordinal);
        try
        {
            var scanner = new DropEventScanner(window);
            foreach (ConntrackDropEvent drop in DropEventReader.Read(DropEventReader.DefaultInputs(root, window), scanner))
            {
                if (!DropMessage.IsTableFull(drop.Kind))
                {
                    continue;
                }

                string key = drop.NetworkNamespace ?? "";
                counts[key] = counts.GetValueOrDefault(key) + 1;
                if (!times.TryGetValue(key, out List<DateTime?>? list))
                {
                    times[key] = list = [];
                }

                list.Add(drop.TimeStamp);
                if (drop.TimeStamp is { } t && (!last.TryGetValue(key, out DateTime seen) || t > seen))
                {
                    last[key] = t;
                }
            }
        }
        catch (ConntrackException e)
        {
            root.Log.Verbose($"The kernel log was not read for table-full messages: {e.Message}");
            error = e.Message;
            return null;
        }

        return new TableFullLog(counts, last) { Times = times };
    }
}

/// <summary>
/// Builds the namespace list of Get-ConntrackNamespace: what the host's files say about each namespace (its
/// processes, bind mounts and owner), the pod names kubelet's folders reveal, each namespace's entry count read
/// inside it over ctnetlink, and the table-full messages of this boot that name it.
/// </summary>
internal static class NamespaceReader
{
    /// <summary>Namespaces as found, with owner and pod names but no count (cheap: files only).</summary>
    public static List<(FoundNamespace Found, PodInfo? Pod)> Find(SystemRoot root) => Find(root, out _);

    /// <summary>The same, with the count of processes whose namespace could not be read (see <see cref="NamespaceDiscovery.Discover(SystemRoot, out int)"/>).</summary>
    public static List<(FoundNamespace Found, PodInfo? Pod)> Find(SystemRoot root, out int unseen)
    {
        List<FoundNamespace> found = NamespaceDiscovery.Discover(root, out unseen);
        IReadOnlyDictionary<string, PodInfo> pods = PodDirectory.Read(root);
        return [.. found.Select(f => (f, f.Owner?.PodUid is { } uid && pods.TryGetValue(uid, out PodInfo? pod) ? pod : (PodInfo?)null))];
    }

    /// <summary>
    /// The entries of one namespace over ctnetlink (IPCTNL_MSG_CT_GET_STATS), read by a socket opened inside it;
    /// the namespace this process is in is read directly. Null and a reason when it cannot be read.
    /// </summary>
    public static long? ReadCount(SystemRoot root, FoundNamespace ns, ulong? own, out string? error)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(ns);
        error = null;
        if (!root.IsLive)
        {
            error = "entry counts are read from the running kernel only, not from a tree under -Root";
            return null;
        }

        try
        {
            if (ns.Inode == own)
            {
                return CtnetlinkStatistics.ReadCount(root.Log).Entries;
            }

            if (ns.EntryPath is not { } path)
            {
                error = "nothing on this host holds a path to it";
                return null;
            }

            using IDisposable scope = NamespaceContext.Use(NamespaceThread.Enter(path, ns.Inode));
            return CtnetlinkStatistics.ReadCount(root.Log).Entries;
        }
        catch (ConntrackException e)
        {
            error = e.Message;
            return null;
        }
    }

    /// <summary>The public object for one namespace.</summary>
    /// <param name="log">The table-full messages, or null when the kernel log could not be read.</param>
    public static ConntrackNamespace ToObject(SystemRoot root, FoundNamespace ns, PodInfo? pod, long? count, string? countError, long? max, TableFullLog? log) =>
        ToObject(root, ns, pod, count, countError, max, log, out _);

    /// <summary>The same, and the messages left out because they predate the namespace (see <see cref="NamespaceBirth"/>).</summary>
    public static ConntrackNamespace ToObject(SystemRoot root, FoundNamespace ns, PodInfo? pod, long? count, string? countError, long? max, TableFullLog? log,
        out (int Count, DateTime? First, DateTime? Last) older)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(ns);
        string key = ns.IsInitial ? "" : ns.Inode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        CgroupOwner? owner = ns.Owner;
        (string kind, string words) = Describe(ns, owner, pod);
        (long Count, DateTime? Last, int Older, DateTime? OlderFirst, DateTime? OlderLast)? messages =
            log?.Since(key, ns.IsInitial ? null : NamespaceBirth.Of(root, ns));
        older = messages is { } m ? (m.Older, m.OlderFirst, m.OlderLast) : (0, null, null);
        return new ConntrackNamespace
        {
            NetworkNamespace = ns.Inode.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Inode = ns.Inode,
            Name = ns.Name,
            IsInitial = ns.IsInitial,
            Owner = words,
            OwnerKind = kind,
            Runtime = owner?.Runtime,
            ContainerId = owner?.ContainerId,
            PodUid = owner?.PodUid,
            PodNamespace = pod?.Namespace,
            PodName = pod?.Name,
            Processes = ns.Processes.ToArray(),
            Paths = ns.Paths.ToArray(),
            Count = count,
            CountError = countError,
            Max = max,
            TableFullMessages = messages?.Count,
            LastTableFull = messages?.Last,
            Root = root.Path,
        };
    }

    /// <summary>The owner in a word and in words.</summary>
    internal static (string Kind, string Words) Describe(FoundNamespace ns, CgroupOwner? owner, PodInfo? pod)
    {
        ArgumentNullException.ThrowIfNull(ns);
        if (ns.IsInitial)
        {
            return ("Host", "host");
        }

        static string Short(string? id) => id is null ? "" : id.Length > 12 && id.All(char.IsAsciiHexDigit) ? id[..12] : id;
        if (owner is not null)
        {
            return owner.Kind switch
            {
                "Kubernetes" => ("Kubernetes", "pod " + (pod is { Namespace: { } podNs, Name: { } podName } ? $"{podNs}/{podName}" : pod?.Name ?? owner.PodUid)
                    + (owner.Runtime is { } r ? $" ({r})" : "")),
                "Nspawn" => ("Nspawn", "nspawn " + owner.ContainerId),
                "Lxc" => ("Lxc", "lxc " + owner.ContainerId),
                _ => (owner.Kind, $"{owner.Runtime} {Short(owner.ContainerId)}".Trim()),
            };
        }

        return ns.Name is { } name ? ("IpNetns", "ip netns " + name) : ("Unknown", "");
    }
}
