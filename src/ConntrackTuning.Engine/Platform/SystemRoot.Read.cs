using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace ConntrackTuning.Engine.Platform;

/// <summary>
/// The reading half of the root. Every file is opened with O_NONBLOCK and checked with fstat before a byte is read:
/// only a regular file is read (procfs and sysfs files are regular too), so a FIFO, a device node or a folder
/// named like a configuration file is skipped with a warning that names it instead of hanging or filling memory,
/// and a whole-file read stops at <see cref="MaxWholeFileBytes"/>.
/// </summary>
internal sealed partial class SystemRoot
{
    /// <summary>The most read of a file read whole (a value file, a sysctl.d file): 1 MiB, far above any real one.</summary>
    internal const int MaxWholeFileBytes = 1 << 20;

    /// <summary>Reads a whole file. Missing and unreadable files give null; the reason goes to the verbose log.</summary>
    public string? TryReadText(string relative) => TryReadText(relative, out _);

    public string? TryReadText(string relative, out ReadStatus status)
    {
        byte[]? bytes = TryReadBytes(relative, out status, out _);
        if (status == ReadStatus.Missing && SnapshotValue(relative) is { } value)
        {
            Log.Verbose($"Read {SysctlKeyOf(relative)} from {Full(SysctlSnapshotPath)}");
            status = ReadStatus.Ok;
            return value + "\n";
        }

        // As File.ReadAllText did: a UTF-8 byte-order mark is not part of the text.
        return bytes is null ? null : bytes.AsSpan().StartsWith("\uFEFF"u8) ? Encoding.UTF8.GetString(bytes, 3, bytes.Length - 3) : Encoding.UTF8.GetString(bytes);
    }

    /// <summary>
    /// Reads a file holding one whole number, as every sysctl and module parameter does. Null when the file is
    /// absent or unreadable; an error naming the file when it exists but holds no number.
    /// </summary>
    public long? TryReadInt64(string relative) => TryReadInt64(relative, out _);

    public long? TryReadInt64(string relative, out ReadStatus status)
    {
        string? text = TryReadText(relative, out status);
        return text is null ? null : ParseValueFile(text, Full(relative));
    }

    /// <summary>
    /// Opens a file for streaming reads, for files too big to read whole (the conntrack table). Null when the
    /// file is missing or unreadable, with the reason in <paramref name="status"/> and the verbose log.
    /// </summary>
    public Stream? TryOpenRead(string relative, out ReadStatus status) => TryOpenRead(relative, out status, out _);

    /// <summary>The same, with the reason a file could not be opened ("permission denied", "a FIFO ..."), for messages.</summary>
    public Stream? TryOpenRead(string relative, out ReadStatus status, out string? reason)
    {
        SafeFileHandle? handle = OpenRegular(relative, out status, out reason);
        // No FileStream buffer: the callers read in large blocks of their own.
        return handle is null ? null : new FileStream(handle, FileAccess.Read, bufferSize: 0);
    }

    /// <summary>Reads a whole regular file of at most <see cref="MaxWholeFileBytes"/>, or null with the status and reason.</summary>
    internal byte[]? TryReadBytes(string relative, out ReadStatus status, out string? reason)
    {
        using SafeFileHandle? handle = OpenRegular(relative, out status, out reason);
        if (handle is null)
        {
            return null;
        }

        byte[]? bytes = ReadBounded(handle, MaxWholeFileBytes);
        if (bytes is null)
        {
            status = ReadStatus.Failed;
            reason = $"it holds more than {MaxWholeFileBytes / 1024 / 1024} MiB, far more than a file of this kind ever does; it was not read";
            Log.Warning($"Skipped '{Full(relative)}': {reason}.");
        }

        return bytes;
    }

    /// <summary>
    /// Opens a regular file, or returns null with the status: Missing, AccessDenied, or Failed with a warning that
    /// names a file that is not a regular one (a FIFO, a device) and is left unread.
    /// </summary>
    private SafeFileHandle? OpenRegular(string relative, out ReadStatus status, out string? reason)
    {
        string full = Full(relative);
        int errno = TryOpenFile(relative, out SafeFileHandle? handle, out FileStatus file, out _);
        if (errno != 0)
        {
            (status, reason) = errno switch
            {
                Errno.ENOENT or Errno.ENOTDIR => (ReadStatus.Missing, "it does not exist"),
                Errno.EACCES or Errno.EPERM => (ReadStatus.AccessDenied, "permission denied"),
                _ => (ReadStatus.Failed, Errno.Message(errno)),
            };
            if (status != ReadStatus.Missing)
            {
                Log.Verbose($"Cannot read {full}: {reason}.");
            }

            return null;
        }

        if (!file.IsRegular)
        {
            handle!.Dispose();
            status = file.IsDirectory ? ReadStatus.Missing : ReadStatus.Failed;
            reason = $"it is {file.Kind}, not a regular file";
            if (!file.IsDirectory)
            {
                Log.Warning($"Skipped '{full}': {reason}; it was not read.");
            }

            return null;
        }

        Log.Verbose($"Read {full}");
        status = ReadStatus.Ok;
        reason = null;
        return handle;
    }

