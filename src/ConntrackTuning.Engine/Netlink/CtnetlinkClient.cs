using System.Buffers.Binary;
using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning.Engine.Netlink;

/// A ctnetlink conversation over one transport: table dumps, per-CPU statistics and the global count. Replies are
/// matched by sequence number; every datagram goes into one fixed 64 KiB buffer (a smaller one would silently
/// lose the tail of the kernel's 32 KiB batches), and a datagram that still does not fit is an error.
/// </summary>
internal sealed class CtnetlinkClient : IDisposable
{
    private readonly INetlinkTransport _transport;
    private readonly byte[] _buffer = new byte[65536];
    private uint _seq;

    public CtnetlinkClient(INetlinkTransport transport)
    {
        _transport = transport;
        _seq = (uint)Environment.TickCount;
    }

    /// <summary>A client whose every receive observes <paramref name="cancellation"/> (the root's stop signal).</summary>
    public static CtnetlinkClient Open(System.Threading.CancellationToken cancellation = default) => new(NetlinkTransports.Open(cancellation));

    public void Dispose() => _transport.Dispose();

    /// <summary>A message handler: the whole message, header included; false stops the dump.</summary>
    internal delegate bool MessageHandler(ReadOnlySpan<byte> message);

    /// <summary>
    /// Dumps the table, in one request or (for a tuple filter without a family) one per family, and hands each
    /// entry to the visitor as soon as it is parsed.
    /// </summary>
    public DumpOutcome DumpEntries(KernelFilter filter, EntryVisitor visitor)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(visitor);
        var outcome = new DumpOutcome();
        var record = default(EntryRecord);
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        byte[] families = filter.Family == 0 && filter.HasTupleFilter ? [2, 10] : [filter.Family];
        foreach (byte family in families)
        {
            byte[] request = filter.BuildDumpRequest(family, ++_seq);
            bool keepGoing = true;
            Dump(request, NetlinkWire.CtNew, outcome, message =>
            {
                if (!CtnetlinkEntryParser.TryParse(message, ref record, now))
                {
                    outcome.Malformed++;
                    return true;
                }

                keepGoing = visitor(ref record);
                return keepGoing;
            });
            if (!keepGoing)
            {
                outcome.Stopped = true;
                break;
            }
        }

