using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using ConntrackTuning.Engine.Namespaces;

namespace ConntrackTuning.Engine.Platform;

/// <summary>
/// The only door to the file system. Every path is relative to a root, so the live host ("/"), a sosreport,
/// a mounted image and a test fixture are the same thing to the rest of the engine.
/// </summary>
public sealed partial class SystemRoot
{
    /// <summary>Where a sosreport keeps the output of 'sysctl -a'; used when proc/sys itself was not captured.</summary>
    internal const string SysctlSnapshotPath = "sos_commands/kernel/sysctl_-a";

    private readonly Lazy<Dictionary<string, string>?> _sysctlSnapshot;

    private SystemRoot(string path, IEngineLog log, CancellationToken cancellation)
    {
        Path = path;
        Log = log;
        Cancellation = cancellation;
        _sysctlSnapshot = new Lazy<Dictionary<string, string>?>(LoadSysctlSnapshot);
    }

    /// <summary>Absolute path of the root, without a trailing separator unless it is "/".</summary>
    public string Path { get; }

    /// <summary>True when the root is the running system, so /proc and /sys are the live kernel's.</summary>
    public bool IsLive => Path == "/";

    public IEngineLog Log { get; }

    /// <summary>
    /// The one stop signal of the engine: the cmdlets cancel it from StopProcessing (Ctrl+C), and every lock wait,
    /// file scan, journal read and netlink dump that works under this root observes it.
    /// </summary>
    public CancellationToken Cancellation { get; }

    /// <summary>Opens a root folder. The path must already be absolute (the cmdlets resolve it against $PWD).</summary>
    public static SystemRoot Open(string path, IEngineLog? log = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = System.IO.Path.GetFullPath(path.Length == 0 ? "/" : path);
        if (full.Length > 1)
        {
            full = full.TrimEnd('/');
        }

        if (!Directory.Exists(full))
        {
            throw new ConntrackException(ErrorIds.RootNotFound, ErrorKind.ObjectNotFound,
                File.Exists(full)
                    ? $"The root '{full}' is a file, not a folder."
                    : $"The root folder '{full}' does not exist.",
                full,
                "Give -Root the folder that holds proc/, sys/ and etc/ of the system to inspect, or omit it for this machine.");
        }

        return new SystemRoot(full, log ?? NullEngineLog.Instance, cancellation);
    }

    /// <summary>The absolute path of a root-relative path such as "proc/sys/net/netfilter/nf_conntrack_max".</summary>
    public string Full(string relative)
    {
        ArgumentNullException.ThrowIfNull(relative);
        relative = relative.TrimStart('/');
        if (IsLive && NamespaceContext.Current is not null && NamespaceContext.IsPerNamespace(relative))
        {
            // -NetworkNamespace: the namespace thread's own view of proc/net (proc/self is the main thread's).
            relative = NamespaceContext.Rewrite(relative);
        }

        return IsLive ? "/" + relative : Path + "/" + relative;
    }

    /// <summary>
    /// Where a value really comes from, for the *Source properties users read: the file's absolute path, or
    /// the sosreport's 'sysctl -a' capture and the key in it when proc/sys itself was not captured.
    /// </summary>
    public string SourceOf(string relative)
    {
        string full = Full(relative);
        return !File.Exists(full) && SnapshotValue(relative) is not null
            ? $"{Full(SysctlSnapshotPath)} ({SysctlKeyOf(relative)})"
            : full;
    }

    public bool FileExists(string relative) => InNamespace(relative, () => File.Exists(Full(relative))) || SnapshotValue(relative) is not null;

    public bool DirectoryExists(string relative) =>
        InNamespace(relative, () => Directory.Exists(Full(relative))) || SnapshotChildren(relative).Count > 0;

    /// <summary>Runs a file-system call on the namespace thread of -NetworkNamespace when the path is one of its per-namespace files.</summary>
    private T InNamespace<T>(string relative, Func<T> call) => NamespaceContext.Run(IsLive, relative, call);

