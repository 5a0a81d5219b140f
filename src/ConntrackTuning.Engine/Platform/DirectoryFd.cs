namespace ConntrackTuning.Engine.Platform;

/// <summary>
/// An open folder of a root, reached component by component without following a link the kernel would follow
/// on its own (see <see cref="SystemRoot.TryOpenDirectory"/>): what is created, renamed or removed relative to it
/// stays in that folder even when its path is swapped for a link meanwhile.
/// </summary>
internal sealed class DirectoryFd : IDisposable
{
    private int _fd;

    internal DirectoryFd(int fd, string relative)
    {
        _fd = fd;
        Relative = relative;
    }

    internal int Fd => _fd;

    /// <summary>The folder's root-relative path as it was reached, links resolved ("" for the root itself).</summary>
    internal string Relative { get; }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            _ = Native.Close(fd);
        }
    }
}

/// <summary>How <see cref="SystemRoot.TryOpenDirectory"/> walks a path.</summary>
[Flags]
internal enum Walk
{
    /// <summary>Links are followed inside the root, as chroot would: an absolute target starts again at the root, ".." stops there.</summary>
    FollowInRoot = 0,

    /// <summary>Any link on the way is refused (UnsafeSymbolicLink): for the write lock, whose place must be fixed.</summary>
    NoLinks = 1,

    /// <summary>Missing folders are created (mkdirat), each recorded for the undo of a failed change.</summary>
    Create = 2,

    /// <summary>
    /// A link found in a folder of another user (not root, not this process's) is followed only to a folder of that
    /// same user: its owner may swap any name there for a link, and must not steer root's write into someone else's
    /// folder (systemd's CHASE_SAFE). For writes on the running system, where the path may cross users' folders.
    /// </summary>
    SameOwner = 4,
}
