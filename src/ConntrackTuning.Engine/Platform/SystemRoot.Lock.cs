namespace ConntrackTuning.Engine.Platform;

/// <summary>
/// The lock that serialises changes to one root: an flock on run/conntrack-tuning/lock (or
/// .conntrack-tuning/lock at the top of a root without run/), in a folder only its owner may enter (0700), so no
/// other user can open the file and hold the lock to block root. Every component is opened with O_NOFOLLOW: a
/// link on the way is refused, so the lock can never be created outside the root.
/// </summary>
internal sealed partial class SystemRoot
{
    internal const string LockFolderName = "conntrack-tuning";

    internal const string LockFileName = "lock";

    /// <summary>How long one slice of the wait for the lock is: the bound on how late a cancelled wait ends.</summary>
    private static readonly TimeSpan LockPollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Takes the lock, waiting up to <paramref name="timeout"/> for another invocation to release it. Taken only when
    /// something is about to be written, so -WhatIf never creates it. The file is never deleted while valid: deleting
    /// a lock file lets a third process lock a new inode while the second still waits on the old one. The wait
    /// observes <see cref="Cancellation"/> and ends with OperationCanceledException, holding nothing.
    /// </summary>
    internal IDisposable AcquireWriteLock(TimeSpan timeout)
    {
        string folder = TryOpenDirectory("run", Walk.NoLinks, out DirectoryFd? run) == 0 ? "run/" + LockFolderName : "." + LockFolderName;
        run?.Dispose();
        string full = RootedPath(folder + "/" + LockFileName);
        int fd = OpenLockFile(folder, full);
        try
        {
            DateTime deadline = DateTime.UtcNow + timeout;
            bool announced = false;
            using var waiting = new Progress.WaitProgress(Log, $"Another invocation holds {full}", timeout, Cancellation);
            while (Native.Flock(fd, Native.LOCK_EX | Native.LOCK_NB) != 0)
            {
                int errno = Errno.Last;
                if (errno != Errno.EWOULDBLOCK || DateTime.UtcNow > deadline)
                {
                    throw new ConntrackException(ErrorIds.WriteLockTimeout, ErrorKind.ResourceBusy,
                        errno == Errno.EWOULDBLOCK
                            ? $"Another invocation has held '{full}' for more than {timeout.TotalSeconds:0} s; nothing was changed."
                            : $"Cannot lock '{full}': {Errno.Message(errno)}; nothing was changed.",
                        full, "Wait for the other Set-Conntrack* command (or Ansible run) to finish, then run the command again.");
                }

                if (!announced)
                {
                    Log.Verbose($"Waiting for another invocation that holds {full}.");
                    announced = true;
                }

                // Waiting in slices on the stop signal: Ctrl+C ends the wait within one slice, holding nothing.
                if (!waiting.Pause(LockPollInterval))
                {
                    Cancellation.ThrowIfCancellationRequested();
                }
            }

            // The last point a stop is honoured: once the lock is held the change is written whole (milliseconds of
            // atomic replaces), so a stop never leaves one file of it written and the next not.
            Cancellation.ThrowIfCancellationRequested();

            Log.Verbose($"Locked {full}");
            var handle = new LockHandle(fd);
            fd = -1;
            return handle;
        }
        finally
        {
            if (fd >= 0)
            {
                _ = Native.Close(fd);
            }
        }
    }

