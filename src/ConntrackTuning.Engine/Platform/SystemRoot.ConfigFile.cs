using Microsoft.Win32.SafeHandles;

namespace ConntrackTuning.Engine.Platform;

/// <summary>
/// Configuration files under etc/: read whole (a regular file of at most 1 MiB, or an error naming what it is), and
/// replaced atomically through the descriptor of their folder: the temporary file is created there (O_CREAT |
/// O_EXCL | O_NOFOLLOW), written, fsynced and renamed over the old name relative to the same descriptor, so a
/// folder swapped for a link meanwhile cannot make root write anywhere else. Mode and owner are kept.
/// </summary>
internal sealed partial class SystemRoot
{
    /// <summary>
    /// Configuration files are handled as Latin-1 text: every byte maps to one char and back, so a UTF-8 comment,
    /// a byte-order mark or a stray invalid byte in a user's file survives a rewrite byte for byte.
    /// </summary>
    internal static readonly Encoding ConfigEncoding = Encoding.Latin1;

    /// <summary>
    /// Reads a configuration file. Null when it does not exist; an error naming it when it is a folder, unreadable,
    /// not a regular file (a FIFO, a device) or bigger than 1 MiB, because rewriting what could not be read would
    /// lose it (and the readers of the boot configuration skip it with that warning).
    /// </summary>
    internal string? ReadConfigFile(string relative) => ReadConfigFile(relative, out _);

    /// <summary>
    /// The same, and whether every user may read the file (o+r on what was opened, a link's target): only such a
    /// file's lines may be quoted in messages. A sysctl.d name that is a link to /etc/shadow is read like any other,
    /// and its lines must not end up in warnings that logs and CI output keep.
    /// </summary>
    internal string? ReadConfigFile(string relative, out bool everyoneMayRead)
    {
        everyoneMayRead = false;
        string full = Full(relative);
        int errno = TryOpenFile(relative, out SafeFileHandle? handle, out FileStatus status, out string resolved);
        full = Full(resolved);
        if (errno is Errno.ENOENT or Errno.ENOTDIR)
        {
            return null;
        }

        if (errno != 0)
        {
            bool denied = errno is Errno.EACCES or Errno.EPERM;
            throw new ConntrackException(ErrorIds.PersistenceFileUnreadable, denied ? ErrorKind.PermissionDenied : ErrorKind.ReadError,
                $"Cannot read '{full}': {(denied ? "permission denied" : Errno.Message(errno))}; nothing was changed.", full,
                !denied ? $"Check that '{full}' is a regular, readable file."
                    : ProcessIdentity.IsRoot ? $"Check the mode of '{full}' and the security policy (SELinux, AppArmor)." : "Run pwsh as root (sudo pwsh) to change the persistent configuration.");
        }

        using (handle)
        {
            RequireRegularConfigFile(status, full);
            everyoneMayRead = (status.Mode & 0x4 /* S_IROTH */) != 0;
            byte[] bytes = ReadBounded(handle!, MaxWholeFileBytes)
                ?? throw new ConntrackException(ErrorIds.PersistenceFileUnreadable, ErrorKind.InvalidData,
                    $"'{full}' holds more than {MaxWholeFileBytes / 1024 / 1024} MiB, far more than any configuration file; it was not read and nothing was changed.", full,
                    $"Check what '{full}' is (a configuration file holds a few lines), and move it away.");
            Log.Verbose($"Read {full}");
            return ConfigEncoding.GetString(bytes);
        }
    }

    /// <summary>
    /// What stands where a configuration file is read or replaced must be a regular file: a folder (said as such, the
    /// likely mistake) or a FIFO or device (which could block the read or lose what it is) stops the change.
    /// </summary>
    private static void RequireRegularConfigFile(FileStatus status, string full)
    {
        // The same check guards the metrics file Export-ConntrackMetric replaces: only a *.conf is a configuration file.
        bool conf = full.EndsWith(".conf", StringComparison.Ordinal);
        string expected = conf ? ", where a configuration file was expected" : "";
        if (status.IsDirectory)
        {
            throw new ConntrackException(ErrorIds.PersistenceFileUnreadable, ErrorKind.InvalidData,
                $"'{full}' is a folder{expected}; nothing was changed.", full,
                conf ? $"Move the folder '{full}' away (it is not something sysctl, modprobe or systemd read), then run the command again."
                    : $"Move the folder '{full}' away, or give the path of a file, then run the command again.");
        }

        if (!status.IsRegular)
        {
            throw new ConntrackException(ErrorIds.PersistenceFileUnreadable, ErrorKind.InvalidData,
                $"'{full}' is {status.Kind}, not a regular file{expected}; it was left as it was and nothing was changed.", full,
                conf ? $"Remove '{full}' or rename it so that it does not end in .conf, then run the command again."
                    : $"Remove '{full}' (or move it away), then run the command again.");
        }
    }

