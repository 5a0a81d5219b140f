using System.Buffers.Binary;
using ConntrackTuning.Engine.Entries;

namespace ConntrackTuning.Engine.Netlink;

/// <summary>How the kernel answered the delete of one entry.</summary>
internal enum DeleteResult
{
    Deleted,

    /// <summary>ENOENT: the tuple (or the tuple with that id) is no longer in the table.</summary>
    AlreadyGone,

    Failed,
}

/// <summary>Told the outcome of each delete, with the entry as it was dumped and the errno for failures.</summary>
internal delegate void DeleteObserver(ref EntryRecord entry, DeleteResult result, int errno);

/// <summary>
/// Deletes entries with IPCTNL_MSG_CT_DELETE, many per datagram: a batch of delete messages (each with its own
/// seq) goes out in one send, and the kernel handles them one after another inside that send. Only the last
/// message asks for an ACK: the kernel answers every failed message anyway (netlink_rcv_skb acks on error), so
/// one answer per batch plus one per failure is read back instead of one per entry, and with NETLINK_CAP_ACK an
/// error answer does not echo the request. A delete names the original tuple, the zone and, when known, the id
/// (ctnetlink_del_conntrack answers ENOENT when the tuple now belongs to a newer entry with another id), so
/// exactly the entries that were dumped go, never a successor that reused the tuple. Memory is the batch.
/// </summary>
internal sealed class CtnetlinkDeleter : IDisposable
{
    /// <summary>512 deletes (about 45 KiB for IPv4) per send: well under the socket's send limit (wmem_default).</summary>
    public const int DefaultBatchSize = 512;

    private const int SolNetlink = 270;
    private const int NetlinkCapAck = 10;

    // Largest delete message: header 20 + orig tuple (4 + IP 4+2*20 + proto 4+5 attrs*8 + zone 8) + zone 8 + id 8.
    private const int MaxMessageLength = 160;

    private readonly INetlinkTransport _transport;
    private readonly EntryRecord[] _batch;
    private readonly int[] _errors;
    private readonly byte[] _send;
    private readonly byte[] _receive = new byte[65536];
    private readonly DeleteObserver? _observer;
    private int _count;
    private int _sendLength;
    private int _lastOffset;
    private uint _seq;

