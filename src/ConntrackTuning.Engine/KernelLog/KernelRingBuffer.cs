using System.Runtime.InteropServices;

namespace ConntrackTuning.Engine.KernelLog;

/// <summary>
/// Reads the live kernel ring buffer from /dev/kmsg without a shell or dmesg. Each record comes back in the
/// raw kmsg form "prio,seq,usec,flags;text". Reading stops at the newest record instead of waiting for more.
/// </summary>
internal static class KernelRingBuffer
{
    /// <summary>The records, oldest first. Throws UnauthorizedAccessException when dmesg_restrict hides them.</summary>
    public static IEnumerable<string> ReadRecords(string device = "/dev/kmsg")
    {
        int fd = Native.Open(device, Native.O_RDONLY | Native.O_NONBLOCK | Native.O_CLOEXEC);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno is Errno.EPERM or Errno.EACCES
                ? new UnauthorizedAccessException($"Reading {device} is not permitted (kernel.dmesg_restrict); run as root.")
                : new System.IO.IOException($"Cannot open {device}: errno {errno}.");
        }

        return Records(fd);
    }

    private static IEnumerable<string> Records(int fd)
    {
        try
        {
            byte[] buffer = new byte[16384];
            while (true)
            {
                nint n = Read(fd, buffer);
                if (n > 0)
                {
                    yield return Encoding.UTF8.GetString(buffer, 0, (int)n).TrimEnd('\n');
                    continue;
                }

                int errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
                if (errno is Errno.EPIPE or Errno.EINTR)
                {
                    // EPIPE: the record we were at was overwritten by newer ones; the next read continues.
                    continue;
                }

                yield break;
            }
        }
        finally
        {
            _ = Native.Close(fd);
        }
    }

    private static unsafe nint Read(int fd, byte[] buffer)
    {
        fixed (byte* p = buffer)
        {
            return Native.Read(fd, p, (nuint)buffer.Length);
        }
    }
}