    /// <summary>
    /// The root-relative file a rewrite of <paramref name="relative"/> replaces: the file itself, or the target of a
    /// symbolic link that stays in the same folder. A link anywhere else is refused, before anything is read or
    /// written, because replacing it would either break the link or write a file the user did not name.
    /// </summary>
    internal string ResolveReplaceTarget(string relative)
    {
        string full = Full(relative);
        string directory = ResolveInRoot(ParentOf(relative));
        string target = Join(directory, FileNameOf(relative));
        string resolvedTarget = ResolveInRoot(target);
        if (resolvedTarget == target)
        {
            return target;
        }

        if (ParentOf(resolvedTarget) != directory)
        {
            throw new ConntrackException(ErrorIds.UnsafeSymbolicLink, ErrorKind.PermissionDenied,
                $"'{full}' is a symbolic link to '{RootedPath(resolvedTarget)}', outside its folder; it was left as it was and nothing was written.",
                full, $"Replace the link '{full}' with a regular file (or remove it), then run the command again.");
        }

        Log.Verbose($"{full} is a symbolic link to {RootedPath(resolvedTarget)} in the same folder; that file is replaced and the link kept.");
        return resolvedTarget;
    }

    /// <summary>
    /// Replaces a configuration file atomically: a reader (systemd-sysctl at boot, a second invocation, a backup)
    /// sees either the old or the new content, never half of it, and a crash leaves the old file. The file keeps
    /// its mode and owner; a new file gets 0644 and this process's owner. A symbolic link is followed only to a
    /// file in the same folder (then that file is replaced and the link kept); any other link is refused.
    /// </summary>
    /// <param name="created">Receives each folder the write creates, for the undo of a change that fails later.</param>
    internal void WriteConfigFileAtomic(string relative, string text, List<string>? created = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        WriteFileAtomic(relative, ConfigEncoding.GetBytes(text), createDirectory: true, created);
    }

    /// <summary>
    /// The same atomic replace for content that is already bytes (a UTF-8 metrics file, say). With
    /// <paramref name="createDirectory"/> false a missing folder is an error rather than created: the caller has
    /// said where the file belongs, and a folder made on a typo would hide the file from whoever reads it.
    /// Folders created are added to <paramref name="created"/>, for the undo of a change that fails later.
    /// </summary>
    internal void WriteFileAtomic(string relative, byte[] bytes, bool createDirectory, List<string>? created = null)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        string target = ResolveReplaceTarget(relative);
        // On "/" the path may cross other users' folders: it is walked as named, so each link on it is judged where
        // it stands (Walk.SameOwner), and it must still lead where it led when the target was resolved.
        bool system = Path == "/";
        Walk walk = (createDirectory ? Walk.Create : Walk.FollowInRoot) | (system ? Walk.SameOwner : Walk.FollowInRoot);
        int opened = TryOpenDirectory(system ? ParentOf(relative) : ParentOf(target), walk, out DirectoryFd? directory, created);
        if (opened != 0)
        {
            throw WriteFailed(Full(target), opened);
        }

