using ConntrackTuning.Engine.Netlink;
using ConntrackTuning.Engine.Progress;

namespace ConntrackTuning.Engine.Entries;

/// <summary>Where the entries of one read came from, and the kernel's own figures when the source has them.</summary>
internal sealed class EntryReadInfo
{
    /// <summary>"ctnetlink", or the full path of the file read.</summary>
    public string Source { get; set; } = "";

    public bool FromNetlink { get; set; }

    public long? KernelCount { get; set; }

    public long? Max { get; set; }

    /// <summary>Entries that passed the filter and went to the visitor.</summary>
    public long Delivered { get; set; }
}

/// <summary>
/// Streams the entries of a table to a visitor, filtered, from the right source: ctnetlink on the live system
/// (falling back to the procfs file without CAP_NET_ADMIN or without ctnetlink), the root's copy of the table
/// for a sosreport or image, or a saved file. Damaged lines and messages are skipped with a warning; failures
/// that would leave a silently short list are errors.
/// </summary>
internal static class EntryReader
{
    /// <summary>Copies of the table a captured root may hold, besides the era's procfs paths.</summary>
    internal static readonly string[] CapturedTablePaths =
    [
        "proc/net/nf_conntrack", "proc/net/ip_conntrack", "sos_commands/conntrack/conntrack_-L_-o_extended",
    ];

    private const int SummaryAttempts = 3;

    /// <summary>The table of a root: ctnetlink when the root is this machine, the root's copy otherwise.</summary>
    public static EntryReadInfo ReadTable(ConntrackKernel kernel, EntryFilter filter, EntryVisitor visitor, bool wantFigures = false, Action? restart = null)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        SystemRoot root = kernel.SystemRoot;
        if (!root.IsLive)
        {
            string table = TableCopy(kernel) ?? throw new ConntrackException(ErrorIds.EntryTableNotFound, ErrorKind.ObjectNotFound,
                $"{root.Path} holds no copy of the conntrack table (looked for {string.Join(", ", CapturedTablePaths)}).",
                root.Path,
                "Give the saved table to -Path (a copy of /proc/net/nf_conntrack or the output of 'conntrack -L'), or capture it with the system.");
            return ReadRootFile(kernel, table, filter, visitor, wantFigures);
        }

