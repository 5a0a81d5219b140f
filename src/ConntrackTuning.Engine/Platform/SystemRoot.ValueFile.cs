using ConntrackTuning.Engine.Namespaces;

namespace ConntrackTuning.Engine.Platform;

/// <summary>
/// Run-time writes: a kernel value file under proc/ or sys/ gets a plain write(2) of the number, as echo does
/// (it cannot be renamed into, and the kernel answers with an errno). Only the running system gets one.
/// </summary>
internal sealed partial class SystemRoot
{
    /// <summary>
    /// Writes the text of a kernel value file with one write(2) and returns 0 or the errno. The file must exist:
    /// value files are created by the kernel, never by us. A root that is not the running system is refused (its
    /// files record values and change no kernel, however writable they are); a test fixture that stands in for a
    /// kernel (<see cref="SimulatesKernel"/>) has its plain file replaced atomically instead.
    /// </summary>
    internal int TryWriteValueFile(string relative, string text)
    {
        if (!IsLive && !SimulatesKernel)
        {
            throw new ConntrackException(ErrorIds.SettingReadOnly, ErrorKind.PermissionDenied,
                NotRunningSystemReason(relative) + " Nothing was changed.", Full(relative),
                "Use -PersistOnly to change only the configuration under the root, or run the command on that system itself.");
        }

        if (!IsLive)
        {
            // A fixture: a reader running at the same time must never see the "value file" truncated.
            if (Native.Stat(Native.AT_FDCWD, HostPath(relative), out _) is not { IsRegular: true })
            {
                return Errno.ENOENT;
            }

            WriteFileAtomic(ResolveInRoot(relative), Encoding.ASCII.GetBytes(text), createDirectory: false);
            return 0;
        }

        // -NetworkNamespace: a /proc/sys/net file takes the value for the namespace of the thread that opened it.
        string target = NamespaceContext.Current is not null && NamespaceContext.IsPerNamespace(relative) ? NamespaceContext.Rewrite(relative) : relative;
        (int fd, int openErrno) = InNamespace(relative, () =>
        {
            int opened = TryOpenDirectory(ParentOf(target), Walk.FollowInRoot, out DirectoryFd? directory);
            if (opened != 0)
            {
                return (-1, opened);
            }

            using (directory!)
            {
                int file = Native.OpenAt(directory!.Fd, FileNameOf(target), Native.O_WRONLY | Native.O_TRUNC | Native.O_NOFOLLOW | Native.O_CLOEXEC);
                return (file, file < 0 ? Errno.Last : 0);
            }
        });
        if (fd < 0)
        {
            return openErrno;
        }

        byte[] bytes = Encoding.ASCII.GetBytes(text);
        {

            try
            {
                unsafe
                {
                    fixed (byte* b = bytes)
                    {
                        nint written = Native.Write(fd, b, (nuint)bytes.Length);
                        if (written < 0)
                        {
                            return Errno.Last;
                        }

                        if (written != bytes.Length)
                        {
                            return Errno.EIO;
                        }
                    }
                }
            }
            finally
            {
                _ = Native.Close(fd);
            }
        }

        Log.Verbose($"Wrote {text.Trim()} to {Full(relative)}");
        return 0;
    }
}
