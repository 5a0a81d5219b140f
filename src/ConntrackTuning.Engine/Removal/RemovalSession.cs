using System.Diagnostics;
using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Netlink;

namespace ConntrackTuning.Engine.Removal;

/// <summary>
/// One removal from the live table of one network namespace, over two ctnetlink sockets: one streams the
/// (kernel-filtered) dump on a reader thread (<see cref="DumpPipeline"/>), the other deletes the matches in
/// batches on the calling thread as they arrive, so memory is a few batches at any table size. Entries handed in
/// one by one (from the pipeline) go through the same batches.
/// </summary>
internal sealed class RemovalSession : IDisposable
{
    private readonly ConntrackKernel _kernel;
    private readonly CtnetlinkClient _control;
    private readonly CtnetlinkDeleter _deleter;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationToken _cancellation;
    private long _matched;

    private RemovalSession(ConntrackKernel kernel, string? networkNamespace, DeleteObserver? observer, int batchSize)
    {
        _kernel = kernel;
        // Inside a cmdlet's -NetworkNamespace the sockets are made in that namespace: the record names its inode.
        NetworkNamespace = networkNamespace ?? Namespaces.NamespaceContext.CurrentInode;
        _cancellation = kernel.SystemRoot.Cancellation;
        _control = new CtnetlinkClient(NetlinkTransports.Open(networkNamespace));
        try
        {
            _deleter = new CtnetlinkDeleter(NetlinkTransports.Open(networkNamespace), batchSize, observer);
        }
        catch
        {
            _control.Dispose();
            throw;
        }
    }

    public string? NetworkNamespace { get; }

    /// <summary>The kernel's entry count when the session began (this namespace's), when it answers the statistics request.</summary>
    public long? CountBefore { get; private set; }

    public long Matched => _matched;

    /// <summary>
    /// Opens the sockets and checks, with one statistics request, that this process may change the table:
    /// ctnetlink answers EPERM without CAP_NET_ADMIN, and that is better said before the dump than after it.
    /// </summary>
    public static RemovalSession Open(ConntrackKernel kernel, string? networkNamespace, DeleteObserver? observer = null,
        int batchSize = CtnetlinkDeleter.DefaultBatchSize)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        RequireLive(kernel.SystemRoot, "delete conntrack entries");
        RemovalSession session;
        try
        {
            session = new RemovalSession(kernel, networkNamespace, observer, batchSize);
        }
        catch (NetlinkErrnoException e)
        {
            throw Unavailable(e, networkNamespace);
        }

        try
        {
            session.CountBefore = session._control.ReadCount().Entries;
        }
        catch (NetlinkErrnoException e) when (e.Number is Errno.EINVAL or Errno.EOPNOTSUPP)
        {
            // Kernels before 3.6 have no statistics message; a delete will still say whether we may.
            session.CountBefore = null;
        }
        catch (NetlinkErrnoException e)
        {
            session.Dispose();
            throw e.Number == Errno.EPERM ? PermissionDenied(e) : Failed(e, 0);
        }