    public bool Exists(string relative) => FileExists(relative) || DirectoryExists(relative);

    /// <summary>Reads a whole file. Missing and unreadable files give null; the reason goes to the verbose log.</summary>
    public string? TryReadText(string relative) => TryReadText(relative, out _);

    public string? TryReadText(string relative, out ReadStatus status)
    {
        string? text = TryRead(relative, File.ReadAllText, out status);
        if (status == ReadStatus.Missing && SnapshotValue(relative) is { } value)
        {
            Log.Verbose($"Read {SysctlKeyOf(relative)} from {Full(SysctlSnapshotPath)}");
            status = ReadStatus.Ok;
            return value + "\n";
        }

        return text;
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

    /// <summary>Parses the content of a one-number value file; the path is only used to name the file in errors.</summary>
    public static long ParseValueFile(string text, string path)
    {
        ArgumentNullException.ThrowIfNull(text);
        ReadOnlySpan<char> value = text.AsSpan().Trim();
        if (value.IsEmpty)
        {
            throw new ConntrackException(ErrorIds.ValueFileEmpty, ErrorKind.InvalidData,
                $"The file '{path}' is empty; it should hold a whole number.", path,
                "Check that the file was captured completely (a truncated sosreport or image gives empty files).");
        }

        if (!long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long number))
        {
            string shown = value.Length > 40 ? string.Concat(value[..40], "...") : value.ToString();
            throw new ConntrackException(ErrorIds.ValueFileNotNumeric, ErrorKind.InvalidData,
                $"The file '{path}' holds '{shown}', which is not a whole number.", path,
                "Check that the file is the kernel's value file and was captured intact.");
        }

        return number;
    }

