using ConntrackTuning.Engine.Netlink;

namespace ConntrackTuning.Engine.Expectations;

/// <summary>
/// Streams the expectation table: over ctnetlink on the running system (NFNL_SUBSYS_CTNETLINK_EXP,
/// IPCTNL_MSG_EXP_GET dump), falling back to proc/net/nf_conntrack_expect without CAP_NET_ADMIN; the root's copy of
/// that file for a sosreport or image. Also counts and flushes the table.
/// </summary>
internal static class ExpectationReader
{
    public const string ProcPath = "proc/net/nf_conntrack_expect";

    /// <summary>
    /// ip_conntrack's file (2.6 before 2.6.22, and nf_conntrack's IPv4 compatibility copy after it): the same lines
    /// without "l3proto = 2", IPv4 only. Read only where the nf_conntrack file is missing.
    /// </summary>
    public const string IpConntrackProcPath = "proc/net/ip_conntrack_expect";

    /// <summary>The expectation file this root has, nf_conntrack's first; null when it has neither.</summary>
    public static string? FindProcFile(SystemRoot root) =>
        root.FileExists(ProcPath) ? ProcPath : root.FileExists(IpConntrackProcPath) ? IpConntrackProcPath : null;

    /// <summary>The 2.4 table file whose "EXPECTING:" lines are the expectations, where no expectation file exists.</summary>
    public static string? FindTable(ConntrackKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        return kernel.EraRow.ExpectationsInTable && FindProcFile(kernel.SystemRoot) is null ? kernel.TablePathFound : null;
    }

    /// <summary>Reads every expectation; returns where they came from ("ctnetlink" or the file's full path).</summary>
    public static string Read(ConntrackKernel kernel, Func<ConntrackExpectation, bool> visitor, string? networkNamespace = null)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(visitor);
        SystemRoot root = kernel.SystemRoot;
        if (root.IsLive)
        {
            long delivered = 0;
            try
            {
                // Every receive observes the stop signal, also while the kernel is silent.
                using var client = new CtnetlinkClient(NetlinkTransports.Open(networkNamespace, root.Cancellation));
                DumpOutcome outcome = Dump(client, message =>
                {
                    root.Cancellation.ThrowIfCancellationRequested();
                    if (ExpectationParser.TryParse(message) is { } e)
                    {
                        delivered++;
                        return visitor(e);
                    }

                    return true;
                });
                if (outcome.Messages > delivered && !outcome.Stopped)
                {
                    root.Log.Warning($"Skipped {outcome.Messages - delivered} damaged expectation message(s).");
                }

                return "ctnetlink";
            }
            catch (NetlinkErrnoException e) when (delivered == 0 && e.Number is Errno.EPERM or Errno.EINVAL or Errno.EOPNOTSUPP or Errno.EAFNOSUPPORT or Errno.EPROTONOSUPPORT)
            {
                if (FindProcFile(root) is not { } file)
                {
                    throw new ConntrackException(e.Number == Errno.EPERM ? ErrorIds.NetlinkPermissionDenied : ErrorIds.NetlinkUnavailable,
                        e.Number == Errno.EPERM ? ErrorKind.PermissionDenied : ErrorKind.ResourceUnavailable,
                        $"Cannot read the expectation table over ctnetlink ({Errno.Describe(e.Number)}), and {root.Full(ProcPath)} does not exist.",
                        "ctnetlink", "Run pwsh as root (sudo pwsh) so ctnetlink can be read.", e);
                }

                root.Log.Warning($"Reading {root.Full(file)} instead of ctnetlink ({Errno.Describe(e.Number)}); the file does not show masters, masks or classes.");
            }
            catch (NetlinkProtocolException e)
            {
                throw new ConntrackException(ErrorIds.NetlinkFailed, ErrorKind.ProtocolError,
                    $"Reading the expectation table over ctnetlink failed after {delivered} expectations: {e.Message}", "ctnetlink",
                    "Run the command again, or compare with 'conntrack -L expect'.", e);
            }
        }

        return FindTable(kernel) is { } table ? ReadTable(root, table, visitor) : ReadFile(root, visitor);
    }

    /// <summary>The expectations of this namespace, counted from a dump (the kernel exports no count for them).</summary>
    public static long Count(CtnetlinkClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        long n = 0;
        Dump(client, _ =>
        {
            n++;
            return true;
        });
        return n;
    }

    /// <summary>IPCTNL_MSG_EXP_DELETE without a tuple or helper name: the kernel removes every expectation of the namespace.</summary>
    public static void Flush(CtnetlinkClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        client.Acknowledged(new RequestBuilder(NetlinkWire.ExpDelete, NetlinkWire.FlagRequest | NetlinkWire.FlagAck, client.NextSequence(), 0).ToArray());
    }

    private static DumpOutcome Dump(CtnetlinkClient client, CtnetlinkClient.MessageHandler handler) =>
        client.DumpMessages(new RequestBuilder(NetlinkWire.ExpGet, NetlinkWire.FlagRequest | NetlinkWire.FlagDump, client.NextSequence(), 0).ToArray(),
            NetlinkWire.ExpNew, handler);

    private static ConntrackException NotReadable(SystemRoot root, string full, ReadStatus status) => new(
        ErrorIds.ExpectationTableNotFound, status == ReadStatus.AccessDenied ? ErrorKind.PermissionDenied : ErrorKind.ObjectNotFound,
        status == ReadStatus.AccessDenied ? $"{full} cannot be read: permission denied." : $"{root.Path} holds no expectation table ({ProcPath}, or {IpConntrackProcPath} on ip_conntrack kernels).",
        full, "Read the live system as root, or capture proc/net/nf_conntrack_expect (proc/net/ip_conntrack_expect on ip_conntrack kernels) with the system.");

    private static string ReadTable(SystemRoot root, string table, Func<ConntrackExpectation, bool> visitor)
    {
        string full = root.Full(table);
        using Stream stream = root.TryOpenRead(table, out ReadStatus status) ?? throw NotReadable(root, full, status);
        root.Log.Verbose($"Reading the EXPECTING lines of {full} (2.4 lists its expectations in the table).");
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            root.Cancellation.ThrowIfCancellationRequested();
            if (line.StartsWith("EXPECTING:", StringComparison.Ordinal))
            {
                if (ExpectationParser.TryParseTableLine(line, full) is not { } e)
                {
                    root.Log.Warning($"Skipped a line of {full} that is not an expectation: {line}");
                }
                else if (!visitor(e))
                {
                    break;
                }
            }
        }

        return full;
    }

    private static string ReadFile(SystemRoot root, Func<ConntrackExpectation, bool> visitor)
    {
        string path = FindProcFile(root) ?? ProcPath;
        string full = root.Full(path);
        using Stream stream = root.TryOpenRead(path, out ReadStatus status) ?? throw NotReadable(root, full, status);
        root.Log.Verbose("Reading " + full + ".");
        using var reader = new StreamReader(stream);
        long malformed = 0;
        while (reader.ReadLine() is { } line)
        {
            root.Cancellation.ThrowIfCancellationRequested();
            if (line.Length == 0)
            {
                continue;
            }

            if (ExpectationParser.TryParseLine(line, full) is { } e)
            {
                if (!visitor(e))
                {
                    break;
                }
            }
            else
            {
                malformed++;
            }
        }

        if (malformed > 0)
        {
            root.Log.Warning($"Skipped {malformed} line(s) of {full} that are not expectations.");
        }

        return full;
    }
}
