namespace ConntrackTuning.Engine.Namespaces;

/// <summary>One network namespace as the host's files show it, before its table is read.</summary>
internal sealed class FoundNamespace(ulong inode)
{
    public ulong Inode { get; } = inode;

    /// <summary>nsfs files that hold it open: ip netns bind mounts, runtimes' netns files, other mounts (sorted).</summary>
    public SortedSet<string> Paths { get; } = new(StringComparer.Ordinal);

    /// <summary>The ip netns name (the file name under /run/netns), when there is one.</summary>
    public string? Name { get; set; }

    public List<ConntrackNamespaceProcess> Processes { get; } = [];

    public bool IsInitial { get; set; }

    public CgroupOwner? Owner { get; set; }

    /// <summary>The path to enter it by: a bind mount (it cannot be reused by another namespace) or a process's link.</summary>
    public string? EntryPath => Paths.FirstOrDefault() ?? (Processes.Count > 0 ? $"/proc/{Processes[0].ProcessId}/ns/net" : null);
}

/// <summary>
/// Finds every network namespace under a root: the links of /proc/PID/ns/net, the ip netns bind mounts under
/// /run/netns (and /var/run/netns), the runtimes' folders (/run/docker/netns, rootless podman's
/// /run/user/UID/netns), and the nsfs mounts that /proc/PID/mountinfo lists in every mount namespace. A
/// namespace held only by an open file descriptor or a BPF program is invisible to all of them.
/// </summary>
internal static class NamespaceDiscovery
{
    /// <summary>The folders runtimes and ip netns keep namespace bind mounts in (run/user/*/netns is expanded).</summary>
    internal static readonly string[] BindMountFolders = ["run/netns", "var/run/netns", "run/docker/netns", "var/run/docker/netns"];

    /// <summary>How many processes of one namespace have their cgroup read for its owner (a host namespace has thousands).</summary>
    private const int OwnerProbeLimit = 16;

    public static List<FoundNamespace> Discover(SystemRoot root) => Discover(root, out _);

    /// <summary>
    /// The same, and how many running processes could not be placed: another user's /proc/PID/ns/net is root's to
    /// read, so a user other than root sees the namespaces of its own processes only (and of the bind mounts).
    /// </summary>
    public static List<FoundNamespace> Discover(SystemRoot root, out int unseen)
    {
        unseen = 0;
        ArgumentNullException.ThrowIfNull(root);
        var byInode = new Dictionary<ulong, FoundNamespace>();
        FoundNamespace Get(ulong inode)
        {
            if (!byInode.TryGetValue(inode, out FoundNamespace? ns))
            {
                ns = new FoundNamespace(inode);
                byInode[inode] = ns;
            }

            return ns;
        }

        // Process 1's link may be unreadable (another user namespace, an LSM); kthreadd and every kernel thread
        // live in the initial namespace, whatever the container process 1 is.
        ulong? initial = ParseLink(root.LinkTarget("proc/1/ns/net"))
            ?? (root.TryReadText("proc/2/comm")?.TrimEnd('\n') == "kthreadd" ? ParseLink(root.LinkTarget("proc/2/ns/net")) : null);
        // Both links are root's to read. Anyone can still tell from inside: the kernel registers net.nf_conntrack_max
        // in the initial namespace only (as Get-ConntrackKernel's IsInitialNamespace does).
        initial ??= root.IsLive && root.FileExists("proc/sys/net/nf_conntrack_max") ? ParseLink(root.LinkTarget("proc/self/ns/net")) : null;
        bool counting = root.IsLive && !ProcessIdentity.IsRoot;
        var mountNamespaces = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string dir in root.DirectoryNames("proc"))
        {
            root.Cancellation.ThrowIfCancellationRequested();
            if (!int.TryParse(dir, NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                continue;
            }

            // Processes come and go while the folder is listed; a vanished one simply has no link.
            if (ParseLink(root.LinkTarget($"proc/{dir}/ns/net")) is { } inode)
            {
                string comm = root.TryReadText($"proc/{dir}/comm")?.TrimEnd('\n') ?? "";
                Get(inode).Processes.Add(new ConntrackNamespaceProcess(pid, comm));
            }
            else if (counting && root.TryReadText($"proc/{dir}/comm") is not null)
            {
                unseen++;
            }

            if (root.LinkTarget($"proc/{dir}/ns/mnt") is { } mnt)
            {
                mountNamespaces.TryAdd(mnt, pid);
            }
        }

        if (initial is { } init)
        {
            Get(init).IsInitial = true;
        }

        if (root.IsLive)
        {
            AddBindMounts(root, Get);
        }

        AddMountInfo(root, mountNamespaces, Get);
        foreach (FoundNamespace ns in byInode.Values)
        {
            ns.Processes.Sort((a, b) => a.ProcessId.CompareTo(b.ProcessId));
            if (!ns.IsInitial)
            {
                ns.Owner = ReadOwner(root, ns);
            }
        }

        return [.. byInode.Values.OrderBy(n => n.Inode)];
    }

    /// <summary>"net:[4026531840]" to its inode.</summary>
    internal static ulong? ParseLink(string? link) =>
        link is not null && link.StartsWith("net:[", StringComparison.Ordinal) && link.EndsWith(']')
            && ulong.TryParse(link.AsSpan(5, link.Length - 6), NumberStyles.None, CultureInfo.InvariantCulture, out ulong inode)
            ? inode
            : null;

