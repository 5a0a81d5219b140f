using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

namespace ConntrackTuning.Engine.Platform;

/// <summary>
/// The writing half of the root. Two kinds of write exist and never mix: a kernel value file under proc/ or
/// sys/ gets a plain write of the number (it cannot be renamed into, and the kernel answers with an errno);
/// a configuration file under etc/ is replaced atomically (temporary file in the same folder, fsync, rename,
/// mode and owner kept), never through a symbolic link that leads out of its folder or out of the root.
/// </summary>
public sealed partial class SystemRoot
{
    /// <summary>
    /// Configuration files are handled as Latin-1 text: every byte maps to one char and back, so a UTF-8 comment,
    /// a byte-order mark or a stray invalid byte in a user's file survives a rewrite byte for byte.
    /// </summary>
    internal static readonly Encoding ConfigEncoding = Encoding.Latin1;

    /// <summary>
    /// Follows symbolic links of a root-relative path as if the root were "/": an absolute link target inside a
    /// mounted image means the image's file, never the host's. Returns the root-relative path with no link left
    /// in it (the last component may not exist yet).
    /// </summary>
    internal string ResolveInRoot(string relative)
    {
        ArgumentNullException.ThrowIfNull(relative);
        var done = new List<string>();
        var todo = new Stack<string>();
        PushReversed(todo, relative);
        int links = 0;
        while (todo.Count > 0)
        {
            string part = todo.Pop();
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

            string candidate = string.Join('/', done) + (done.Count > 0 ? "/" : "") + part;
            string? target = null;
            try
            {
                var info = new FileInfo(Full(candidate));
                if (info.LinkTarget is { } t && (info.Attributes & FileAttributes.ReparsePoint) != 0)
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

            if (++links > 40)
            {
                throw new ConntrackException(ErrorIds.UnsafeSymbolicLink, ErrorKind.InvalidData,
                    $"Too many symbolic links while resolving '{Full(relative)}'.", Full(relative),
                    "Remove the symbolic link loop.");
            }

            if (target.StartsWith('/'))
            {
                done.Clear();
            }

            PushReversed(todo, target);
        }

        return string.Join('/', done);
    }

    private static void PushReversed(Stack<string> stack, string path)
    {
        string[] parts = path.Split('/');
        for (int i = parts.Length - 1; i >= 0; i--)
        {
            stack.Push(parts[i]);
        }
    }

    /// <summary>
    /// Reads a configuration file for rewriting. Null when it does not exist; an error naming it when it is a
    /// folder, unreadable or not a regular file, because rewriting what could not be read would lose it.
    /// </summary>
    internal string? ReadConfigFile(string relative)
    {
        string full = Full(ResolveInRoot(relative));
        if (Directory.Exists(full))
        {
            throw new ConntrackException(ErrorIds.PersistenceFileUnreadable, ErrorKind.InvalidData,
                $"'{full}' is a folder, where a configuration file was expected; nothing was changed.", full,
                $"Move the folder '{full}' away (it is not something sysctl, modprobe or systemd read), then run the command again.");
        }

        try
        {
            var info = new FileInfo(full);
            if (!info.Exists && info.LinkTarget is null)
            {
                return null;
            }

            byte[] bytes = File.ReadAllBytes(full);
            Log.Verbose($"Read {full}");
            return ConfigEncoding.GetString(bytes);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ConntrackException(ErrorIds.PersistenceFileUnreadable, ErrorKind.PermissionDenied,
                $"Cannot read '{full}': permission denied; nothing was changed.", full,
                ProcessIdentity.IsRoot ? $"Check the mode of '{full}' and the security policy (SELinux, AppArmor)." : "Run pwsh as root (sudo pwsh) to change the persistent configuration.", e);
        }
        catch (IOException e)
        {
            throw new ConntrackException(ErrorIds.PersistenceFileUnreadable, ErrorKind.ReadError,
                $"Cannot read '{full}': {e.Message}; nothing was changed.", full,
                $"Check that '{full}' is a regular, readable file.", e);
        }
    }

    /// <summary>
    /// Writes the text of a kernel value file with one write(2), the way echo does, and returns 0 or the errno.
    /// The file must exist: value files are created by the kernel, never by us (in a fixture or image they are
    /// plain files, and the write simply replaces their content).
    /// </summary>
    internal int TryWriteValueFile(string relative, string text)
    {
        string resolved = CheckInsideRoot(relative);
        string full = Full(resolved);
        if (!IsKernelFileSystem(full))
        {
            // A fixture, image or sosreport: the "value file" is an ordinary file, and a reader running at the same
            // time must never see it truncated. Replace it like any other file.
            if (!File.Exists(full))
            {
                return Native.ENOENT;
            }

            WriteConfigFileAtomic(resolved, text);
            return 0;
        }

        byte[] bytes = Encoding.ASCII.GetBytes(text);
        // -NetworkNamespace: a /proc/sys/net file takes the value for the namespace of the thread that opened it.
        (int fd, int openErrno) = InNamespace(relative, () =>
        {
            int opened = Native.Open(full, Native.O_WRONLY | Native.O_TRUNC | Native.O_NOFOLLOW | Native.O_CLOEXEC);
            return (opened, opened < 0 ? Marshal.GetLastPInvokeError() : 0);
        });
        if (fd < 0)
        {
            return openErrno;
        }

        try
        {
            unsafe
            {
                fixed (byte* b = bytes)
                {
                    nint written = Native.Write(fd, b, (nuint)bytes.Length);
                    if (written < 0)
                    {
                        return Marshal.GetLastPInvokeError();
                    }

                    if (written != bytes.Length)
                    {
                        return Native.EIO;
                    }
                }
            }
        }
        finally
        {
            int closed = Native.Close(fd);
            _ = closed;
        }

        Log.Verbose($"Wrote {text.Trim()} to {full}");
        return 0;
    }

    /// <summary>True for files of procfs and sysfs, which take a value through write(2) and cannot be renamed into.</summary>
    private static bool IsKernelFileSystem(string full)
    {
        const long ProcSuperMagic = 0x9FA0;
        const long SysfsMagic = 0x62656572;
        var buffer = new byte[256];
        unsafe
        {
            fixed (byte* b = buffer)
            {
                if (StatFs(full, b) != 0)
                {
                    // Cannot tell: a plain write is what works on the kernel's files.
                    return true;
                }
            }
        }

        // struct statfs begins with f_type, a C long.
        long type = IntPtr.Size == 8 ? BitConverter.ToInt64(buffer, 0) : BitConverter.ToInt32(buffer, 0);
        return type is ProcSuperMagic or SysfsMagic;
    }

    [LibraryImport("libc", EntryPoint = "statfs", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int StatFs(string path, byte* buffer);

    /// <summary>
    /// For a root other than "/", refuses a path whose symbolic links lead out of the root (an absolute link in
    /// an image names the image's file, but the kernel would follow it to the host's). Returns the resolved path.
    /// </summary>
    private string CheckInsideRoot(string relative)
    {
        string resolved = ResolveInRoot(relative);
        if (IsLive)
        {
            return resolved;
        }

        string real = RealPath(Full(resolved));
        string realRoot = RealPath(Path);
        if (!real.Equals(realRoot, StringComparison.Ordinal) && !real.StartsWith(realRoot.TrimEnd('/') + "/", StringComparison.Ordinal))
        {
            throw new ConntrackException(ErrorIds.UnsafeSymbolicLink, ErrorKind.PermissionDenied,
                $"'{Full(relative)}' leads through a symbolic link to '{real}', outside the root '{Path}'; nothing was written.",
                Full(relative), "Replace the symbolic link with the file itself, or give -Root the folder the link leads to.");
        }

        return resolved;
    }

    private static string RealPath(string full)
    {
        // Walk up to the deepest existing ancestor: the file itself may not exist yet.
        string existing = full;
        string rest = "";
        while (!File.Exists(existing) && !Directory.Exists(existing))
        {
            string? parent = System.IO.Path.GetDirectoryName(existing);
            if (parent is null)
            {
                break;
            }

            rest = System.IO.Path.GetFileName(existing) + (rest.Length > 0 ? "/" + rest : "");
            existing = parent;
        }

        FileSystemInfo info = Directory.Exists(existing) ? new DirectoryInfo(existing) : new FileInfo(existing);
        string real = info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? info.FullName;
        // ResolveLinkTarget only resolves the last component; the parents are made real by the kernel's own view.
        real = System.IO.Path.GetFullPath(real);
        string? canonical = Canonicalize(real);
        return (canonical ?? real) + (rest.Length > 0 ? "/" + rest : "");
    }

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint RealPathNative(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(nint pointer);

    private static string? Canonicalize(string path)
    {
        nint p = RealPathNative(path, 0);
        if (p == 0)
        {
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8(p);
        }
        finally
        {
            Free(p);
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
        string directory = CheckInsideRoot(ParentOf(relative));
        string target = directory + "/" + FileNameOf(relative);
        string resolvedTarget = ResolveInRoot(target);
        if (resolvedTarget == target)
        {
            return target;
        }

        if (ParentOf(resolvedTarget) != directory)
        {
            throw new ConntrackException(ErrorIds.UnsafeSymbolicLink, ErrorKind.PermissionDenied,
                $"'{full}' is a symbolic link to '{Full(resolvedTarget)}', outside its folder; it was left as it was and nothing was written.",
                full, $"Replace the link '{full}' with a regular file (or remove it), then run the command again.");
        }

        Log.Verbose($"{full} is a symbolic link to {Full(resolvedTarget)} in the same folder; that file is replaced and the link kept.");
        return resolvedTarget;
    }

    /// <summary>
    /// Replaces a configuration file atomically: a reader (systemd-sysctl at boot, a second invocation, a backup)
    /// sees either the old or the new content, never half of it, and a crash leaves the old file. The file keeps
    /// its mode and owner; a new file gets 0644 and this process's owner. A symbolic link is followed only to a
    /// file in the same folder (then that file is replaced and the link kept); any other link is refused.
    /// </summary>
    internal void WriteConfigFileAtomic(string relative, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        WriteFileAtomic(relative, ConfigEncoding.GetBytes(text), createDirectory: true);
    }

    /// <summary>
    /// The same atomic replace for content that is already bytes (a UTF-8 metrics file, say). With
    /// <paramref name="createDirectory"/> false a missing folder is an error rather than created: the caller has
    /// said where the file belongs, and a folder made on a typo would hide the file from whoever reads it.
    /// </summary>
    internal void WriteFileAtomic(string relative, byte[] bytes, bool createDirectory)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        string target = ResolveReplaceTarget(relative);
        string directory = ParentOf(target);
        string targetFull = Full(target);
        string directoryFull = Full(directory);
        if (Directory.Exists(targetFull))
        {
            throw new ConntrackException(ErrorIds.PersistenceFileUnreadable, ErrorKind.InvalidData,
                $"'{targetFull}' is a folder, where a configuration file was expected; nothing was changed.", targetFull,
                $"Move the folder '{targetFull}' away, then run the command again.");
        }

        if (!Directory.Exists(directoryFull) && createDirectory)
        {
            Directory.CreateDirectory(directoryFull, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            Log.Verbose($"Created the folder {directoryFull}");
        }

        UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        (uint Uid, uint Gid)? owner = null;
        if (File.Exists(targetFull))
        {
            mode = File.GetUnixFileMode(targetFull);
            owner = Native.Owner(targetFull);
        }

        string temporary = $"{directoryFull}/.{FileNameOf(target)}.{Environment.ProcessId}.{Guid.NewGuid():n}.tmp";
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            };
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.SetUnixFileMode(temporary, mode);
            if (owner is { } o && (o.Uid != Native.Geteuid() || o.Gid != Native.Getegid()) && Native.Lchown(temporary, o.Uid, o.Gid) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new ConntrackException(ErrorIds.FileWriteFailed, ErrorKind.PermissionDenied,
                    $"Cannot keep the owner {o.Uid}:{o.Gid} of '{targetFull}' ({Native.Describe(errno)}); it was left as it was.", targetFull,
                    "Run pwsh as root (sudo pwsh), or as the owner of the file.");
            }

            if (Native.Rename(temporary, targetFull) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw WriteFailed(targetFull, errno);
            }

            SyncDirectory(directoryFull);
            Log.Verbose($"Wrote {targetFull} atomically (mode {FormatMode(mode)}{(owner is { } kept ? $", owner {kept.Uid}:{kept.Gid}" : "")}).");
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ConntrackException(ErrorIds.FileWriteFailed, ErrorKind.PermissionDenied,
                $"Cannot write '{targetFull}': permission denied; it was left as it was.", targetFull,
                IsLive && !ProcessIdentity.IsRoot ? "Run pwsh as root (sudo pwsh)." : $"Check that '{directoryFull}' is writable.", e);
        }
        catch (IOException e)
        {
            throw new ConntrackException(ErrorIds.FileWriteFailed, ErrorKind.WriteError,
                $"Cannot write '{targetFull}': {e.Message}; it was left as it was.", targetFull,
                $"Check the free space and that the file system holding '{directoryFull}' is writable.", e);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }

    /// <summary>The folders of a configuration file that do not exist yet, deepest first: what writing it creates.</summary>
    internal IReadOnlyList<string> MissingFolders(string relative)
    {
        ArgumentNullException.ThrowIfNull(relative);
        var missing = new List<string>();
        for (string? folder = System.IO.Path.GetDirectoryName(relative); !string.IsNullOrEmpty(folder) && !Directory.Exists(Full(folder)); folder = System.IO.Path.GetDirectoryName(folder))
        {
            missing.Add(folder);
        }

        return missing;
    }

    /// <summary>
    /// Removes a folder this invocation created, when the change it belonged to is rolled back. A folder that is not
    /// empty (something else put a file there meanwhile) stays.
    /// </summary>
    internal void RemoveCreatedFolder(string relative)
    {
        string full = Full(relative);
        if (Directory.Exists(full) && !Directory.EnumerateFileSystemEntries(full).Any())
        {
            Directory.Delete(full);
            SyncDirectory(System.IO.Path.GetDirectoryName(full)!);
            Log.Verbose($"Removed the folder {full}, created for the change");
        }
    }

    /// <summary>Removes a configuration file this invocation created, when the change it belonged to is rolled back.</summary>
    internal void RemoveConfigFile(string relative)
    {
        string full = Full(ResolveInRoot(relative));
        if (File.Exists(full))
        {
            File.Delete(full);
            SyncDirectory(System.IO.Path.GetDirectoryName(full)!);
            Log.Verbose($"Removed {full}");
        }
    }

    private static ConntrackException WriteFailed(string full, int errno) => new(ErrorIds.FileWriteFailed,
        errno is Native.EACCES or Native.EPERM ? ErrorKind.PermissionDenied : ErrorKind.WriteError,
        $"Cannot write '{full}': {Native.Describe(errno)}; it was left as it was.", full,
        errno == Native.EROFS ? "The file system is mounted read-only; remount it read-write or change the image it comes from."
            : "Check the free space, the permissions and that the file system is writable.");

    private static void SyncDirectory(string directoryFull)
    {
        // The rename is durable only once the folder itself is on disk.
        int fd = Native.Open(directoryFull, Native.O_RDONLY | Native.O_DIRECTORY | Native.O_CLOEXEC);
        if (fd >= 0)
        {
            _ = Native.Fsync(fd);
            _ = Native.Close(fd);
        }
    }

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

    /// <summary>
    /// The lock that serialises changes to one root: an flock on run/lock/conntrack-tuning.lock (or
    /// .conntrack-tuning.lock at the top of a root without run/lock). Taken only when something is about to be
    /// written, so -WhatIf never creates it. The file is never deleted: deleting a lock file lets a third process
    /// lock a new inode while the second still waits on the old one.
    /// </summary>
    internal IDisposable AcquireWriteLock(TimeSpan timeout)
    {
        string relative = DirectoryExists("run/lock") ? "run/lock/conntrack-tuning.lock" : ".conntrack-tuning.lock";
        string full = Full(relative);
        var info = new FileInfo(full);
        if (info.LinkTarget is not null)
        {
            throw new ConntrackException(ErrorIds.UnsafeSymbolicLink, ErrorKind.PermissionDenied,
                $"The lock file '{full}' is a symbolic link; refusing to open it.", full,
                $"Remove '{full}' (it should be a plain empty file), then run the command again.");
        }

        int fd = Native.OpenCreate(full, Native.O_RDWR | Native.O_CREAT | Native.O_NOFOLLOW | Native.O_CLOEXEC, 0x1A4 /* 0644 */);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new ConntrackException(ErrorIds.FileWriteFailed, errno is Native.EACCES or Native.EPERM ? ErrorKind.PermissionDenied : ErrorKind.WriteError,
                $"Cannot open the lock file '{full}': {Native.Describe(errno)}; nothing was changed.", full,
                IsLive && !ProcessIdentity.IsRoot ? "Run pwsh as root (sudo pwsh)." : "Check that the folder is writable.");
        }

        DateTime deadline = DateTime.UtcNow + timeout;
        bool announced = false;
        using var waiting = new Progress.WaitProgress(Log, $"Another invocation holds {full}", timeout, Cancellation);
        while (Native.Flock(fd, Native.LOCK_EX | Native.LOCK_NB) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Native.EWOULDBLOCK || DateTime.UtcNow > deadline)
            {
                _ = Native.Close(fd);
                throw new ConntrackException(ErrorIds.WriteLockTimeout, ErrorKind.ResourceBusy,
                    errno == Native.EWOULDBLOCK
                        ? $"Another invocation has held '{full}' for more than {timeout.TotalSeconds:0} s; nothing was changed."
                        : $"Cannot lock '{full}': {Native.Describe(errno)}; nothing was changed.",
                    full, "Wait for the other Set-Conntrack* command (or Ansible run) to finish, then run the command again.");
            }

            if (!announced)
            {
                Log.Verbose($"Waiting for another invocation that holds {full}.");
                announced = true;
            }

            if (!waiting.Pause(TimeSpan.FromMilliseconds(50)))
            {
                // Stopped (Ctrl+C) while waiting: nothing was written, and the lock file stays as it was.
                _ = Native.Close(fd);
                Cancellation.ThrowIfCancellationRequested();
            }
        }

        // The last point a stop is honoured: once the lock is held the change is written whole (milliseconds of
        // atomic replaces), so a stop never leaves one file of it written and the next not.
        if (Cancellation.IsCancellationRequested)
        {
            _ = Native.Close(fd);
            Cancellation.ThrowIfCancellationRequested();
        }

        Log.Verbose($"Locked {full}");
        return new LockHandle(fd);
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