        return outcome;
    }

    /// <summary>The seq for a request built elsewhere (expectations, flushes).</summary>
    internal uint NextSequence() => ++_seq;

    /// <summary>Any dump (the expectation table, say): each data message of that type, with our seq, goes to the handler.</summary>
    internal DumpOutcome DumpMessages(byte[] request, ushort dataType, MessageHandler handler)
    {
        var outcome = new DumpOutcome();
        Dump(request, dataType, outcome, handler);
        return outcome;
    }

    /// <summary>Sends a request that carries NLM_F_ACK and reads to its answer; a kernel error becomes <see cref="NetlinkErrnoException"/>.</summary>
    internal void Acknowledged(byte[] request)
    {
        uint seq = NetlinkWire.H32(request.AsSpan(8));
        _transport.Send(request);
        while (true)
        {
            foreach (ReadOnlySpan<byte> message in ReceiveReplies(seq))
            {
                if (NetlinkWire.H16(message[4..]) == NetlinkWire.NlmsgError)
                {
                    ThrowIfError(message);
                    return;
                }
            }
        }
    }

    /// <summary>IPCTNL_MSG_CT_GET_STATS_CPU: one row per possible CPU, keyed by the procfs column names.</summary>
    public IReadOnlyList<CpuCounters> ReadCpuStatistics()
    {
        var rows = new List<CpuCounters>();
        var request = new RequestBuilder(NetlinkWire.CtGetStatsCpu, NetlinkWire.FlagRequest | NetlinkWire.FlagDump, ++_seq, 0).ToArray();
        var outcome = new DumpOutcome();
        Dump(request, NetlinkWire.CtGetStatsCpu, outcome, message =>
        {
            if (TryParseCpuStatistics(message) is { } row)
            {
                rows.Add(row);
            }
            else
            {
                outcome.Malformed++;
            }

            return true;
        });
        if (outcome.Malformed > 0)
        {
            throw new NetlinkProtocolException($"{outcome.Malformed} per-CPU statistics messages were damaged.");
        }

        return rows;
    }

    /// <summary>
    /// IPCTNL_MSG_CT_GET_STATS: the kernel answers with one message and no NLMSG_DONE, so the request asks for an
    /// ACK and the reply is read until it.
    /// </summary>
    public CtnetlinkCount ReadCount()
    {
        uint seq = ++_seq;
        byte[] request = new RequestBuilder(NetlinkWire.CtGetStats, NetlinkWire.FlagRequest | NetlinkWire.FlagAck, seq, 0).ToArray();
        _transport.Send(request);
        long? entries = null;
        long? max = null;
        bool acked = false;
        while (!acked)
        {
            foreach (ReadOnlySpan<byte> message in ReceiveReplies(seq))
            {
                ushort type = NetlinkWire.H16(message[4..]);
                if (type == NetlinkWire.NlmsgError)
                {
                    ThrowIfError(message);
                    acked = true;
                }
                else if (type == NetlinkWire.CtGetStats && message.Length >= NetlinkWire.AttributesStart)
                {
                    var attrs = AttributeReader.OfMessage(message);
                    while (attrs.Next())
                    {
                        if (attrs.Payload.Length >= 4 && attrs.Type is 1 or 2)
                        {
                            long value = BinaryPrimitives.ReadUInt32BigEndian(attrs.Payload);
                            if (attrs.Type == 1)
                            {
                                entries = value;
                            }
                            else
                            {
                                max = value;
                            }
                        }
                    }

                    if (attrs.Malformed)
                    {
                        throw new NetlinkProtocolException("The global statistics reply is damaged.");
                    }
                }
                else if (type == NetlinkWire.NlmsgDone)
                {
                    acked = true;
                }
            }
        }

        return entries is { } count
            ? new CtnetlinkCount(count, max)
            : throw new NetlinkProtocolException("The kernel acknowledged the statistics request but sent no entry count.");
    }

    /// <summary>Maps a stats message to procfs names (KERNEL-FACTS §7.1): error is icmp_error, and so on.</summary>
    internal static CpuCounters? TryParseCpuStatistics(ReadOnlySpan<byte> message)
    {
        if (message.Length < NetlinkWire.AttributesStart)
        {
            return null;
        }

        int cpu = BinaryPrimitives.ReadUInt16BigEndian(message[18..]);
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        var attrs = AttributeReader.OfMessage(message);
        while (attrs.Next())
        {
            if (attrs.Payload.Length < 4)
            {
                return null;
            }

            values[CpuStatisticName(attrs.Type)] = BinaryPrimitives.ReadUInt32BigEndian(attrs.Payload);
        }

        return attrs.Malformed ? null : new CpuCounters(cpu, values);
    }

    private static readonly string?[] CpuNames =
    [
        null, "searched", "found", "new", "invalid", "ignore", "delete", "delete_list", "insert", "insert_failed",
        "drop", "early_drop", "icmp_error", "search_restart", "clashres", "chainlength",
    ];

    /// <summary>The procfs column name of a CTA_STATS_* attribute; conntrack -S's "unknownN" for ones newer than 6.18.</summary>
    internal static string CpuStatisticName(int type) =>
        type > 0 && type < CpuNames.Length && CpuNames[type] is { } name
            ? name
            : "unknown" + (type - (CpuNames.Length - 1)).ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Sends a dump request and reads to its NLMSG_DONE, handing every data message of the wanted type (and our
    /// seq) to the handler. Errors the kernel reports become <see cref="NetlinkErrnoException"/>.
    /// </summary>
    private void Dump(byte[] request, ushort dataType, DumpOutcome outcome, MessageHandler handler)
    {
        uint seq = NetlinkWire.H32(request.AsSpan(8));
        _transport.Send(request);
        while (true)
        {
            foreach (ReadOnlySpan<byte> message in ReceiveReplies(seq))
            {
                ushort type = NetlinkWire.H16(message[4..]);
                ushort flags = NetlinkWire.H16(message[6..]);
                if ((flags & NetlinkWire.FlagDumpInterrupted) != 0)
                {
                    outcome.Interrupted = true;
                }

                switch (type)
                {
                    case NetlinkWire.NlmsgDone:
                        if (message.Length >= NetlinkWire.HeaderLength + 4 && (int)NetlinkWire.H32(message[16..]) is < 0 and var status)
                        {
                            throw new NetlinkErrnoException("ctnetlink dump", -status);
                        }

                        return;
                    case NetlinkWire.NlmsgError:
                        ThrowIfError(message);
                        return;
                    case NetlinkWire.NlmsgOverrun:
                        throw new NetlinkProtocolException("The kernel reported NLMSG_OVERRUN: data was lost.");
                    case NetlinkWire.NlmsgNoop:
                        break;
                    default:
                        if (type == dataType)
                        {
                            outcome.Messages++;
                            if (!handler(message))
                            {
                                // Leaving mid-dump is fine: closing the socket ends the kernel's side.
                                outcome.Stopped = true;
                                return;
                            }
                        }

                        break;
                }
            }
        }
    }

    /// <summary>The messages of the next datagram that answer request <paramref name="seq"/>.</summary>
    private Replies ReceiveReplies(uint seq) => new(ReceiveDatagram(), seq);

    private ReadOnlySpan<byte> ReceiveDatagram()
    {
        int n = _transport.Receive(_buffer);
        if (n > _buffer.Length)
        {
            throw new NetlinkProtocolException($"The kernel sent a {n}-byte datagram, larger than the {_buffer.Length}-byte buffer; the rest was lost.");
        }

        return _buffer.AsSpan(0, n);
    }

    private static ReadOnlySpan<byte> NextMessage(ReadOnlySpan<byte> datagram, scoped ref int off)
    {
        if (datagram.Length - off < NetlinkWire.HeaderLength)
        {
            throw new NetlinkProtocolException($"A datagram ends with {datagram.Length - off} stray bytes where a 16-byte message header was expected.");
        }

        uint len = NetlinkWire.H32(datagram[off..]);
        if (len < NetlinkWire.HeaderLength || len > datagram.Length - off)
        {
            throw new NetlinkProtocolException($"A message at offset {off} claims {len} bytes, but the datagram has {datagram.Length - off} left.");
        }

        ReadOnlySpan<byte> message = datagram.Slice(off, (int)len);
        off = Math.Min(datagram.Length, off + NetlinkWire.Align4((int)len));
        return message;
    }

    private static void ThrowIfError(ReadOnlySpan<byte> message)
    {
        if (message.Length < NetlinkWire.HeaderLength + 4)
        {
            throw new NetlinkProtocolException("An NLMSG_ERROR message is too short to hold its error code.");
        }

        int error = (int)NetlinkWire.H32(message[16..]);
        if (error != 0)
        {
            throw new NetlinkErrnoException("ctnetlink request", -error);
        }
    }

    /// <summary>
    /// Walks the messages of one datagram, in order, and yields those carrying the request's seq: a late answer to
    /// an earlier request (one abandoned mid-dump, say) is skipped rather than taken for this one's.
    /// </summary>
    private ref struct Replies
    {
        private readonly ReadOnlySpan<byte> _datagram;
        private readonly uint _seq;
        private int _offset;

        public Replies(ReadOnlySpan<byte> datagram, uint seq)
        {
            _datagram = datagram;
            _seq = seq;
            _offset = 0;
            Current = default;
        }

        public ReadOnlySpan<byte> Current { get; private set; }

        public readonly Replies GetEnumerator() => this;

        public bool MoveNext()
        {
            while (_offset < _datagram.Length)
            {
                Current = NextMessage(_datagram, ref _offset);
                if (NetlinkWire.H32(Current[8..]) == _seq)
                {
                    return true;
                }
            }

            return false;
        }
    }
}
