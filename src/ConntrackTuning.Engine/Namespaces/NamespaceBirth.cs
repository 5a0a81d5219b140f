namespace ConntrackTuning.Engine.Namespaces;

/// <summary>
/// When a network namespace was born at the latest: the change time of its nsfs file. The kernel makes that inode
/// when the namespace is first pinned or opened (at once for ip netns and the runtimes' bind mounts), so a
/// table-full message logged before it cannot be this namespace's: its inode number is reused from one now gone.
/// </summary>
internal static class NamespaceBirth
{
    // Boot-relative stamps reach the wall clock through a boot time known to the second; a message within this
    // of the birth is given to the namespace rather than taken from it.
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(1);

    /// <summary>The birth bound (local time) of the namespace with this inode at this nsfs path, or null when it cannot be read.</summary>
    public static DateTime? Of(string path, ulong inode) =>
        Native.InodeAndChangeTime(path) is { } s && s.Inode == inode ? s.ChangeTime.ToLocalTime() : null;

    /// <summary>The same for a namespace as found: its bind mounts first, then its processes' links; null under -Root.</summary>
    public static DateTime? Of(SystemRoot root, FoundNamespace ns)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(ns);
        if (!root.IsLive)
        {
            return null;
        }

        IEnumerable<string> paths = ns.Paths.Concat(ns.Processes.Take(4).Select(p => $"/proc/{p.ProcessId.ToString(CultureInfo.InvariantCulture)}/ns/net"));
        foreach (string path in paths)
        {
            if (Of(path, ns.Inode) is { } birth)
            {
                return birth;
            }
        }

        return null;
    }

    /// <summary>Whether a message of this time was logged before the namespace was born (undated messages are not).</summary>
    public static bool Predates(DateTime? message, DateTime? birth) =>
        message is { } m && birth is { } b && m < b - Slack;
}