    /// <summary>
    /// Opens a file for streaming reads, for files too big to read whole (the conntrack table). Null when the
    /// file is missing or unreadable, with the reason in <paramref name="status"/> and the verbose log.
    /// </summary>
    public Stream? TryOpenRead(string relative, out ReadStatus status) =>
        // No FileStream buffer: the callers read in large blocks of their own.
        TryRead(relative, full => new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0, FileOptions.SequentialScan), out status);

    /// <summary>Runs one read of a file, turning a missing or unreadable file into null and a status, with the reason in the verbose log.</summary>
    private T? TryRead<T>(string relative, Func<string, T> read, out ReadStatus status)
        where T : class
    {
        string full = Full(relative);
        try
        {
            T result = InNamespace(relative, () => read(full));
            Log.Verbose($"Read {full}");
            status = ReadStatus.Ok;
            return result;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            status = ReadStatus.Missing;
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            Log.Verbose($"Cannot read {full}: permission denied.");
            status = ReadStatus.AccessDenied;
            return null;
        }
        catch (IOException e)
        {
            Log.Verbose($"Cannot read {full}: {e.Message}");
            status = ReadStatus.Failed;
            return null;
        }
    }

    /// <summary>Lines of a file, streamed; empty when the file is missing or unreadable.</summary>
    public IEnumerable<string> ReadLines(string relative)
    {
        string full = Full(relative);
        StreamReader reader;
        try
        {
            reader = InNamespace(relative, () => new StreamReader(full));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            yield break;
        }

        Log.Verbose($"Read {full}");
        using (reader)
        {
            while (reader.ReadLine() is { } line)
            {
                yield return line;
            }
        }
    }

    /// <summary>
    /// Opens a file for streaming (large logs are read in chunks, never whole). Null when it is missing;
    /// other failures (permission, I/O) throw, so the caller can say which file could not be read.
    /// </summary>
    public Stream? OpenRead(string relative)
    {
        string full = Full(relative);
        if (!InNamespace(relative, () => File.Exists(full)))
        {
            return null;
        }

        // No FileStream buffer: callers read in large blocks of their own.
        var stream = InNamespace(relative, () => new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.SequentialScan));
        Log.Verbose($"Read {full}");
        return stream;
    }

    /// <summary>When a file was last changed, in local time; null when it does not exist.</summary>
    public DateTime? LastWriteTime(string relative)
    {
        string full = Full(relative);
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
        string full = Full(relativeDirectory);
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
        string full = Full(relativeDirectory);
        var names = new List<string>();
        try
        {
            foreach (string file in InNamespace(relativeDirectory, () => Directory.GetFiles(full)))
            {
                names.Add(System.IO.Path.GetFileName(file));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A missing folder may still be present in a sosreport's sysctl snapshot.
        }

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
        string full = Full(relativeDirectory);
        var names = new List<string>();
        try
        {
            foreach (string dir in InNamespace(relativeDirectory, () => Directory.GetDirectories(full)))
            {
                names.Add(System.IO.Path.GetFileName(dir));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return names;
        }

        names.Sort(StringComparer.Ordinal);
        return names;
    }

    /// <summary>The permission bits of a file, or null when it does not exist.</summary>
    public UnixFileMode? Mode(string relative)
    {
        string full = Full(relative);
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

    /// <summary>Whether this process may write the file: the mode must allow it, and on the live system the caller must be root.</summary>
    public bool IsWritable(string relative, out string? reason)
    {
        UnixFileMode? mode = Mode(relative);
        if (mode is null)
        {
            reason = $"{Full(relative)} does not exist.";
            return false;
        }

        if (!InNamespace(relative, () => File.Exists(Full(relative))))
        {
            // Only in a sosreport's captured 'sysctl -a': a record of a value, with no kernel behind it to change.
            reason = $"{SysctlKeyOf(relative)} is only a captured value in {Full(SysctlSnapshotPath)} (a sosreport), with no kernel behind it to change.";
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

    private static string? SysctlKeyOf(string relative)
    {
        relative = relative.TrimStart('/');
        return relative.StartsWith("proc/sys/", StringComparison.Ordinal) ? relative[9..].Replace('/', '.') : null;
    }

    private string? SnapshotValue(string relative) =>
        SysctlKeyOf(relative) is { } key && _sysctlSnapshot.Value is { } snapshot && snapshot.TryGetValue(key, out string? value)
            ? value
            : null;

    private List<string> SnapshotChildren(string relativeDirectory)
    {
        var children = new List<string>();
        if (SysctlKeyOf(relativeDirectory.TrimEnd('/') + "/") is not { } prefix || _sysctlSnapshot.Value is not { } snapshot)
        {
            return children;
        }

        foreach (string key in snapshot.Keys)
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal) && key.IndexOf('.', prefix.Length) < 0)
            {
                children.Add(key[prefix.Length..]);
            }
        }

        return children;
    }

    // A sosreport may hold proc/sys only as the output of 'sysctl -a' ("net.netfilter.nf_conntrack_max = 262144").
    // The live system never needs it: its proc/sys is real.
    private Dictionary<string, string>? LoadSysctlSnapshot()
    {
        string full = Full(SysctlSnapshotPath);
        if (IsLive || !File.Exists(full))
        {
            return null;
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            foreach (string line in File.ReadLines(full))
            {
                int eq = line.IndexOf(" = ", StringComparison.Ordinal);
                if (eq > 0)
                {
                    values[line[..eq].Trim().Replace('/', '.')] = line[(eq + 3)..].Trim();
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Verbose($"Cannot read {full}: {e.Message}");
            return null;
        }

        Log.Verbose($"Read {full} ({values.Count} sysctl values stand in for proc/sys)");
        return values;
    }

    public static string FormatMode(UnixFileMode mode) =>
        "0" + Convert.ToString((int)mode & 0x1FF, 8).PadLeft(3, '0');
}

public enum ReadStatus
{
    Ok,
    Missing,
    AccessDenied,
    Failed,
}

/// <summary>Who this process is, for the questions the engine asks about permissions.</summary>
public static partial class ProcessIdentity
{
    public static bool IsRoot => OperatingSystem.IsLinux() && NativeMethods.geteuid() == 0;

    private static partial class NativeMethods
    {
        [LibraryImport("libc", SetLastError = false)]
        internal static partial uint geteuid();
    }
}
