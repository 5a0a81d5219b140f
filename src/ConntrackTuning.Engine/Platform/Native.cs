using System.Runtime.InteropServices;

namespace ConntrackTuning.Engine.Platform;

/// <summary>
/// Every libc call of the engine, in one place: the *at() calls the file layer resolves and writes through
/// (a directory descriptor per path component, so a folder swapped for a link mid-way cannot redirect a write),
/// write(2) to /proc and /sys (whose errno means something), flock, the netlink socket and /dev/kmsg. The errno
/// values are in <see cref="Errno"/>.
/// </summary>
internal static unsafe partial class Native
{
    // Linux generic values (x86_64, aarch64, riscv64, s390x share them).
    internal const int O_RDONLY = 0x0;
    internal const int O_WRONLY = 0x1;
    internal const int O_RDWR = 0x2;
    internal const int O_CREAT = 0x40;
    internal const int O_EXCL = 0x80;
    internal const int O_TRUNC = 0x200;
    internal const int O_NONBLOCK = 0x800;
    internal const int O_DIRECTORY = 0x10000;
    internal const int O_NOFOLLOW = 0x20000;
    internal const int O_CLOEXEC = 0x80000;

    internal const int AT_FDCWD = -100;
    internal const int AT_SYMLINK_NOFOLLOW = 0x100;
    internal const int AT_REMOVEDIR = 0x200;
    internal const int AT_EMPTY_PATH = 0x1000;

    internal const int LOCK_EX = 2;
    internal const int LOCK_NB = 4;

    internal const int CLONE_NEWNET = 0x40000000;

    internal const long PROC_SUPER_MAGIC = 0x9FA0;
    internal const long SYSFS_MAGIC = 0x62656572;

    // open(2) is variadic in C; the mode is only read with O_CREAT, so the two forms are declared apart.
    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "openat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int OpenAt(int dirfd, string path, int flags);