        return ReadLive(kernel, filter, visitor, wantFigures, restart);
    }

    /// <summary>A saved file: the procfs table of any era or conntrack -L output, told apart line by line.</summary>
    public static EntryReadInfo ReadFile(SystemRoot directory, string fileName, EntryFilter filter, EntryVisitor visitor)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (directory.DirectoryExists(fileName))
        {
            throw new ConntrackException(ErrorIds.EntryFileNotFound, ErrorKind.InvalidArgument,
                $"'{directory.Full(fileName)}' is a folder, not a saved table.", directory.Full(fileName),
                "Give folders that hold proc/ (a sosreport, an image) to -Root, and saved table files to -Path.");
        }

        Stream stream = directory.TryOpenRead(fileName, out ReadStatus status) ?? throw new ConntrackException(
            ErrorIds.EntryFileNotFound, status == ReadStatus.AccessDenied ? ErrorKind.PermissionDenied : ErrorKind.ObjectNotFound,
            status switch
            {
                ReadStatus.Missing => $"The file '{directory.Full(fileName)}' does not exist.",
                ReadStatus.AccessDenied => $"The file '{directory.Full(fileName)}' cannot be read: permission denied.",
                _ => $"The file '{directory.Full(fileName)}' cannot be read.",
            },
            directory.Full(fileName),
            "Give -Path a saved copy of /proc/net/nf_conntrack or the output of 'conntrack -L' that this user can read.");
        return ReadStream(directory, stream, directory.Full(fileName), filter, visitor, requireEntries: true, kernelCount: null);
    }

    /// <summary>
    /// Summarizes while streaming. A netlink dump the kernel flags as interrupted, or that lost messages, is
    /// started again (up to three times) so the counts are never silently short.
    /// </summary>
    public static ConntrackSummary Summarize(Func<EntryVisitor, Action, EntryReadInfo> read, EntryFilter filter, int top, string root)
    {
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(filter);
        var builder = new EntrySummaryBuilder();
        EntryReadInfo info = read((ref EntryRecord r) =>
        {
            builder.Add(ref r);
            return true;
        }, () => builder = new EntrySummaryBuilder());
        return builder.Build(top, info.Source, filter.Description, info.KernelCount, info.Max, root, Namespaces.NamespaceContext.CurrentInode);
    }

    /// <summary>Whether an absolute path names an existing file (so -Root got a saved table rather than a folder).</summary>
    public static bool IsFile(string fullPath)
    {
        string? dir = Path.GetDirectoryName(fullPath);
        string name = Path.GetFileName(fullPath);
        if (string.IsNullOrEmpty(dir) || name.Length == 0)
        {
            return false;
        }

        try
        {
            return SystemRoot.Open(dir).FileExists(name);
        }
        catch (ConntrackException)
        {
            return false;
        }
    }

    private static string? TableCopy(ConntrackKernel kernel)
    {
        if (kernel.TablePathFound is { } found)
        {
            return found;
        }

        return kernel.EraRow.TablePaths.Concat(CapturedTablePaths).FirstOrDefault(kernel.SystemRoot.FileExists);
    }

    private static EntryReadInfo ReadRootFile(ConntrackKernel kernel, string relative, EntryFilter filter, EntryVisitor visitor, bool wantFigures)
    {
        SystemRoot root = kernel.SystemRoot;
        Stream? stream = root.TryOpenRead(relative, out ReadStatus status);
        if (stream is null)
        {
            throw new ConntrackException(ErrorIds.FileReadFailed, status == ReadStatus.AccessDenied ? ErrorKind.PermissionDenied : ErrorKind.ReadError,
                $"The table file '{root.Full(relative)}' cannot be read ({status}).", root.Full(relative),
                "Read it as a user who may (the live file is 0440 root), or copy it somewhere readable and give the copy to -Path.");
        }

        // The count sysctl is the total of the progress (the procfs file has no size until it is read).
        long? count = kernel.CountPathFound is { } counted ? root.TryReadInt64(counted) : null;
        EntryReadInfo info = ReadStream(root, stream, root.Full(relative), filter, visitor, requireEntries: false, count);
        if (wantFigures)
        {
            info.KernelCount = kernel.CountPathFound is { } c ? root.TryReadInt64(c) : null;
            info.Max = kernel.MaxPathsFound.Count > 0 ? root.TryReadInt64(kernel.MaxPathsFound[0]) : null;
        }

        return info;
    }

    private static EntryReadInfo ReadStream(SystemRoot root, Stream stream, string source, EntryFilter filter, EntryVisitor visitor, bool requireEntries, long? kernelCount)
    {
        var info = new EntryReadInfo { Source = source };
        TextReadResult result;
        // A saved file has a size to count bytes against; the procfs table reports 0 and is counted in entries.
        bool sized = stream.CanSeek && stream.Length > 0;
        using EntryProgress progress = sized ? EntryProgress.OfBytes(root.Log, source, stream.Length) : EntryProgress.OfCount(root.Log, source, kernelCount);
        // The stop signal is seen at every read of the file (a mebibyte of a saved table, a few pages of procfs).
        using (var observed = new ObservedStream(stream, root.Cancellation, progress.Bytes))
        {
            result = EntryFileReader.Read(observed, (ref EntryRecord r) =>
            {
                progress.Entry();
                if (!filter.Matches(ref r))
                {
                    return true;
                }

                info.Delivered++;
                return visitor(ref r);
            });
        }

        if (result.Malformed > 0)
        {
            if (requireEntries && result.Entries == 0)
            {
                throw new ConntrackException(ErrorIds.EntryFormatUnknown, ErrorKind.InvalidData,
                    $"None of the {result.Lines} lines of '{source}' is a conntrack entry.", source,
                    "Give -Path a copy of /proc/net/nf_conntrack (or /proc/net/ip_conntrack) or the default or '-o extended' output of 'conntrack -L'; XML output (-o xml) is not read.");
            }

            root.Log.Warning($"Skipped {result.Malformed} damaged or cut-off line(s) of {source} (line {string.Join(", ", result.MalformedLines)}{(result.Malformed > result.MalformedLines.Count ? ", ..." : "")}); the other {result.Entries} entries were read.");
        }

        return info;
    }

    private static EntryReadInfo ReadLive(ConntrackKernel kernel, EntryFilter filter, EntryVisitor visitor, bool wantFigures, Action? restart)
    {
        SystemRoot root = kernel.SystemRoot;
        var info = new EntryReadInfo { Source = "ctnetlink", FromNetlink = true };
        try
        {
            ReadNetlink(kernel, filter, visitor, wantFigures, restart, info);
            return info;
        }
        catch (NetlinkErrnoException e) when (info.Delivered == 0 && e.Number == Errno.EPERM)
        {
            return Fallback(kernel, filter, visitor, wantFigures, e,
                "this process lacks CAP_NET_ADMIN, which ctnetlink requires even to read", permissionDenied: true,
                "Run pwsh as root (sudo), or grant it CAP_NET_ADMIN; without it only a readable /proc/net/nf_conntrack can be read.");
        }
        catch (NetlinkErrnoException e) when (info.Delivered == 0 && e.Number is Errno.EAFNOSUPPORT or Errno.EPROTONOSUPPORT or Errno.EINVAL or Errno.EOPNOTSUPP)
        {
            return Fallback(kernel, filter, visitor, wantFigures, e,
                "this kernel offers no ctnetlink (nf_conntrack_netlink is not built or loaded)", permissionDenied: false,
                "Load nf_conntrack_netlink (modprobe nf_conntrack_netlink), or enable CONFIG_NF_CONNTRACK_PROCFS so the table file exists.");
        }
        catch (NetlinkErrnoException e)
        {
            throw Failed(e.Message, info, e);
        }
        catch (NetlinkProtocolException e)
        {
            throw Failed(e.Message, info, e);
        }
    }

    private static ConntrackException Failed(string what, EntryReadInfo info, Exception inner) =>
        new(ErrorIds.NetlinkFailed, ErrorKind.ProtocolError,
            $"Reading the conntrack table over ctnetlink failed after {info.Delivered} entries: {what}",
            "ctnetlink",
            "Run the command again; if it keeps failing, read /proc/net/nf_conntrack with -Path or compare with 'conntrack -L'.",
            inner);

    private static EntryReadInfo Fallback(ConntrackKernel kernel, EntryFilter filter, EntryVisitor visitor, bool wantFigures,
        NetlinkErrnoException cause, string why, bool permissionDenied, string action)
    {
        SystemRoot root = kernel.SystemRoot;
        string? table = kernel.TablePathFound ?? kernel.EraRow.TablePaths.FirstOrDefault(root.FileExists);
        Stream? probe = table is null ? null : root.TryOpenRead(table, out _);
        if (probe is null)
        {
            string files = table is null
                ? "the kernel has no procfs table file (CONFIG_NF_CONNTRACK_PROCFS is off)"
                : $"{root.Full(table)} cannot be read either";
            throw new ConntrackException(permissionDenied ? ErrorIds.NetlinkPermissionDenied : ErrorIds.NetlinkUnavailable,
                permissionDenied ? ErrorKind.PermissionDenied : ErrorKind.ResourceUnavailable,
                $"Cannot read the conntrack table: {why} ({Errno.Describe(cause.Number)}), and {files}.",
                "ctnetlink", action, cause);
        }

        probe.Dispose();
        root.Log.Warning($"Reading {root.Full(table!)} instead of ctnetlink: {why} ({Errno.Describe(cause.Number)}). The file is slower to read and its figures may lag.");
        return ReadRootFile(kernel, table!, filter, visitor, wantFigures);
    }

    /// <summary>
    /// The part of a dump's filter the kernel applies, with a verbose line that says what the kernel is asked to
    /// filter by and what every entry is still checked against here (<paramref name="unfiltered"/> when nothing).
    /// </summary>
    internal static KernelFilter DumpFilter(IEngineLog log, Func<List<string>, KernelFilter> toKernelFilter, string description, string unfiltered)
    {
        var notes = new List<string>();
        KernelFilter kernelFilter = toKernelFilter(notes);
        log.Verbose(description.Length == 0
            ? unfiltered
            : $"Dumping the conntrack table over ctnetlink; the kernel is asked to filter by {(notes.Count == 0 ? "nothing" : string.Join(", ", notes))}, and every entry is checked here against: {description}.");
        return kernelFilter;
    }

    private static void ReadNetlink(ConntrackKernel kernel, EntryFilter filter, EntryVisitor visitor, bool wantFigures, Action? restart, EntryReadInfo info)
    {
        SystemRoot root = kernel.SystemRoot;
        KernelFilter kernelFilter = DumpFilter(root.Log, notes => filter.ToKernelFilter(kernel.Version, notes), filter.Description,
            "Dumping the conntrack table over ctnetlink.");

        // Entries of the kernel's count; the count sysctl is per network namespace, as the dump is.
        long? count = kernel.CountPathFound is { } counted ? root.TryReadInt64(counted) : null;
        using EntryProgress progress = EntryProgress.OfCount(root.Log, "ctnetlink", count);
        EntryVisitor filtered = (ref EntryRecord r) =>
        {
            progress.Entry();
            if (!filter.Matches(ref r))
            {
                return true;
            }

            info.Delivered++;
            return visitor(ref r);
        };

        // Every receive of the dump observes the stop signal (and waits at most 100 ms while the kernel is silent).
        CtnetlinkClient client = CtnetlinkClient.Open(root.Cancellation);
        try
        {
            if (wantFigures)
            {
                ReadFigures(kernel, client, info);
            }

            for (int attempt = 1; ; attempt++)
            {
                DumpOutcome outcome;
                try
                {
                    outcome = client.DumpEntries(kernelFilter, filtered);
                }
                catch (NetlinkErrnoException e) when (info.Delivered == 0 && e.Number is Errno.EINVAL or Errno.EOPNOTSUPP && !kernelFilter.IsEmpty)
                {
                    // A kernel that rejects a filter (a mark filter without CONFIG_NF_CONNTRACK_MARK, say) can still dump.
                    root.Log.Verbose($"The kernel rejected the dump filter ({Errno.Describe(e.Number)}); dumping unfiltered and filtering here.");
                    kernelFilter = KernelFilter.None;
                    continue;
                }
                catch (NetlinkErrnoException e) when (e.Number == Errno.ENOBUFS && restart is not null && attempt < SummaryAttempts)
                {
                    root.Log.Warning($"The ctnetlink dump lost messages ({Errno.Describe(e.Number)}); counting again (attempt {attempt + 1}).");
                    restart();
                    info.Delivered = 0;
                    progress.Restart();
                    client.Dispose();
                    client = CtnetlinkClient.Open(root.Cancellation);
                    continue;
                }

                if (outcome.Interrupted && restart is not null && attempt < SummaryAttempts)
                {
                    root.Log.Verbose($"The kernel flagged the dump as interrupted (NLM_F_DUMP_INTR); counting again (attempt {attempt + 1}).");
                    restart();
                    info.Delivered = 0;
                    progress.Restart();
                    continue;
                }

                if (outcome.Interrupted)
                {
                    root.Log.Warning("The kernel flagged the ctnetlink dump as interrupted (NLM_F_DUMP_INTR): the table changed while it was read, so some entries may be missing or listed twice.");
                }

                if (outcome.Malformed > 0)
                {
                    root.Log.Warning($"Skipped {outcome.Malformed} damaged ctnetlink message(s); the other {outcome.Messages - outcome.Malformed} entries were read.");
                }

                return;
            }
        }
        finally
        {
            client.Dispose();
        }
    }

    private static void ReadFigures(ConntrackKernel kernel, CtnetlinkClient client, EntryReadInfo info)
    {
        SystemRoot root = kernel.SystemRoot;
        try
        {
            CtnetlinkCount count = client.ReadCount();
            info.KernelCount = count.Entries;
            info.Max = count.Max;
        }
        catch (NetlinkErrnoException e) when (e.Number is Errno.EINVAL or Errno.EOPNOTSUPP)
        {
            // Kernels before 3.6 have no statistics message, yet dump fine: take the count from the sysctl.
            root.Log.Verbose($"The kernel does not answer IPCTNL_MSG_CT_GET_STATS ({Errno.Describe(e.Number)}); reading the count sysctl.");
            info.KernelCount = kernel.CountPathFound is { } c ? root.TryReadInt64(c) : null;
        }

        info.Max ??= kernel.MaxPathsFound.Count > 0 ? root.TryReadInt64(kernel.MaxPathsFound[0]) : null;
    }
}
