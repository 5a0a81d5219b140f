using Microsoft.Win32.SafeHandles;

namespace ConntrackTuning.Engine.Platform;

/// <summary>
/// How a root-relative path becomes a file. One rule for reads and writes alike: a symbolic link is resolved inside
/// the root, as chroot would (an absolute target starts again at the root, ".." never climbs above it), so a link
/// in a sosreport or image means that tree's file, never the host's. Writes (and every read under a root that is not
/// the running system) go through folder descriptors opened one component at a time with O_NOFOLLOW, so a folder
/// swapped for a link while we work cannot send anything out of the root.
/// </summary>
internal sealed partial class SystemRoot
{
    private const int MaxLinks = 40;

    /// <summary>
    /// Follows the links of a root-relative path inside the root. Returns the root-relative path with no link left
    /// in it (the last components may not exist yet). For names and messages; opening goes through descriptors.
    /// </summary>
    internal string ResolveInRoot(string relative) =>
        TryResolveInRoot(relative) ?? throw LinkLoop(relative);

    /// <summary>The same, or null on a link loop.</summary>
    private string? TryResolveInRoot(string relative)
    {
        ArgumentNullException.ThrowIfNull(relative);
        var done = new List<string>();
        var todo = new Stack<string>();
        PushReversed(todo, relative);
        int links = 0;
        while (todo.TryPop(out string? part))
        {
            if (part.Length == 0 || part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (done.Count > 0)
                {
                    done.RemoveAt(done.Count - 1);
                }

                continue;
            }

            string candidate = Join(string.Join('/', done), part);
            string? target = null;
            try
            {
                var info = new FileInfo(RootedPath(candidate));
                if ((info.Attributes & FileAttributes.ReparsePoint) != 0 && info.LinkTarget is { } t)
                {
                    target = t;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                target = null;
            }

            if (target is null)
            {
                done.Add(part);
                continue;
            }

            if (++links > MaxLinks)
            {
                return null;
            }

            if (target.StartsWith('/'))
            {
                done.Clear();
            }

            PushReversed(todo, target);
        }

        return string.Join('/', done);
    }

    private string RootedPath(string resolvedRelative) => Path == "/" ? "/" + resolvedRelative : Path + "/" + resolvedRelative;

    private ConntrackException RootReplaced() => new(ErrorIds.UnsafeSymbolicLink, ErrorKind.PermissionDenied,
        $"'{Path}' is no longer the folder this command opened: it was replaced (by a symbolic link or another folder) while the command ran, so nothing was read from or written to what stands there now.",
        Path, $"Check who may write the folder that holds '{Path}' (only its owner should), then run the command again.");

    /// <summary>A link in a folder of another user that leads to a folder that user does not own (systemd's CHASE_SAFE rule).</summary>
    private static ConntrackException UnsafeTransition(string link, uint owner, string reached, uint reachedOwner) => new(ErrorIds.UnsafeSymbolicLink, ErrorKind.PermissionDenied,
        $"'{link}' is a symbolic link in a folder of user {owner}, and leads to '{reached}', which belongs to user {reachedOwner}: whoever owns the link's folder can point it anywhere, so it is not followed and nothing was written.",
        link, $"Give the path of the folder itself ('{reached}') if it is meant, or make the link's folder belong to root, then run the command again.");

    private ConntrackException LinkLoop(string relative) => new(ErrorIds.UnsafeSymbolicLink, ErrorKind.InvalidData,
        $"Too many symbolic links while resolving '{RootedPath(relative.TrimStart('/'))}'.", RootedPath(relative.TrimStart('/')),
        "Remove the symbolic link loop.");

    /// <summary>
    /// Opens a folder of the root through descriptors, one component at a time with O_NOFOLLOW: a link is read and
    /// resolved inside the root (or refused, with <see cref="Walk.NoLinks"/>), so no path the kernel resolves on its
    /// own can be redirected meanwhile. Returns 0 with the folder, or the errno (ENOENT, ENOTDIR, EACCES ...).
    /// </summary>
    internal int TryOpenDirectory(string relative, Walk walk, out DirectoryFd? directory, List<string>? created = null, uint createMode = 0x1ED /* 0755 */)
    {
        directory = null;
        int rootFd = Native.Open(Path, Native.O_RDONLY | Native.O_DIRECTORY | Native.O_CLOEXEC);
        if (rootFd < 0)
        {
            return Errno.Last;
        }

        if (_identity is { } identity && (Native.Stat(rootFd, "", out _) is not { } now || now.Device != identity.Device || now.Inode != identity.Inode))
        {
            _ = Native.Close(rootFd);
            throw RootReplaced();
        }

        var fds = new List<int> { rootFd };
        var names = new List<string>();
        var todo = new Stack<string>();
        PushReversed(todo, relative);
        int links = 0;
        int attempts = 0;
        (uint Owner, string At)? steered = null;
        try
        {
            while (todo.TryPop(out string? part))
            {
                if (part.Length == 0 || part == ".")
                {
                    continue;
                }

                if (part == "..")
                {
                    if (names.Count > 0)
                    {
                        _ = Native.Close(fds[^1]);
                        fds.RemoveAt(fds.Count - 1);
                        names.RemoveAt(names.Count - 1);
                    }

                    continue;
                }

                int fd = Native.OpenAt(fds[^1], part, Native.O_RDONLY | Native.O_DIRECTORY | Native.O_NOFOLLOW | Native.O_CLOEXEC);
                if (fd >= 0)
                {
                    fds.Add(fd);
                    names.Add(part);
                    continue;
                }

                int errno = Errno.Last;
                if (errno is Errno.ELOOP or Errno.ENOTDIR && Native.ReadLink(fds[^1], part, out _) is { } target)
                {
                    string at = Join(string.Join('/', names), part);
                    if ((walk & Walk.NoLinks) != 0)
                    {
                        throw new ConntrackException(ErrorIds.UnsafeSymbolicLink, ErrorKind.PermissionDenied,
                            $"'{RootedPath(at)}' is a symbolic link (to '{target}'); refusing to follow it to the write lock.", RootedPath(at),
                            $"Replace the link '{RootedPath(at)}' with a folder, then run the command again.");
                    }

                    if (++links > MaxLinks)
                    {
                        throw LinkLoop(relative);
                    }

                    if ((walk & Walk.SameOwner) != 0 && Native.Stat(fds[^1], "", out _) is { } holder && holder.Uid != 0 && holder.Uid != Native.Geteuid())
                    {
                        if (steered is { } earlier && earlier.Owner != holder.Uid)
                        {
                            throw UnsafeTransition(earlier.At, earlier.Owner, RootedPath(at), holder.Uid);
                        }

                        steered = (holder.Uid, RootedPath(at));
                    }

                    if (target.StartsWith('/'))
                    {
                        for (int i = fds.Count - 1; i > 0; i--)
                        {
                            _ = Native.Close(fds[i]);
                            fds.RemoveAt(i);
                        }

                        names.Clear();
                    }

                    PushReversed(todo, target);
                    continue;
                }

                if (errno == Errno.ENOENT && (walk & Walk.Create) != 0 && ++attempts < MaxLinks)
                {
                    if (Native.MkdirAt(fds[^1], part, createMode) == 0)
                    {
                        created?.Add(Join(string.Join('/', names), part));
                        _ = Native.Fsync(fds[^1]);
                        Log.Verbose($"Created the folder {RootedPath(Join(string.Join('/', names), part))}");
                    }
                    else if (Errno.Last is var mkdirErrno && mkdirErrno != Errno.EEXIST)
                    {
                        return mkdirErrno;
                    }

                    // Open what is there now: the folder just made, or whatever won a race for the name.
                    todo.Push(part);
                    continue;
                }

                return errno;
            }

            if (steered is { } link && Native.Stat(fds[^1], "", out _) is { } reached && reached.Uid != link.Owner)
            {
                throw UnsafeTransition(link.At, link.Owner, RootedPath(string.Join('/', names)), reached.Uid);
            }

            directory = new DirectoryFd(fds[^1], string.Join('/', names));
            fds.RemoveAt(fds.Count - 1);
            return 0;
        }
        finally
        {
            foreach (int fd in fds)
            {
                _ = Native.Close(fd);
            }
        }
    }

    /// <summary>
    /// Opens a file of the root for reading: O_NONBLOCK (a FIFO cannot block the open) and, under a root other than
    /// the running system, through folder descriptors with every link resolved inside the root. Returns 0 with the
    /// handle, its status and its resolved root-relative path, or the errno. A file that is not regular is returned
    /// too: the caller decides (and says) what to do with it.
    /// </summary>
    internal int TryOpenFile(string relative, out SafeFileHandle? handle, out FileStatus status, out string resolved)
    {
        handle = null;
        status = default;
        resolved = relative.Trim('/');
        const int Flags = Native.O_RDONLY | Native.O_NONBLOCK | Native.O_CLOEXEC;
        int fd;
        if (IsLive)
        {
            string full = Full(relative);
            (fd, int errno) = InNamespace(relative, () =>
            {
                int opened = Native.Open(full, Flags);
                return (opened, opened < 0 ? Errno.Last : 0);
            });
            if (fd < 0)
            {
                return errno;
            }
        }
        else
        {
            int links = 0;
            while (true)
            {
                int opened = TryOpenDirectory(ParentOf(resolved), Walk.FollowInRoot, out DirectoryFd? directory);
                if (opened != 0)
                {
                    return opened;
                }

                using (directory!)
                {
                    string name = FileNameOf(resolved);
                    fd = name is "" or "." or ".." ? Native.OpenAt(directory!.Fd, name.Length == 0 ? "." : name, Flags)
                        : Native.OpenAt(directory!.Fd, name, Flags | Native.O_NOFOLLOW);
                    if (fd < 0)
                    {
                        int errno = Errno.Last;
                        if (errno == Errno.ELOOP && Native.ReadLink(directory.Fd, name, out _) is { } target)
                        {
                            if (++links > MaxLinks)
                            {
                                throw LinkLoop(relative);
                            }

                            resolved = target.StartsWith('/') ? target.Trim('/') : Join(directory.Relative, target);
                            continue;
                        }

                        return errno;
                    }

                    resolved = Join(directory.Relative, name);
                    break;
                }
            }
        }

        if (Native.Stat(fd, "", out int statErrno) is not { } s)
        {
            _ = Native.Close(fd);
            return statErrno;
        }

        status = s;
        handle = new SafeFileHandle(fd, ownsHandle: true);
        return 0;
    }

    private static void PushReversed(Stack<string> stack, string path)
    {
        string[] parts = path.Split('/');
        for (int i = parts.Length - 1; i >= 0; i--)
        {
            stack.Push(parts[i]);
        }
    }

    private static string Join(string folder, string name) => folder.Length == 0 ? name : folder + "/" + name;

    private static string ParentOf(string relative)
    {
        string trimmed = relative.Trim('/');
        int slash = trimmed.LastIndexOf('/');
        return slash < 0 ? "" : trimmed[..slash];
    }

    private static string FileNameOf(string relative)
    {
        string trimmed = relative.Trim('/');
        return trimmed[(trimmed.LastIndexOf('/') + 1)..];
    }
}
