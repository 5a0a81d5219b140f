using System;
using System.Runtime.InteropServices;

namespace ConntrackTuning.Engine.Platform;

/// <summary>
/// The few libc calls the writers need and .NET does not expose with the precision a kernel value file
/// demands: the errno of a write() to /proc or /sys (EINVAL, EOPNOTSUPP, ENOMEM each mean something), flock
/// with a timeout, fsync of a directory, rename(2) itself, and chown.
/// </summary>
internal static partial class Native
{
    // Linux generic values (x86_64, aarch64, riscv64, s390x share them).
    internal const int O_RDONLY = 0x0;
    internal const int O_WRONLY = 0x1;
    internal const int O_RDWR = 0x2;
    internal const int O_CREAT = 0x40;
    internal const int O_TRUNC = 0x200;
    internal const int O_DIRECTORY = 0x10000;
    internal const int O_NOFOLLOW = 0x20000;
    internal const int O_CLOEXEC = 0x80000;

    internal const int LOCK_EX = 2;
    internal const int LOCK_NB = 4;

    internal const int EPERM = 1;
    internal const int ENOENT = 2;
    internal const int EIO = 5;
    internal const int EACCES = 13;
    internal const int EBUSY = 16;
    internal const int EISDIR = 21;
    internal const int EINVAL = 22;
    internal const int ENOSPC = 28;
    internal const int EROFS = 30;
    internal const int ERANGE = 34;
    internal const int ENOMEM = 12;
    internal const int ELOOP = 40;
    internal const int EWOULDBLOCK = 11;
    internal const int EOPNOTSUPP = 95;

    // open(2) is variadic in C; the mode is only read with O_CREAT, so the two forms are declared apart.
    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int OpenCreate(string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    internal static unsafe partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    internal static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    internal static partial int Flock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "rename", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Rename(string from, string to);

    [LibraryImport("libc", EntryPoint = "lchown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Lchown(string path, uint owner, uint group);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint Geteuid();

    [LibraryImport("libc", EntryPoint = "getegid")]
    internal static partial uint Getegid();

    [LibraryImport("libc", EntryPoint = "strerror")]
    private static partial nint StrError(int errno);

    /// <summary>"Invalid argument" for EINVAL: the words the user would see from echo.</summary>
    internal static string Describe(int errno)
    {
        nint text = StrError(errno);
        return text == 0 ? $"errno {errno}" : Marshal.PtrToStringUTF8(text) ?? $"errno {errno}";
    }

    /// <summary>Owner and group of a path (not following a last symbolic link), or null when it cannot be read.</summary>
    internal static (uint Uid, uint Gid)? Owner(string path)
    {
        // .NET has no owner on a FileInfo; statx has one layout on every architecture (glibc 2.28 and later).
        const int AtFdCwd = -100;
        const int AtSymlinkNoFollow = 0x100;
        const uint StatxUid = 0x8;
        const uint StatxGid = 0x10;
        var buffer = new byte[256];
        unsafe
        {
            fixed (byte* b = buffer)
            {
                if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxUid | StatxGid, b) != 0)
                {
                    return null;
                }
            }
        }

        // struct statx: stx_mask, stx_blksize (u32 each), stx_attributes (u64), stx_nlink, stx_uid, stx_gid (u32 each).
        return (BitConverter.ToUInt32(buffer, 20), BitConverter.ToUInt32(buffer, 24));
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

}

/// <summary>
/// The calls that enter another network namespace and identify one: setns(2), and statx(2) for the device and
/// inode of an nsfs file (what tells a live namespace bind mount from the empty file it leaves when unmounted).
/// </summary>
internal static partial class Native
{
    internal const int CLONE_NEWNET = 0x40000000;

    /// <summary>setns(2): moves the calling thread into the namespace the fd names (a socket keeps the namespace it was created in).</summary>
    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    internal static partial int Setns(int fd, int nstype);

    /// <summary>Device (major, minor) and inode of the file a path leads to (links followed), or null with the errno.</summary>
    internal static (uint Major, uint Minor, ulong Inode)? DeviceAndInode(string path, out int errno)
    {
        const int AtFdCwd = -100;
        const uint StatxIno = 0x100;
        var buffer = new byte[256];
        unsafe
        {
            fixed (byte* b = buffer)
            {
                if (Statx(AtFdCwd, path, 0, StatxIno, b) != 0)
                {
                    errno = Marshal.GetLastPInvokeError();
                    return null;
                }
            }
        }

        // struct statx: stx_ino at 32 (u64); stx_dev_major at 136 and stx_dev_minor at 140 (u32 each).
        errno = 0;
        return (BitConverter.ToUInt32(buffer, 136), BitConverter.ToUInt32(buffer, 140), BitConverter.ToUInt64(buffer, 32));
    }
    // Socket options and bind for the ctnetlink event subscriber (Netlink/NetlinkSocket.Events.cs): .NET has no
    // netlink address family, so the multicast groups are joined with bind(2) on a struct sockaddr_nl.
    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    internal static unsafe partial int SetSockOpt(int fd, int level, int name, void* value, int length);

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    internal static unsafe partial int GetSockOpt(int fd, int level, int name, void* value, ref int length);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    internal static unsafe partial int Bind(int fd, void* address, int length);
}
