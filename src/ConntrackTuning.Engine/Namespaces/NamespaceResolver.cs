namespace ConntrackTuning.Engine.Namespaces;

/// <summary>A network namespace named by -NetworkNamespace: its inode, the nsfs path to enter it by, and whether it is this process's own.</summary>
internal sealed record ResolvedNamespace(ulong Inode, string Path, bool IsOwn);

/// <summary>
/// The one reading of -NetworkNamespace, for every cmdlet that takes it: an ip netns name (/run/netns/NAME),
/// an inode (as Get-ConntrackNamespace, Get-ConntrackDropEvent and the 6.18 kernel log give it, or as
/// "net:[N]"), a process id (its /proc/PID/ns/net), or the path of any nsfs file (/run/docker/netns/ID,
/// /proc/PID/ns/net). Numbers up to the largest possible pid (2^22) are pids; larger ones are inodes.
/// </summary>
internal static class NamespaceResolver
{
    private const ulong PidMaxLimit = 4_194_304;

    public static ResolvedNamespace Resolve(SystemRoot root, string spec)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(spec);
        string text = spec.Trim();
        if (!root.IsLive)
        {
            throw new ConntrackException(ErrorIds.NamespaceNeedsLiveRoot, ErrorKind.InvalidArgument,
                $"-NetworkNamespace '{text}' was given with -Root {root.Path}: only the running system has network namespaces to enter.", text,
                "Leave out -Root (or give -Root /) to act inside a namespace of this machine; a tree under -Root is read as it was captured.");
        }

        ulong? own = NamespaceDiscovery.ParseLink(root.LinkTarget("proc/self/ns/net"));
        if (NamespaceDiscovery.ParseLink(text) is { } bracketed)
        {
            return ByInode(root, bracketed, own, text);
        }

        if (ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong number))
        {
            return number <= PidMaxLimit ? ByPath(root, $"/proc/{number}/ns/net", own, text, $"no process {number} exists") : ByInode(root, number, own, text);
        }

        if (text.StartsWith('/'))
        {
            return ByPath(root, text, own, text, $"{text} is not a network namespace file (nsfs)");
        }

        if (text.Contains('/', StringComparison.Ordinal) || text is "." or "..")
        {
            throw NotFound(text, "an ip netns name has no '/'");
        }

        return ByPath(root, $"/run/netns/{text}", own, text, $"there is no ip netns named '{text}' (/run/netns/{text})");
    }

    private static ResolvedNamespace ByPath(SystemRoot root, string path, ulong? own, string spec, string why)
    {
        // The device tells a live nsfs file from an unmounted bind-mount target (an empty file on tmpfs).
        if (Native.DeviceAndInode(path, out _) is not { } id || Native.DeviceAndInode("/proc/self/ns/net", out _) is not { } self
            || id.Major != self.Major || id.Minor != self.Minor)
        {
            throw NotFound(spec, why);
        }

        // Other nsfs files (a mount or pid namespace) share the device; only a net link reads "net:[N]".
        if (path.StartsWith("/proc/", StringComparison.Ordinal) && path.EndsWith("/ns/net", StringComparison.Ordinal)
            && NamespaceDiscovery.ParseLink(root.LinkTarget(path.TrimStart('/'))) is null)
        {
            throw NotFound(spec, why);
        }

        return new ResolvedNamespace(id.Inode, path, id.Inode == own);
    }

    private static ResolvedNamespace ByInode(SystemRoot root, ulong inode, ulong? own, string spec)
    {
        if (inode == own)
        {
            return new ResolvedNamespace(inode, "/proc/self/ns/net", true);
        }

        FoundNamespace? ns = NamespaceDiscovery.Discover(root).FirstOrDefault(n => n.Inode == inode);
        if (ns?.EntryPath is not { } path)
        {
            throw NotFound(spec, $"no process, ip netns name or nsfs mount on this host holds network namespace {inode} (it may be gone)");
        }

        return new ResolvedNamespace(inode, path, false);
    }

    private static ConntrackException NotFound(string spec, string why) =>
        new(ErrorIds.NamespaceNotFound, ErrorKind.ObjectNotFound,
            $"No network namespace '{spec}': {why}.", spec,
            "Give an ip netns name, an inode, a process id or an nsfs path; Get-ConntrackNamespace lists them (tab completion offers the names).");
}