        return session;
    }

    /// <summary>A run-time change is for the running system only: a sosreport, an image or a fixture is never changed.</summary>
    internal static void RequireLive(SystemRoot root, string what)
    {
        if (!root.IsLive)
        {
            throw new ConntrackException(ErrorIds.NotLiveSystem, ErrorKind.InvalidOperation,
                $"Cannot {what} under -Root {root.Path}: it is not the running system, and only the running kernel's table can be changed.",
                root.Path,
                "Run the command on the system itself without -Root; against a captured root, -WhatIf shows what would match.");
        }
    }

    /// <summary>Dumps the table and deletes every entry the filter matches, in batches as the dump streams.</summary>
    public void RemoveMatching(RemovalFilter filter, Action<long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(filter);
        SystemRoot root = _kernel.SystemRoot;
        KernelFilter kernelFilter = EntryReader.DumpFilter(root.Log, notes => filter.ToKernelFilter(_kernel.Version, notes), filter.Description,
            "Dumping the whole conntrack table over ctnetlink and deleting every entry.");
        long seen = 0;
        EntryVisitor matches = filter.Matches;
        while (true)
        {
            try
            {
                // The dump streams on a reader thread while this one deletes: both halves of the kernel's work overlap.
                DumpOutcome outcome = DumpPipeline.Run(_control, kernelFilter, matches, Add, progress, _cancellation, out seen);
                if (outcome.Malformed > 0)
                {
                    root.Log.Warning($"Skipped {outcome.Malformed} damaged ctnetlink message(s); those entries were not considered for deletion.");
                }

                break;
            }
            catch (NetlinkErrnoException e) when (seen == 0 && _matched == 0 && e.Number is Errno.EINVAL or Errno.EOPNOTSUPP && !kernelFilter.IsEmpty)
            {
                root.Log.Verbose($"The kernel rejected the dump filter ({Errno.Describe(e.Number)}); dumping unfiltered and filtering here.");
                kernelFilter = KernelFilter.None;
            }
            catch (NetlinkErrnoException e)
            {
                throw e.Number == Errno.EPERM ? PermissionDenied(e) : Failed(e, _matched);
            }
            catch (NetlinkProtocolException e)
            {
                throw Failed(e, _matched);
            }
        }

        Flush();
        filter.WarnWithoutAge(root.Log);
    }

    /// <summary>Queues one entry for deletion (sent when the batch is full).</summary>
    public void Add(ref EntryRecord entry)
    {
        _matched++;
        try
        {
            _deleter.Add(ref entry);
        }
        catch (NetlinkErrnoException e)
        {
            throw e.Number == Errno.EPERM ? PermissionDenied(e) : Failed(e, _matched);
        }
        catch (NetlinkProtocolException e)
        {
            throw Failed(e, _matched);
        }
    }

    public void Flush()
    {
        try
        {
            _deleter.Flush();
        }
        catch (NetlinkErrnoException e)
        {
            throw e.Number == Errno.EPERM ? PermissionDenied(e) : Failed(e, _matched);
        }
        catch (NetlinkProtocolException e)
        {
            throw Failed(e, _matched);
        }
    }

    /// <summary>The summary record; call after the last <see cref="Flush"/>.</summary>
    public ConntrackRemoval Result(string filterText) => new()
    {
        Table = "Connection",
        Matched = _matched,
        Deleted = _deleter.Deleted,
        AlreadyGone = _deleter.AlreadyGone,
        Failed = _deleter.Failed,
        Seconds = Math.Round(_clock.Elapsed.TotalSeconds, 3),
        Filter = filterText,
        NetworkNamespace = NetworkNamespace,
        Root = _kernel.Root,
    };

    public int FirstFailureErrno => _deleter.FirstFailureErrno;

    public void Dispose()
    {
        _deleter.Dispose();
        _control.Dispose();
    }

    internal static ConntrackException PermissionDenied(NetlinkErrnoException e) =>
        new(ErrorIds.NetlinkPermissionDenied, ErrorKind.PermissionDenied,
            $"Changing the conntrack table needs CAP_NET_ADMIN, and the kernel refused this process ({Errno.Describe(e.Number)}).",
            "ctnetlink", "Run pwsh as root (sudo pwsh), or grant it CAP_NET_ADMIN.", e);

    internal static ConntrackException Unavailable(NetlinkErrnoException e, string? networkNamespace) =>
        new(ErrorIds.NetlinkUnavailable, ErrorKind.ResourceUnavailable,
            $"Cannot open a ctnetlink socket{(networkNamespace is null ? "" : " in " + networkNamespace)}: {e.Message}.",
            networkNamespace ?? "ctnetlink",
            "Check that the kernel has nf_conntrack_netlink (modprobe nf_conntrack_netlink) and that the namespace exists.", e);

    private static ConntrackException Failed(Exception e, long matched) =>
        new(ErrorIds.NetlinkFailed, ErrorKind.ProtocolError,
            $"Deleting conntrack entries over ctnetlink failed after {matched} matches: {e.Message}",
            "ctnetlink", "Run the command again: entries already deleted stay deleted, and the rest will match again.", e);
}
