using ConntrackTuning.Engine.Namespaces;

namespace ConntrackTuning.Engine.Platform;

/// <summary>
/// The only door to the file system. Every path is relative to a root, so the live host ("/"), a sosreport,
/// a mounted image and a test fixture are the same thing to the rest of the engine.
/// </summary>
internal sealed partial class SystemRoot
{
    /// <summary>Where a sosreport keeps the output of 'sysctl -a'; used when proc/sys itself was not captured.</summary>
    internal const string SysctlSnapshotPath = "sos_commands/kernel/sysctl_-a";

    private readonly Lazy<Dictionary<string, string>?> _sysctlSnapshot;

    /// <summary>
    /// The device and inode the root folder had when it was opened (null for "/"). Every walk opens the root by its
    /// path again: whoever owns a folder above it could meanwhile swap it for a link to "/" and have a change meant
    /// for the tree written to the running system's etc/. A walk that finds another folder there refuses.
    /// </summary>
    private readonly (ulong Device, ulong Inode)? _identity;

    private SystemRoot(string path, bool isLive, IEngineLog log, (ulong Device, ulong Inode)? identity, CancellationToken cancellation)
    {
        _identity = identity;
        Path = path;
        IsLive = isLive;
        SimulatesKernel = !isLive && PlatformHooks.SimulatesKernel(path);
        Log = log;
        Cancellation = cancellation;
        _sysctlSnapshot = new Lazy<Dictionary<string, string>?>(LoadSysctlSnapshot);
    }

    /// <summary>Absolute path of the root, without a trailing separator unless it is "/" (as it is for any path to the running system).</summary>
    public string Path { get; }

    /// <summary>
    /// True when the root is the running system, so proc/ and sys/ are the live kernel's: the root is "/" itself
    /// (by device and inode, so a symbolic link to "/" or a bind mount of it counts) and its proc/ is the live procfs.
    /// Only then are run-time values written.
    /// </summary>
    public bool IsLive { get; }

    /// <summary>
    /// A test fixture whose proc/ and sys/ files stand in for a kernel (named by <see cref="PlatformHooks"/>): run-time
    /// writes go to those plain files. Never true for a root a user names.
    /// </summary>
    internal bool SimulatesKernel { get; }

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
        if (path.Contains('\0', StringComparison.Ordinal))
        {
            throw InvalidRootPath(path);
        }

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

        bool live = IsRunningSystem(full);
        (ulong, ulong)? identity = !live && full != "/" && OperatingSystem.IsLinux() && Native.Stat(Native.AT_FDCWD, full + "/.", out _) is { } opened
            ? (opened.Device, opened.Inode) : null;
        return new SystemRoot(live ? "/" : full, live, log ?? NullEngineLog.Instance, identity, cancellation);
    }

    /// <summary>The error for a -Root that holds a NUL character, which no file name can.</summary>
    public static ConntrackException InvalidRootPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string shown = path.Replace("\0", "\\0", StringComparison.Ordinal);
        return new ConntrackException(ErrorIds.RootPathInvalid, ErrorKind.InvalidArgument,
            $"The root '{shown}' holds a NUL character (shown as \\0), which no Linux path can contain.", shown,
            "Give -Root the path of a folder without NUL characters (check how the path was built or pasted).");
    }

    /// <summary>
    /// Whether a folder is the running system: the same device and inode as "/", with the live procfs at its proc/
    /// (a chroot without /proc mounted is not). A string compare would miss a link to "/" and a bind mount of it.
    /// </summary>
    private static bool IsRunningSystem(string full)
    {
        if (!OperatingSystem.IsLinux())
        {
            return full == "/";
        }

        // The trailing "/." makes statx follow a link at the root itself.
        if (Native.Stat(Native.AT_FDCWD, full + "/.", out _) is not { } root || Native.Stat(Native.AT_FDCWD, "/.", out _) is not { } system
            || root.Device != system.Device || root.Inode != system.Inode)
        {
            return false;
        }

        return Native.FileSystemType(full + "/proc/.") == Native.PROC_SUPER_MAGIC
            && Native.Stat(Native.AT_FDCWD, full + "/proc/.", out _) is { } proc && Native.Stat(Native.AT_FDCWD, "/proc/.", out _) is { } liveProc
            && proc.Device == liveProc.Device;
    }

    /// <summary>
    /// The absolute path of a root-relative path such as "proc/sys/net/netfilter/nf_conntrack_max". Under a root other
    /// than the running system, links in its folders are resolved inside the root (as chroot would), so the path
    /// names the file that is really read or written; the last component is kept as named.
    /// </summary>
    public string Full(string relative)
    {
        ArgumentNullException.ThrowIfNull(relative);
        relative = relative.TrimStart('/');
        if (IsLive)
        {
            // -NetworkNamespace: the namespace thread's own view of proc/net (proc/self is the main thread's).
            return "/" + (NamespaceContext.Current is not null && NamespaceContext.IsPerNamespace(relative) ? NamespaceContext.Rewrite(relative) : relative);
        }

        string parent = ParentOf(relative);
        string resolved = parent.Length == 0 ? relative : TryResolveInRoot(parent) is { } p ? Join(p, FileNameOf(relative)) : relative;
        return resolved.Length == 0 ? Path : Path + "/" + resolved;
    }

    /// <summary>The host path of a root-relative path with every link resolved inside the root, for the checks that go by path.</summary>
    private string HostPath(string relative) =>
        IsLive ? Full(relative) : (TryResolveInRoot(relative) ?? relative.TrimStart('/')) is { Length: > 0 } r ? Path + "/" + r : Path;

    /// <summary>Runs a file-system call on the namespace thread of -NetworkNamespace when the path is one of its per-namespace files.</summary>
    private T InNamespace<T>(string relative, Func<T> call) => NamespaceContext.Run(IsLive, relative, call);

    /// <summary>
    /// Where a value really comes from, for the *Source properties users read: the file's absolute path, or
    /// the sosreport's 'sysctl -a' capture and the key in it when proc/sys itself was not captured.
    /// </summary>
    public string SourceOf(string relative)
    {
        string full = Full(relative);
        return !File.Exists(HostPath(relative)) && SnapshotValue(relative) is not null
            ? $"{Full(SysctlSnapshotPath)} ({SysctlKeyOf(relative)})"
            : full;
    }

    public bool FileExists(string relative) => InNamespace(relative, () => File.Exists(HostPath(relative))) || SnapshotValue(relative) is not null;

    public bool DirectoryExists(string relative) =>
        InNamespace(relative, () => Directory.Exists(HostPath(relative))) || SnapshotChildren(relative).Count > 0;

    public bool Exists(string relative) => FileExists(relative) || DirectoryExists(relative);

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

    public static string FormatMode(UnixFileMode mode) =>
        "0" + Convert.ToString((int)mode & 0x1FF, 8).PadLeft(3, '0');
}

internal enum ReadStatus
{
    Ok,
    Missing,
    AccessDenied,
    Failed,
}

/// <summary>Who this process is, for the questions the engine asks about permissions.</summary>
internal static class ProcessIdentity
{
    public static bool IsRoot => OperatingSystem.IsLinux() && Native.Geteuid() == 0;
}