    private static void AddBindMounts(SystemRoot root, Func<ulong, FoundNamespace> get)
    {
        // A live nsfs file shares its device with this process's own namespace link; an unmounted bind-mount
        // target is an empty file on tmpfs with another device, and names nothing.
        if (Native.DeviceAndInode("/proc/self/ns/net", out _) is not { } self)
        {
            return;
        }

        var folders = new List<string>(BindMountFolders);
        foreach (string uid in root.DirectoryNames("run/user"))
        {
            folders.Add($"run/user/{uid}/netns");
        }

        foreach (string folder in folders)
        {
            foreach (string file in root.FileNames(folder))
            {
                string full = root.Full($"{folder}/{file}");
                if (Native.DeviceAndInode(full, out _) is { } id && id.Major == self.Major && id.Minor == self.Minor)
                {
                    AddPath(get(id.Inode), full);
                }
            }
        }
    }

    /// <summary>nsfs mounts of every mount namespace: "ID PARENT MAJ:MIN net:[INODE] MOUNTPOINT … - nsfs nsfs rw".</summary>
    private static void AddMountInfo(SystemRoot root, Dictionary<string, int> mountNamespaces, Func<ulong, FoundNamespace> get)
    {
        string? own = root.LinkTarget("proc/self/ns/mnt");
        var files = new List<(string Relative, string Prefix)> { ("proc/self/mountinfo", "") };
        foreach ((string mnt, int pid) in mountNamespaces)
        {
            if (mnt != own)
            {
                // Another mount namespace's mount point is reached through that process's root.
                files.Add(($"proc/{pid}/mountinfo", $"/proc/{pid}/root"));
            }
        }

        foreach ((string relative, string prefix) in files)
        {
            foreach (string line in root.ReadLines(relative))
            {
                int dash = line.IndexOf(" - ", StringComparison.Ordinal);
                if (dash < 0 || !line.AsSpan(dash + 3).StartsWith("nsfs ", StringComparison.Ordinal))
                {
                    continue;
                }

                string[] fields = line[..dash].Split(' ');
                if (fields.Length >= 5 && ParseLink(fields[3]) is { } inode)
                {
                    string mountPoint = Unescape(fields[4]);
                    AddPath(get(inode), root.IsLive ? prefix + mountPoint : root.Full(mountPoint.TrimStart('/')));
                }
            }
        }
    }

    private static void AddPath(FoundNamespace ns, string path)
    {
        // /var/run is a link to /run on most systems; one bind mount shows up under both names.
        string canonical = path.StartsWith("/var/run/", StringComparison.Ordinal) ? path[4..] : path;
        ns.Paths.Add(canonical);
        int slash = canonical.LastIndexOf('/');
        if (ns.Name is null && slash > 0 && canonical[..slash].EndsWith("/run/netns", StringComparison.Ordinal))
        {
            // ip netns's folder, also as another mount namespace sees it (/proc/PID/root/run/netns/NAME).
            ns.Name = canonical[(slash + 1)..];
        }
    }

    private static CgroupOwner? ReadOwner(SystemRoot root, FoundNamespace ns)
    {
        CgroupOwner? best = null;
        int? bestPid = null;
        foreach (ConntrackNamespaceProcess process in ns.Processes.Take(OwnerProbeLimit))
        {
            if (CgroupOwnerParser.Parse(root.ReadLines($"proc/{process.ProcessId}/cgroup")) is { } owner
                && (best is null || (owner.PodUid is not null && best.PodUid is null) || (owner.ContainerId is not null && best.ContainerId is null)))
            {
                best = owner;
                bestPid = process.ProcessId;
            }
        }

        // kubelet's cgroupfs driver (k3s's default without systemd) names no runtime in the path; the container's
        // parent does: the runtime's shim (containerd-shim, CRI-O's conmon), a few levels up at most.
        if (best is { Kind: "Kubernetes", Runtime: null } && bestPid is { } pid && RuntimeOfAncestors(root, pid) is { } runtime)
        {
            best = best with { Runtime = runtime };
        }

        return best;
    }

    private static string? RuntimeOfAncestors(SystemRoot root, int pid)
    {
        for (int depth = 0; depth < 3 && ParentOf(root, pid) is { } parent && parent > 1; depth++)
        {
            string comm = root.TryReadText($"proc/{parent}/comm")?.TrimEnd('\n') ?? "";
            string[] argv = (root.TryReadText($"proc/{parent}/cmdline") ?? "").TrimEnd('\0').Split('\0');
            if (CgroupOwnerParser.RuntimeOfShim(comm, argv) is { } runtime)
            {
                return runtime;
            }

            pid = parent;
        }

        return null;
    }

    /// <summary>The ppid of /proc/PID/stat: the fourth field, counted after the ")" that ends the command name.</summary>
    private static int? ParentOf(SystemRoot root, int pid)
    {
        string? stat = root.TryReadText($"proc/{pid}/stat");
        int close = stat?.LastIndexOf(')') ?? -1;
        if (stat is null || close < 0)
        {
            return null;
        }

        string[] fields = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields.Length > 1 && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out int ppid) ? ppid : null;
    }

    // mountinfo escapes space, tab, newline and backslash as \040, \011, \012, \134.
    private static string Unescape(string field) =>
        field.Contains('\\', StringComparison.Ordinal)
            ? field.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
                .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal)
            : field;
}