        using (directory!)
        {
            if (directory!.Relative != ParentOf(target))
            {
                throw new ConntrackException(ErrorIds.UnsafeSymbolicLink, ErrorKind.PermissionDenied,
                    $"The folder of '{Full(relative)}' changed while it was being written (it now leads to '{RootedPath(directory.Relative)}'); nothing was written.",
                    Full(relative), $"Check who changes the folders on the way to '{Full(relative)}', then run the command again.");
            }

            WriteIn(directory, FileNameOf(target), bytes);
        }
    }

    private void WriteIn(DirectoryFd directory, string name, byte[] bytes)
    {
        string targetFull = RootedPath(Join(directory.Relative, name));
        string directoryFull = RootedPath(directory.Relative);
        UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        (uint Uid, uint Gid)? owner = null;
        if (Native.Stat(directory.Fd, name, out _) is { } existing)
        {
            if (existing.IsLink)
            {
                // The link was resolved a moment ago; one that appears now is someone racing us. Replacing it is safe
                // (rename replaces the link, never its target) but would lose what its owner meant: refuse.
                throw new ConntrackException(ErrorIds.UnsafeSymbolicLink, ErrorKind.PermissionDenied,
                    $"'{targetFull}' became a symbolic link while it was being written; it was left as it was.", targetFull,
                    $"Check who changes '{directoryFull}', then run the command again.");
            }

            RequireRegularConfigFile(existing, targetFull);
            mode = existing.Permissions;
            owner = (existing.Uid, existing.Gid);
        }

        string temporary = $".{name}.{Environment.ProcessId}.{Guid.NewGuid():n}.tmp";
        int fd = Native.OpenAtCreate(directory.Fd, temporary, Native.O_WRONLY | Native.O_CREAT | Native.O_EXCL | Native.O_NOFOLLOW | Native.O_CLOEXEC, 0x180 /* 0600 */);
        if (fd < 0)
        {
            throw WriteFailed(targetFull, Errno.Last);
        }

        bool renamed = false;
        try
        {
            int errno = WriteAll(fd, bytes);
            if (errno == 0 && Native.Fchmod(fd, (uint)mode) != 0)
            {
                errno = Errno.Last;
            }

            if (errno != 0)
            {
                throw WriteFailed(targetFull, errno);
            }

            if (owner is { } o && (o.Uid != Native.Geteuid() || o.Gid != Native.Getegid()) && Native.Fchown(fd, o.Uid, o.Gid) != 0)
            {
                errno = Errno.Last;
                throw new ConntrackException(ErrorIds.FileWriteFailed, ErrorKind.PermissionDenied,
                    $"Cannot keep the owner {o.Uid}:{o.Gid} of '{targetFull}' ({Errno.Message(errno)}); it was left as it was.", targetFull,
                    "Run pwsh as root (sudo pwsh), or as the owner of the file.");
            }

            if (Native.Fsync(fd) != 0)
            {
                throw WriteFailed(targetFull, Errno.Last);
            }

            _ = Native.Close(fd);
            fd = -1;
            if (Native.RenameAt(directory.Fd, temporary, directory.Fd, name) != 0)
            {
                throw WriteFailed(targetFull, Errno.Last);
            }

            renamed = true;
            // The rename is durable only once the folder itself is on disk.
            _ = Native.Fsync(directory.Fd);
            Log.Verbose($"Wrote {targetFull} atomically (mode {FormatMode(mode)}{(owner is { } kept ? $", owner {kept.Uid}:{kept.Gid}" : "")}).");
        }
        finally
        {
            if (fd >= 0)
            {
                _ = Native.Close(fd);
            }

            if (!renamed)
            {
                _ = Native.UnlinkAt(directory.Fd, temporary, 0);
            }
        }
    }

    private static unsafe int WriteAll(int fd, byte[] bytes)
    {
        fixed (byte* b = bytes)
        {
            int offset = 0;
            while (offset < bytes.Length)
            {
                nint written = Native.Write(fd, b + offset, (nuint)(bytes.Length - offset));
                if (written < 0)
                {
                    int errno = Errno.Last;
                    if (errno == Errno.EINTR)
                    {
                        continue;
                    }

                    return errno;
                }

                offset += (int)written;
            }
        }

        return 0;
    }

    private ConntrackException WriteFailed(string full, int errno) => new(ErrorIds.FileWriteFailed,
        errno is Errno.EACCES or Errno.EPERM ? ErrorKind.PermissionDenied : ErrorKind.WriteError,
        $"Cannot write '{full}': {(errno is Errno.EACCES or Errno.EPERM ? "permission denied" : Errno.Message(errno))}; it was left as it was.", full,
        errno == Errno.EROFS ? "The file system is mounted read-only; remount it read-write or change the image it comes from."
            : errno is Errno.EACCES or Errno.EPERM ? (IsLive && !ProcessIdentity.IsRoot ? "Run pwsh as root (sudo pwsh)." : $"Check that the folder of '{full}' is writable.")
            : "Check the free space, the permissions and that the file system is writable.");
}