    public CtnetlinkDeleter(INetlinkTransport transport, int batchSize = DefaultBatchSize, DeleteObserver? observer = null)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _transport = transport;
        _observer = observer;
        _batch = new EntryRecord[batchSize];
        _errors = new int[batchSize];
        _send = new byte[batchSize * MaxMessageLength];
        _seq = (uint)Environment.TickCount ^ 0x5a5a0000;
        if (transport is NetlinkSocket socket)
        {
            // Answers are queued before we read any (one per failure at worst): leave room for a whole batch of them,
            // and keep each one short (no echo of the request).
            _ = socket.TrySetReceiveBuffer(Math.Max(1 << 20, batchSize * 2048));
            _ = socket.TrySetOption(SolNetlink, NetlinkCapAck, 1);
        }
    }

    public long Deleted { get; private set; }

    public long AlreadyGone { get; private set; }

    public long Failed { get; private set; }

    /// <summary>The errno of the first failed delete, for the error message.</summary>
    public int FirstFailureErrno { get; private set; }

    public int Pending => _count;

    /// <summary>Queues one entry; sends the batch when it is full.</summary>
    public void Add(ref EntryRecord entry)
    {
        _batch[_count] = entry;
        _lastOffset = _sendLength;
        _sendLength += WriteDelete(_send.AsSpan(_sendLength), _seq + (uint)_count, ref entry, ack: false);
        _count++;
        if (_count == _batch.Length)
        {
            Flush();
        }
    }

    /// <summary>Sends what is queued and reads one answer per message.</summary>
    public void Flush()
    {
        if (_count == 0)
        {
            return;
        }

        uint first = _seq;
        int count = _count;
        uint last = first + (uint)(count - 1);
        // No answer means deleted: only failures and the last message's ACK come back.
        _errors.AsSpan(0, count).Clear();
        Span<byte> flags = _send.AsSpan(_lastOffset + 6, 2);
        NetlinkWire.WriteH16(flags, (ushort)(NetlinkWire.H16(flags) | NetlinkWire.FlagAck));
        _transport.Send(_send.AsSpan(0, _sendLength));
        try
        {
            // The kernel answers in order, so the last message's answer comes after every earlier failure's.
            bool done = false;
            while (!done)
            {
                int n = _transport.Receive(_receive);
                if (n > _receive.Length)
                {
                    throw new NetlinkProtocolException($"The kernel sent a {n}-byte datagram, larger than the {_receive.Length}-byte buffer.");
                }

                done = ReadAnswers(_receive.AsSpan(0, n), first, count, last);
            }
        }
        finally
        {
            _seq += (uint)count;
            _count = 0;
            _sendLength = 0;
        }

        for (int i = 0; i < count; i++)
        {
            int errno = _errors[i];
            DeleteResult result = errno switch
            {
                0 => DeleteResult.Deleted,
                Errno.ENOENT => DeleteResult.AlreadyGone,
                _ => DeleteResult.Failed,
            };
            switch (result)
            {
                case DeleteResult.Deleted:
                    Deleted++;
                    break;
                case DeleteResult.AlreadyGone:
                    AlreadyGone++;
                    break;
                default:
                    if (Failed++ == 0)
                    {
                        FirstFailureErrno = errno;
                    }

                    break;
            }

            _observer?.Invoke(ref _batch[i], result, errno);
        }

        Array.Clear(_batch, 0, count);
    }

    // Records the errors of one datagram of answers; true once the answer to the last message was among them.
    private bool ReadAnswers(ReadOnlySpan<byte> datagram, uint first, int count, uint last)
    {
        bool sawLast = false;
        for (int off = 0; off + NetlinkWire.HeaderLength <= datagram.Length;)
        {
            int len = (int)NetlinkWire.H32(datagram[off..]);
            if (len < NetlinkWire.HeaderLength || len > datagram.Length - off)
            {
                throw new NetlinkProtocolException($"A reply message at offset {off} claims {len} bytes, but the datagram has {datagram.Length - off} left.");
            }

            ReadOnlySpan<byte> message = datagram.Slice(off, len);
            off += NetlinkWire.Align4(len);
            uint seq = NetlinkWire.H32(message[8..]);
            uint index = seq - first;
            if (NetlinkWire.H16(message[4..]) != NetlinkWire.NlmsgError || index >= (uint)count || len < NetlinkWire.HeaderLength + 4)
            {
                continue;
            }

            _errors[index] = -(int)NetlinkWire.H32(message[16..]);
            sawLast |= seq == last;
        }

        return sawLast;
    }

    /// <summary>
    /// One IPCTNL_MSG_CT_DELETE for an entry: the original tuple (with its one-direction zone), CTA_ZONE for a
    /// zone both directions share, CTA_ID when the entry has one. Returns the bytes written.
    /// </summary>
    internal static int WriteDelete(Span<byte> b, uint seq, ref EntryRecord r, bool ack = true)
    {
        b[..NetlinkWire.AttributesStart].Clear();
        NetlinkWire.WriteH16(b[4..], NetlinkWire.CtDelete);
        NetlinkWire.WriteH16(b[6..], ack ? (ushort)(NetlinkWire.FlagRequest | NetlinkWire.FlagAck) : NetlinkWire.FlagRequest);
        NetlinkWire.WriteH32(b[8..], seq);
        b[16] = r.Family;
        int o = NetlinkWire.AttributesStart;
        int tuple = o;
        o = BeginNest(b, o, NetlinkWire.CtaTupleOrig);
        int ip = o;
        o = BeginNest(b, o, NetlinkWire.CtaTupleIp);
        if (r.IsIPv6)
        {
            o = Address6(b, o, NetlinkWire.CtaIpV6Src, r.Original.Source);
            o = Address6(b, o, NetlinkWire.CtaIpV6Dst, r.Original.Destination);
        }
        else
        {
            o = Be32(b, o, NetlinkWire.CtaIpV4Src, (uint)r.Original.Source);
            o = Be32(b, o, NetlinkWire.CtaIpV4Dst, (uint)r.Original.Destination);
        }

        EndNest(b, ip, o);
        int proto = o;
        o = BeginNest(b, o, NetlinkWire.CtaTupleProto);
        o = U8(b, o, NetlinkWire.CtaProtoNum, r.Protocol);
        if (r.Original.HasIcmp)
        {
            bool v6 = r.Protocol == ProtocolNames.IcmpV6;
            o = Be16(b, o, v6 ? NetlinkWire.CtaProtoIcmpv6Id : NetlinkWire.CtaProtoIcmpId, r.Original.IcmpId);
            o = U8(b, o, v6 ? NetlinkWire.CtaProtoIcmpv6Type : NetlinkWire.CtaProtoIcmpType, r.Original.IcmpType);
            o = U8(b, o, v6 ? NetlinkWire.CtaProtoIcmpv6Code : NetlinkWire.CtaProtoIcmpCode, r.Original.IcmpCode);
        }
        else if (r.Original.HasPorts)
        {
            o = Be16(b, o, NetlinkWire.CtaProtoSrcPort, r.Original.SourcePort);
            o = Be16(b, o, NetlinkWire.CtaProtoDstPort, r.Original.DestinationPort);
        }

        EndNest(b, proto, o);
        if (r.Original.Zone >= 0)
        {
            o = Be16(b, o, NetlinkWire.CtaTupleZone, (ushort)r.Original.Zone);
        }

        EndNest(b, tuple, o);
        if (r.Zone != 0)
        {
            o = Be16(b, o, NetlinkWire.CtaZone, r.Zone);
        }

        if (r.HasId)
        {
            // The id goes back in the byte order it came in (the kernel compares the raw 32 bits).
            o = Be32(b, o, NetlinkWire.CtaId, r.Id);
        }

        NetlinkWire.WriteH32(b, (uint)o);
        return o;
    }

    private static int BeginNest(Span<byte> b, int o, int type)
    {
        NetlinkWire.WriteH16(b[(o + 2)..], (ushort)(type | NetlinkWire.NlaNested));
        return o + 4;
    }

    private static void EndNest(Span<byte> b, int start, int end) => NetlinkWire.WriteH16(b[start..], (ushort)(end - start));

    private static int Header(Span<byte> b, int o, int type, int payload)
    {
        NetlinkWire.WriteH16(b[o..], (ushort)(4 + payload));
        NetlinkWire.WriteH16(b[(o + 2)..], (ushort)type);
        int end = o + 4 + payload;
        int aligned = NetlinkWire.Align4(end);
        b[end..aligned].Clear();
        return aligned;
    }

    private static int U8(Span<byte> b, int o, int type, byte value)
    {
        int next = Header(b, o, type, 1);
        b[o + 4] = value;
        return next;
    }

    private static int Be16(Span<byte> b, int o, int type, ushort value)
    {
        int next = Header(b, o, type, 2);
        BinaryPrimitives.WriteUInt16BigEndian(b[(o + 4)..], value);
        return next;
    }

    private static int Be32(Span<byte> b, int o, int type, uint value)
    {
        int next = Header(b, o, type, 4);
        BinaryPrimitives.WriteUInt32BigEndian(b[(o + 4)..], value);
        return next;
    }

    private static int Address6(Span<byte> b, int o, int type, UInt128 address)
    {
        int next = Header(b, o, type, 16);
        BinaryPrimitives.WriteUInt128BigEndian(b[(o + 4)..], address);
        return next;
    }

    public void Dispose() => _transport.Dispose();
}