    /// <summary>The whole content of an open file, or null when it holds more than <paramref name="limit"/> bytes.</summary>
    private static byte[]? ReadBounded(SafeFileHandle handle, int limit)
    {
        // procfs and sysfs report a size of 0 (or 4096): read until the end rather than trusting the size. The
        // buffer is pooled because a probe reads dozens of small files and the result is copied out anyway: a fresh
        // 64 KiB array per file made one Get-ConntrackLimit allocate about 1 MiB.
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Min(limit + 1, 64 * 1024));
        try
        {
            int length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (buffer.Length > limit)
                    {
                        return null;
                    }

                    byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, limit + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                int n = RandomAccess.Read(handle, buffer.AsSpan(length), length);
                if (n == 0)
                {
                    return length > limit ? null : buffer.AsSpan(0, length).ToArray();
                }

                length += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Lines of a file, streamed; empty when the file is missing, unreadable or not a regular file.</summary>
    public IEnumerable<string> ReadLines(string relative)
    {
        Stream? stream = TryOpenRead(relative, out _);
        if (stream is null)
        {
            yield break;
        }

        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            yield return line;
        }
    }

    /// <summary>
    /// Opens a file for streaming (large logs are read in chunks, never whole). Null when it is missing;
    /// other failures (permission, I/O, not a regular file) throw, so the caller can say which file could not be read.
    /// </summary>
    public Stream? OpenRead(string relative)
    {
        Stream? stream = TryOpenRead(relative, out ReadStatus status, out string? reason);
        return stream ?? status switch
        {
            ReadStatus.Missing => null,
            ReadStatus.AccessDenied => throw new UnauthorizedAccessException($"Access to the path '{Full(relative)}' is denied."),
            _ => throw new IOException($"'{Full(relative)}': {reason}."),
        };
    }

    /// <summary>When a file was last changed, in local time; null when it does not exist.</summary>
    public DateTime? LastWriteTime(string relative)
    {
        string full = HostPath(relative);
        try
        {
            return File.Exists(full) ? File.GetLastWriteTime(full) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Whether a folder or any folder below it holds a file matching the pattern (such as "*.journal").</summary>
    public bool HasFiles(string relativeDirectory, string searchPattern)
    {
        string full = HostPath(relativeDirectory);
        try
        {
            return Directory.Exists(full)
                && Directory.EnumerateFiles(full, searchPattern, new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 3, IgnoreInaccessible = true }).Any();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Names (not paths) of the files in a folder, sorted; empty when the folder is missing.</summary>
    public IReadOnlyList<string> FileNames(string relativeDirectory)
    {
        // A folder missing here may still be present in a sosreport's sysctl snapshot.
        List<string> names = ChildNames(relativeDirectory, Directory.GetFiles);
        foreach (string name in SnapshotChildren(relativeDirectory))
        {
            if (!names.Contains(name))
            {
                names.Add(name);
            }
        }

        names.Sort(StringComparer.Ordinal);
        return names;
    }

    /// <summary>Names (not paths) of the folders in a folder, sorted; empty when the folder is missing or unreadable.</summary>
    public IReadOnlyList<string> DirectoryNames(string relativeDirectory)
    {
        List<string> names = ChildNames(relativeDirectory, Directory.GetDirectories);
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    /// <summary>The names of what <paramref name="list"/> finds in a folder, in its order; empty when the folder cannot be read.</summary>
    private List<string> ChildNames(string relativeDirectory, Func<string, string[]> list)
    {
        string full = HostPath(relativeDirectory);
        string[] paths;
        try
        {
            paths = InNamespace(relativeDirectory, () => list(full));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }

        var names = new List<string>(paths.Length);
        foreach (string path in paths)
        {
            names.Add(System.IO.Path.GetFileName(path));
        }

        return names;
    }

    /// <summary>The permission bits of a file, or null when it does not exist.</summary>
    public UnixFileMode? Mode(string relative)
    {
        string full = HostPath(relative);
        try
        {
            if (InNamespace(relative, () => File.Exists(full)))
            {
                return InNamespace(relative, () => File.GetUnixFileMode(full));
            }

            // A value from a captured 'sysctl -a' can be read but never written.
            return SnapshotValue(relative) is null ? null : UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Target of a symbolic link such as proc/self/ns/net, or null.</summary>
    public string? LinkTarget(string relative)
    {
        try
        {
            return InNamespace(relative, () => new FileInfo(Full(relative)).LinkTarget);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether this process may write the file: the root must be the running system (a capture's files record values
    /// and change no kernel), the mode must allow it, and the caller must be root.
    /// </summary>
    public bool IsWritable(string relative, out string? reason)
    {
        UnixFileMode? mode = Mode(relative);
        if (mode is null)
        {
            reason = $"{Full(relative)} does not exist.";
            return false;
        }

        if (!InNamespace(relative, () => File.Exists(HostPath(relative))))
        {
            // Only in a sosreport's captured 'sysctl -a': a record of a value, with no kernel behind it to change.
            reason = $"{SysctlKeyOf(relative)} is only a captured value in {Full(SysctlSnapshotPath)} (a sosreport), with no kernel behind it to change.";
            return false;
        }

        if (!IsLive && !SimulatesKernel)
        {
            reason = NotRunningSystemReason(relative);
            return false;
        }

        if ((mode.Value & (UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) == 0)
        {
            reason = $"{Full(relative)} is read-only (mode {FormatMode(mode.Value)}).";
            return false;
        }

        if (IsLive && !ProcessIdentity.IsRoot)
        {
            reason = $"Changing {Full(relative)} requires root; run pwsh with sudo.";
            return false;
        }

        reason = null;
        return true;
    }

    private string NotRunningSystemReason(string relative) =>
        $"{Path} is not the running system (a sosreport, an image or a copy of one), so {Full(relative)} only records a value: writing it would change no kernel.";
}