    /// <summary>
    /// Opens (creating it if needed) the lock file in its private folder. The folder must belong to this user and be
    /// closed to others; a lock file another user owns or may open is replaced by a private one.
    /// </summary>
    private int OpenLockFile(string folder, string full)
    {
        string folderFull = RootedPath(folder);
        int opened = TryOpenDirectory(folder, Walk.NoLinks | Walk.Create, out DirectoryFd? directory, createMode: 0x1C0 /* 0700 */);
        if (opened != 0)
        {
            throw new ConntrackException(ErrorIds.FileWriteFailed, opened is Errno.EACCES or Errno.EPERM ? ErrorKind.PermissionDenied : ErrorKind.WriteError,
                $"Cannot open the folder of the lock '{folderFull}': {Errno.Message(opened)}; nothing was changed.", folderFull,
                IsLive && !ProcessIdentity.IsRoot ? "Run pwsh as root (sudo pwsh)." : "Check that the folder is writable.");
        }

        using (directory!)
        {
            uint me = Native.Geteuid();
            FileStatus? status = Native.Stat(directory!.Fd, "", out _);
            if (status is not { } s || s.Uid != me)
            {
                throw new ConntrackException(ErrorIds.WriteLockUnsafe, ErrorKind.PermissionDenied,
                    $"The folder of the write lock '{folderFull}' belongs to user {status?.Uid}, not to this user ({me}): whoever owns it could hold or move the lock. Nothing was changed.",
                    folderFull, $"Remove '{folderFull}' (the module recreates it, private to this user), then run the command again.");
            }

            if ((s.Mode & 0x3F) != 0 && Native.Fchmod(directory.Fd, 0x1C0) != 0)
            {
                throw new ConntrackException(ErrorIds.WriteLockUnsafe, ErrorKind.PermissionDenied,
                    $"The folder of the write lock '{folderFull}' is open to other users (mode {FormatMode(s.Permissions)}) and cannot be closed: {Errno.Message(Errno.Last)}. Nothing was changed.",
                    folderFull, $"Run 'chmod 700 {folderFull}', then run the command again.");
            }

            for (int attempt = 0; ; attempt++)
            {
                int fd = Native.OpenAtCreate(directory.Fd, LockFileName, Native.O_RDWR | Native.O_CREAT | Native.O_NOFOLLOW | Native.O_NONBLOCK | Native.O_CLOEXEC, 0x180 /* 0600 */);
                if (fd < 0)
                {
                    int errno = Errno.Last;
                    if (errno == Errno.ELOOP)
                    {
                        throw new ConntrackException(ErrorIds.UnsafeSymbolicLink, ErrorKind.PermissionDenied,
                            $"The lock file '{full}' is a symbolic link; refusing to open it.", full,
                            $"Remove '{full}' (it should be a plain empty file), then run the command again.");
                    }

                    throw new ConntrackException(ErrorIds.FileWriteFailed, errno is Errno.EACCES or Errno.EPERM ? ErrorKind.PermissionDenied : ErrorKind.WriteError,
                        $"Cannot open the lock file '{full}': {Errno.Message(errno)}; nothing was changed.", full,
                        IsLive && !ProcessIdentity.IsRoot ? "Run pwsh as root (sudo pwsh)." : "Check that the folder is writable.");
                }

                if (Native.Stat(fd, "", out _) is { IsRegular: true } file && file.Uid == me && (file.Mode & 0x3F) == 0)
                {
                    return fd;
                }

                // Left by another user, or open to one (an older version made it 0644 in a shared folder): whoever can
                // open it can hold it. A private file takes its name; only processes of this user can reach it now.
                _ = Native.Close(fd);
                if (attempt > 0 || Native.UnlinkAt(directory.Fd, LockFileName, 0) != 0)
                {
                    throw new ConntrackException(ErrorIds.WriteLockUnsafe, ErrorKind.PermissionDenied,
                        $"The lock file '{full}' belongs to or is open to another user, and cannot be replaced; nothing was changed.", full,
                        $"Remove '{full}', then run the command again.");
                }

                Log.Verbose($"Replaced the lock file {full}: it belonged to or was open to another user.");
            }
        }
    }

    private sealed class LockHandle(int fd) : IDisposable
    {
        private int _fd = fd;

        public void Dispose()
        {
            int fd = Interlocked.Exchange(ref _fd, -1);
            if (fd >= 0)
            {
                _ = Native.Close(fd);
            }
        }
    }
}
