using System.Runtime.InteropServices;

namespace ConntrackTuning.Engine.Platform;

/// <summary>
/// Every errno the engine tells apart, in one place (Linux generic values: x86_64, aarch64, riscv64 and s390x
/// share them), with the two ways a user reads one: the C library's words, and the short name plus meaning the
/// ctnetlink errors use (CTNETLINK.md §10.5).
/// </summary>
internal static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int EWOULDBLOCK = EAGAIN;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int EXDEV = 18;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int EROFS = 30;
    public const int EPIPE = 32;
    public const int ERANGE = 34;
    public const int ELOOP = 40;
    public const int EPROTONOSUPPORT = 93;
    public const int EOPNOTSUPP = 95;
    public const int EAFNOSUPPORT = 97;
    public const int ENOBUFS = 105;

    /// <summary>The errno of the last P/Invoke declared with SetLastError.</summary>
    public static int Last => Marshal.GetLastPInvokeError();

    /// <summary>"EPERM (operation not permitted)": the form the netlink errors are worded in.</summary>
    public static string Describe(int errno) => errno switch
    {
        EPERM => "EPERM (operation not permitted)",
        ENOENT => "ENOENT (no such entry)",
        EAGAIN => "EAGAIN (no reply in time)",
        ENOMEM => "ENOMEM (out of memory)",
        EBUSY => "EBUSY (a dump is already running on this socket)",
        EINVAL => "EINVAL (invalid argument)",
        EPROTONOSUPPORT => "EPROTONOSUPPORT (protocol not supported)",
        EOPNOTSUPP => "EOPNOTSUPP (operation not supported)",
        EAFNOSUPPORT => "EAFNOSUPPORT (address family not supported)",
        ENOBUFS => "ENOBUFS (the socket's receive queue overflowed)",
        _ => "errno " + errno.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>"Invalid argument" for EINVAL: the words the user would see from echo.</summary>
    public static string Message(int errno)
    {
        nint text = Native.StrError(errno);
        return text == 0 ? $"errno {errno}" : Marshal.PtrToStringUTF8(text) ?? $"errno {errno}";
    }
}