    [LibraryImport("libc", EntryPoint = "openat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int OpenAtCreate(int dirfd, string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    internal static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    internal static partial int Flock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "renameat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int RenameAt(int fromDirfd, string from, int toDirfd, string to);

    [LibraryImport("libc", EntryPoint = "unlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int UnlinkAt(int dirfd, string path, int flags);

    [LibraryImport("libc", EntryPoint = "mkdirat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int MkdirAt(int dirfd, string path, uint mode);

    [LibraryImport("libc", EntryPoint = "readlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial nint ReadLinkAt(int dirfd, string path, byte* buffer, nuint size);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    internal static partial int Fchmod(int fd, uint mode);

    [LibraryImport("libc", EntryPoint = "fchown", SetLastError = true)]
    internal static partial int Fchown(int fd, uint owner, uint group);

    [LibraryImport("libc", EntryPoint = "lchown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Lchown(string path, uint owner, uint group);

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "statfs", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int StatFs(string path, byte* buffer);

    [LibraryImport("libc", EntryPoint = "fstatfs", SetLastError = true)]
    private static partial int FstatFs(int fd, byte* buffer);

    /// <summary>setns(2): moves the calling thread into the namespace the fd names (a socket keeps the namespace it was created in).</summary>
    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    internal static partial int Setns(int fd, int nstype);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint Geteuid();

    [LibraryImport("libc", EntryPoint = "getegid")]
    internal static partial uint Getegid();

    [LibraryImport("libc", EntryPoint = "strerror")]
    internal static partial nint StrError(int errno);

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    internal static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    internal static partial int SetSockOpt(int fd, int level, int name, ref Timeval value, int length);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    internal static partial int SetSockOptInt(int fd, int level, int name, ref int value, int length);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    internal static partial nint Send(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    internal static partial nint Recv(int fd, byte* buffer, nint length, int flags);

    [StructLayout(LayoutKind.Sequential)]
    internal struct Timeval
    {
        public long Seconds;
        public long Microseconds;
    }

    /// <summary>
    /// The status of a path relative to a directory descriptor (never following a last symbolic link), or of the
    /// descriptor itself when <paramref name="path"/> is empty; null with the errno when it cannot be read.
    /// statx has one layout on every architecture (glibc 2.28 and later), unlike struct stat.
    /// </summary>
    internal static FileStatus? Stat(int dirfd, string path, out int errno)
    {
        const uint StatxBasicStats = 0x7FF;
        byte* b = stackalloc byte[256];
        int flags = AT_SYMLINK_NOFOLLOW | (path.Length == 0 ? AT_EMPTY_PATH : 0);
        if (Statx(dirfd, path, flags, StatxBasicStats, b) != 0)
        {
            errno = Errno.Last;
            return null;
        }

        errno = 0;
        var span = new ReadOnlySpan<byte>(b, 256);
        // struct statx: mask, blksize (u32), attributes (u64), nlink, uid, gid (u32), mode (u16), pad, ino, size (u64) ... dev_major, dev_minor at 136.
        return new FileStatus(
            Mode: BitConverter.ToUInt16(span[28..]),
            Uid: BitConverter.ToUInt32(span[20..]),
            Gid: BitConverter.ToUInt32(span[24..]),
            Inode: BitConverter.ToUInt64(span[32..]),
            Size: BitConverter.ToInt64(span[40..]),
            Device: ((ulong)BitConverter.ToUInt32(span[136..]) << 32) | BitConverter.ToUInt32(span[140..]));
    }

    /// <summary>
    /// Device (major, minor) and inode of the file a path leads to (links followed), or null with the errno: what tells
    /// a live namespace bind mount (nsfs) from the empty file it leaves when unmounted.
    /// </summary>
    internal static (uint Major, uint Minor, ulong Inode)? DeviceAndInode(string path, out int errno)
    {
        const uint StatxIno = 0x100;
        byte* b = stackalloc byte[256];
        if (Statx(AT_FDCWD, path, 0, StatxIno, b) != 0)
        {
            errno = Errno.Last;
            return null;
        }

        // struct statx: stx_ino at 32 (u64); stx_dev_major at 136 and stx_dev_minor at 140 (u32 each).
        errno = 0;
        var span = new ReadOnlySpan<byte>(b, 256);
        return (BitConverter.ToUInt32(span[136..]), BitConverter.ToUInt32(span[140..]), BitConverter.ToUInt64(span[32..]));
    }

    /// <summary>
    /// Inode and change time (UTC) of the file a path leads to, or null: an nsfs file's ctime is when its inode was
    /// made, which bounds from above when the namespace it stands for was born.
    /// </summary>
    internal static (ulong Inode, DateTime ChangeTime)? InodeAndChangeTime(string path)
    {
        const uint StatxIno = 0x100, StatxCtime = 0x80;
        byte* b = stackalloc byte[256];
        if (Statx(AT_FDCWD, path, 0, StatxIno | StatxCtime, b) != 0)
        {
            return null;
        }

        // struct statx: stx_mask at 0, stx_ino at 32; stx_ctime at 96 (tv_sec i64, tv_nsec u32).
        var span = new ReadOnlySpan<byte>(b, 256);
        if ((BitConverter.ToUInt32(span) & (StatxIno | StatxCtime)) != (StatxIno | StatxCtime))
        {
            return null;
        }

        long seconds = BitConverter.ToInt64(span[96..]);
        uint nanoseconds = BitConverter.ToUInt32(span[104..]);
        return (BitConverter.ToUInt64(span[32..]), DateTime.UnixEpoch.AddSeconds(seconds).AddTicks(nanoseconds / 100));
    }

    /// <summary>Owner and group of a path (not following a last symbolic link), or null when it cannot be read.</summary>
    internal static (uint Uid, uint Gid)? Owner(string path) =>
        Stat(AT_FDCWD, path, out _) is { } s ? (s.Uid, s.Gid) : null;

    /// <summary>The file system type (statfs f_type) of a path, or null when it cannot be read.</summary>
    internal static long? FileSystemType(string path)
    {
        byte* b = stackalloc byte[256];
        return StatFs(path, b) != 0 ? null : FsType(b);
    }

    /// <summary>The file system type (statfs f_type) of an open descriptor, or null when it cannot be read.</summary>
    internal static long? FileSystemType(int fd)
    {
        byte* b = stackalloc byte[256];
        return FstatFs(fd, b) != 0 ? null : FsType(b);
    }

    // struct statfs begins with f_type, a C long.
    private static long FsType(byte* b) => IntPtr.Size == 8 ? *(long*)b : *(int*)b;

    /// <summary>The target of a symbolic link relative to a directory descriptor, or null (with the errno) when it is none.</summary>
    internal static string? ReadLink(int dirfd, string name, out int errno)
    {
        byte* buffer = stackalloc byte[4096];
        nint n = ReadLinkAt(dirfd, name, buffer, 4096);
        if (n < 0)
        {
            errno = Errno.Last;
            return null;
        }

        errno = 0;
        return System.Text.Encoding.UTF8.GetString(buffer, (int)n);
    }
    // Socket options and bind for the ctnetlink event subscriber (Netlink/NetlinkSocket.Events.cs): .NET has no
    // netlink address family, so the multicast groups are joined with bind(2) on a struct sockaddr_nl.
    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    internal static unsafe partial int SetSockOpt(int fd, int level, int name, void* value, int length);

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    internal static unsafe partial int GetSockOpt(int fd, int level, int name, void* value, ref int length);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    internal static unsafe partial int Bind(int fd, void* address, int length);

    // The event subscriber reads every queued datagram in one call (recvmmsg with MSG_WAITFORONE): one system
    // call per burst instead of one per event. The layouts are the LP64 ones of glibc and musl.
    [LibraryImport("libc", EntryPoint = "recvmmsg", SetLastError = true)]
    internal static unsafe partial int RecvMmsg(int fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    /// <summary>getrusage(2): the CPU time the process (RUSAGE_SELF, 0) or the calling thread (RUSAGE_THREAD, 1) has used.</summary>
    [LibraryImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static unsafe partial int GetRusage(int who, void* usage);

    /// <summary>User plus system CPU seconds of this process so far (every thread), or null when getrusage fails.</summary>
    internal static double? ProcessCpuSeconds()
    {
        // struct rusage starts with ru_utime and ru_stime, two struct timeval (C longs); 144 bytes on LP64.
        long* usage = stackalloc long[32];
        if (GetRusage(0, usage) != 0)
        {
            return null;
        }

        return usage[0] + usage[2] + ((usage[1] + usage[3]) / 1e6);
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct MMsgHdr
    {
        public MsgHdr Header;
        public uint Length;
    }

    /// <summary>struct sock_filter: one classic BPF instruction (SO_ATTACH_FILTER).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SockFilter
    {
        public ushort Code;
        public byte JumpTrue;
        public byte JumpFalse;
        public uint K;
    }

    /// <summary>struct sock_fprog: the program handed to SO_ATTACH_FILTER.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SockFprog
    {
        public ushort Length;
        public SockFilter* Filter;
    }
}

/// <summary>bpf(2), which libc does not wrap: reached through syscall(2) with the number of this architecture.</summary>
internal static partial class Native
{
    internal static long SysBpf => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 321,
        Architecture.X86 => 357,
        Architecture.S390x => 351,
        _ => 280, // arm64, riscv64, loongarch64: the generic table
    };

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    internal static partial long Syscall(long number, long a1, nint a2, long a3);
}

/// <summary>What statx says about a file: the type and permission bits, owner, identity and size.</summary>
internal readonly record struct FileStatus(uint Mode, uint Uid, uint Gid, ulong Inode, long Size, ulong Device)
{
    private const uint TypeMask = 0xF000;

    public bool IsRegular => (Mode & TypeMask) == 0x8000;

    public bool IsDirectory => (Mode & TypeMask) == 0x4000;

    public bool IsLink => (Mode & TypeMask) == 0xA000;

    public System.IO.UnixFileMode Permissions => (System.IO.UnixFileMode)(Mode & 0xFFF);

    /// <summary>"a FIFO", "a character device": what a file that is not a regular one is, for messages.</summary>
    public string Kind => (Mode & TypeMask) switch
    {
        0x1000 => "a FIFO (named pipe)",
        0x2000 => "a character device",
        0x4000 => "a folder",
        0x6000 => "a block device",
        0x8000 => "a regular file",
        0xA000 => "a symbolic link",
        0xC000 => "a socket",
        _ => "not a regular file",
    };
}

internal static partial class Native
{
    internal const int CLOCK_REALTIME = 0;
    internal const int CLOCK_MONOTONIC = 1;

    [StructLayout(LayoutKind.Sequential)]
    internal struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime", SetLastError = true)]
    internal static partial int ClockGetTime(int clock, out Timespec time);
}
