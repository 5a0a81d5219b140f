using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;

namespace ConntrackTuning.Engine.KernelLog;

/// <summary>
/// Reads the live kernel ring buffer from /dev/kmsg without a shell or dmesg. Each record comes back in the
/// raw kmsg form "prio,seq,usec,flags;text". Reading stops at the newest record instead of waiting for more.
/// </summary>
public static partial class KernelRingBuffer
{
    private const int ORdOnly = 0;
    private const int ONonBlock = 0x800;
    private const int EPipe = 32;
    private const int EIntr = 4;

    /// <summary>The records, oldest first. Throws UnauthorizedAccessException when dmesg_restrict hides them.</summary>
    public static IEnumerable<string> ReadRecords(string device = "/dev/kmsg")
    {
        int fd = NativeMethods.open(device, ORdOnly | ONonBlock);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno is 1 or 13
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
                if (errno == EPipe || errno == EIntr)
                {
                    // EPIPE: the record we were at was overwritten by newer ones; the next read continues.
                    continue;
                }

                yield break;
            }
        }
        finally
        {
            _ = NativeMethods.close(fd);
        }
    }

    private static unsafe nint Read(int fd, byte[] buffer)
    {
        fixed (byte* p = buffer)
        {
            return NativeMethods.read(fd, p, (nuint)buffer.Length);
        }
    }

    private static unsafe partial class NativeMethods
    {
        [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int open(string path, int flags);

        [LibraryImport("libc", SetLastError = true)]
        internal static partial nint read(int fd, byte* buffer, nuint count);

        [LibraryImport("libc", SetLastError = true)]
        internal static partial int close(int fd);
    }
}
