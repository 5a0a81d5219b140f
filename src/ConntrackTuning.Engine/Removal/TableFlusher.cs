using System.Diagnostics;
using ConntrackTuning.Engine.Expectations;
using ConntrackTuning.Engine.Netlink;

namespace ConntrackTuning.Engine.Removal;

/// <summary>The two tables ctnetlink can flush.</summary>
internal enum FlushTable
{
    Connection,
    Expectation,
}

/// <summary>
/// Flushes the connection table (IPCTNL_MSG_CT_DELETE without a tuple: conntrack -F) or the expectation table
/// (IPCTNL_MSG_EXP_DELETE without a tuple: conntrack -F expect) of one network namespace, counting the entries
/// before (for the confirmation and the record) and after.
/// </summary>
internal sealed class TableFlusher : IDisposable
{
    private readonly CtnetlinkClient _client;
    private readonly ConntrackKernel _kernel;
    private readonly Stopwatch _clock = new();

    private TableFlusher(ConntrackKernel kernel, FlushTable table, string? networkNamespace, CtnetlinkClient client)
    {
        _kernel = kernel;
        Table = table;
        // Inside a cmdlet's -NetworkNamespace the socket was made in that namespace: the record names its inode.
        NetworkNamespace = networkNamespace ?? Namespaces.NamespaceContext.CurrentInode;
        _client = client;
    }

    public FlushTable Table { get; }

    /// <summary>The namespace flushed (its nsfs path or inode); null for this process's own.</summary>
    public string? NetworkNamespace { get; }

    /// <summary>Opens the socket and counts the table; EPERM here is the clear "needs CAP_NET_ADMIN" error.</summary>
    public static TableFlusher Open(ConntrackKernel kernel, FlushTable table, string? networkNamespace)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        RemovalSession.RequireLive(kernel.SystemRoot, table == FlushTable.Connection ? "flush the connection table" : "flush the expectation table");
        CtnetlinkClient client;
        try
        {
            client = new CtnetlinkClient(NetlinkTransports.Open(networkNamespace));
        }
        catch (NetlinkErrnoException e)
        {
            throw RemovalSession.Unavailable(e, networkNamespace);
        }

        var flusher = new TableFlusher(kernel, table, networkNamespace, client);
        try
        {
            flusher.CountBefore = flusher.Count();
        }
        catch
        {
            flusher.Dispose();
            throw;
        }

        return flusher;
    }

    public long CountBefore { get; private set; }

    public long Count()
    {
        try
        {
            return Table == FlushTable.Connection ? _client.ReadCount().Entries : ExpectationReader.Count(_client);
        }
        catch (NetlinkErrnoException e)
        {
            throw Translate(e);
        }
    }

    public ConntrackRemoval Flush()
    {
        _clock.Start();
        try
        {
            if (Table == FlushTable.Connection)
            {
                _client.Acknowledged(new RequestBuilder(NetlinkWire.CtDelete, NetlinkWire.FlagRequest | NetlinkWire.FlagAck, _client.NextSequence(), 0).ToArray());
            }
            else
            {
                ExpectationReader.Flush(_client);
            }
        }
        catch (NetlinkErrnoException e)
        {
            throw Translate(e);
        }

        _clock.Stop();
        long after = Count();
        _kernel.SystemRoot.Log.Verbose($"Flushed the {Table.ToString().ToLowerInvariant()} table: {CountBefore} entries before, {after} after (new ones may have arrived meanwhile).");
        return new ConntrackRemoval
        {
            Table = Table.ToString(),
            Matched = CountBefore,
            Deleted = Math.Max(0, CountBefore - after),
            Seconds = Math.Round(_clock.Elapsed.TotalSeconds, 3),
            Filter = "flush",
            NetworkNamespace = NetworkNamespace,
            Root = _kernel.Root,
        };
    }

    private static ConntrackException Translate(NetlinkErrnoException e) => e.Number == Errno.EPERM
        ? RemovalSession.PermissionDenied(e)
        : new ConntrackException(ErrorIds.NetlinkFailed, ErrorKind.ProtocolError, $"The flush over ctnetlink failed: {e.Message}", "ctnetlink",
            "Run the command again; compare with 'conntrack -F'.", e);

    public void Dispose() => _client.Dispose();
}
