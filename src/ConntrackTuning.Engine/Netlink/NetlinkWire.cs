using System.Buffers.Binary;

namespace ConntrackTuning.Engine.Netlink;

/// <summary>
/// The netlink and ctnetlink constants this engine uses (CTNETLINK.md §3-§6), and the two byte orders: netlink
/// framing (nlmsghdr, nlattr headers, error codes, CTA_FILTER flags) is host order, every ctnetlink payload
/// integer is big-endian.
/// </summary>
internal static class NetlinkWire
{
    public const int HeaderLength = 16;
    public const int NfgenLength = 4;
    public const int AttributesStart = HeaderLength + NfgenLength;

    // nfgenmsg.nfgen_family, the first byte after the header.
    public const int FamilyOffset = HeaderLength;

    public const ushort NlmsgNoop = 1;
    public const ushort NlmsgError = 2;
    public const ushort NlmsgDone = 3;
    public const ushort NlmsgOverrun = 4;
    public const ushort NlmsgMinType = 0x10;

    public const ushort FlagRequest = 0x001;
    public const ushort FlagMulti = 0x002;
    public const ushort FlagAck = 0x004;
    public const ushort FlagDumpInterrupted = 0x010;
    public const ushort FlagDump = 0x300;

    // In a NEW message (an event): NLM_F_EXCL | NLM_F_CREATE mark a new entry, an update has neither.
    public const ushort FlagExcl = 0x200;
    public const ushort FlagCreate = 0x400;

    public const ushort CtNew = 0x0100;
    public const ushort CtGet = 0x0101;
    public const ushort CtGetStatsCpu = 0x0104;
    public const ushort CtGetStats = 0x0105;
    public const ushort CtDelete = 0x0102;

    // NFNL_SUBSYS_CTNETLINK_EXP (2): the expectation table.
    public const ushort ExpNew = 0x0200;
    public const ushort ExpGet = 0x0201;
    public const ushort ExpDelete = 0x0202;

    // enum ctattr_type
    public const int CtaTupleOrig = 1;
    public const int CtaTupleReply = 2;
    public const int CtaStatus = 3;
    public const int CtaProtoinfo = 4;
    public const int CtaHelp = 5;
    public const int CtaTimeout = 7;
    public const int CtaMark = 8;
    public const int CtaCountersOrig = 9;
    public const int CtaCountersReply = 10;
    public const int CtaUse = 11;
    public const int CtaId = 12;
    public const int CtaZone = 18;
    public const int CtaSecctx = 19;
    public const int CtaTimestamp = 20;
    public const int CtaMarkMask = 21;
    public const int CtaLabels = 22;
    public const int CtaFilter = 25;
    public const int CtaStatusMask = 26;
    public const int CtaTimestampEvent = 27;

    // enum ctattr_expect
    public const int CtaExpectMaster = 1;
    public const int CtaExpectTuple = 2;
    public const int CtaExpectMask = 3;
    public const int CtaExpectTimeout = 4;
    public const int CtaExpectId = 5;
    public const int CtaExpectHelpName = 6;
    public const int CtaExpectZone = 7;
    public const int CtaExpectFlags = 8;
    public const int CtaExpectClass = 9;

    // enum ctattr_tuple, ctattr_ip, ctattr_l4proto
    public const int CtaTupleIp = 1;
    public const int CtaTupleProto = 2;
    public const int CtaTupleZone = 3;
    public const int CtaIpV4Src = 1;
    public const int CtaIpV4Dst = 2;
    public const int CtaIpV6Src = 3;
    public const int CtaIpV6Dst = 4;
    public const int CtaProtoNum = 1;
    public const int CtaProtoSrcPort = 2;
    public const int CtaProtoDstPort = 3;
    public const int CtaProtoIcmpId = 4;
    public const int CtaProtoIcmpType = 5;
    public const int CtaProtoIcmpCode = 6;
    public const int CtaProtoIcmpv6Id = 7;
    public const int CtaProtoIcmpv6Type = 8;
    public const int CtaProtoIcmpv6Code = 9;

    // CTA_FILTER
    public const int CtaFilterOrigFlags = 1;
    public const int CtaFilterReplyFlags = 2;
    public const uint FilterIpSrc = 0x001;
    public const uint FilterIpDst = 0x002;
    public const uint FilterProtoNum = 0x008;
    public const uint FilterSrcPort = 0x010;
    public const uint FilterDstPort = 0x020;

    public const int NlaNested = 0x8000;
    public const int NlaTypeMask = 0x3FFF;

    public static int Align4(int n) => (n + 3) & ~3;

    public static ushort H16(ReadOnlySpan<byte> b) => BitConverter.IsLittleEndian
        ? BinaryPrimitives.ReadUInt16LittleEndian(b) : BinaryPrimitives.ReadUInt16BigEndian(b);

    public static uint H32(ReadOnlySpan<byte> b) => BitConverter.IsLittleEndian
        ? BinaryPrimitives.ReadUInt32LittleEndian(b) : BinaryPrimitives.ReadUInt32BigEndian(b);

    public static void WriteH16(Span<byte> b, ushort v)
    {
        if (BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(b, v);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(b, v);
        }
    }

    public static void WriteH32(Span<byte> b, uint v)
    {
        if (BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(b, v);
        }
    }
}

/// <summary>
/// Walks the attributes of one level of a message. A length below the header or past the end makes the walk
/// stop with <see cref="Malformed"/> set, so a damaged message is skipped rather than read out of bounds.
/// </summary>
internal ref struct AttributeReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _offset;

    public AttributeReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _offset = 0;
        Type = 0;
        Payload = default;
        Malformed = false;
    }

    public int Type { get; private set; }

    public ReadOnlySpan<byte> Payload { get; private set; }

    public bool Malformed { get; private set; }

    /// <summary>The top level of a ctnetlink message: what follows its netlink header and nfgenmsg.</summary>
    public static AttributeReader OfMessage(ReadOnlySpan<byte> message) => new(message[NetlinkWire.AttributesStart..]);

    public bool Next()
    {
        if (_offset >= _data.Length || Malformed)
        {
            return false;
        }

        if (_offset + 4 > _data.Length)
        {
            Malformed = true;
            return false;
        }

        int len = NetlinkWire.H16(_data[_offset..]);
        if (len < 4 || _offset + len > _data.Length)
        {
            Malformed = true;
            return false;
        }

        Type = NetlinkWire.H16(_data[(_offset + 2)..]) & NetlinkWire.NlaTypeMask;
        Payload = _data.Slice(_offset + 4, len - 4);
        _offset += NetlinkWire.Align4(len);
        return true;
    }
}

/// <summary>Builds a request: header, nfgenmsg and attributes, nesting with a stack of open nests.</summary>
internal sealed class RequestBuilder
{
    private readonly List<byte> _bytes = new(64);
    private readonly Stack<int> _nests = new();

    public RequestBuilder(ushort type, ushort flags, uint seq, byte family)
    {
        Span<byte> head = stackalloc byte[NetlinkWire.AttributesStart];
        NetlinkWire.WriteH16(head[4..], type);
        NetlinkWire.WriteH16(head[6..], flags);
        NetlinkWire.WriteH32(head[8..], seq);
        head[16] = family;
        Add(head);
    }

    public void BeginNest(int type)
    {
        _nests.Push(_bytes.Count);
        Span<byte> h = stackalloc byte[4];
        NetlinkWire.WriteH16(h[2..], (ushort)(type | NetlinkWire.NlaNested));
        Add(h);
    }

    public void EndNest()
    {
        int start = _nests.Pop();
        Span<byte> len = stackalloc byte[2];
        NetlinkWire.WriteH16(len, (ushort)(_bytes.Count - start));
        _bytes[start] = len[0];
        _bytes[start + 1] = len[1];
    }

    public void Attribute(int type, ReadOnlySpan<byte> payload)
    {
        Span<byte> h = stackalloc byte[4];
        NetlinkWire.WriteH16(h, (ushort)(4 + payload.Length));
        NetlinkWire.WriteH16(h[2..], (ushort)type);
        Add(h);
        Add(payload);
        while (_bytes.Count % 4 != 0)
        {
            _bytes.Add(0);
        }
    }

    public void U8(int type, byte value) => Attribute(type, [value]);

    public void BigEndian16(int type, ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(b, value);
        Attribute(type, b);
    }

    public void BigEndian32(int type, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        Attribute(type, b);
    }

    public void Host32(int type, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        NetlinkWire.WriteH32(b, value);
        Attribute(type, b);
    }

    public byte[] ToArray()
    {
        byte[] result = [.. _bytes];
        NetlinkWire.WriteH32(result, (uint)result.Length);
        return result;
    }

    private void Add(ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
        {
            _bytes.Add(b);
        }
    }
}
