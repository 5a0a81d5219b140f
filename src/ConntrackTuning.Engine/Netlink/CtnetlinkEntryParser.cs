using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ConntrackTuning.Engine.Entries;

namespace ConntrackTuning.Engine.Netlink;

/// <summary>
/// Turns one IPCTNL_MSG_CT_NEW message of a dump into an <see cref="EntryRecord"/> (CTNETLINK.md §4). Attributes
/// are read by type, in any order; unknown ones are skipped, as newer kernels add attributes. A message that is
/// damaged (an attribute running past its parent, a payload of the wrong size, a tuple without addresses) is
/// reported as not parsed, never read out of bounds.
/// </summary>
internal static class CtnetlinkEntryParser
{
    /// <param name="message">The whole netlink message, header included.</param>
    /// <param name="nowUnixSeconds">Wall-clock now, to turn the start timestamp into an age.</param>
    public static bool TryParse(ReadOnlySpan<byte> message, ref EntryRecord r, long nowUnixSeconds)
    {
        r.Clear();
        if (message.Length < NetlinkWire.AttributesStart)
        {
            return false;
        }

        r.Family = message[16];
        if (r.Family is not (2 or 10))
        {
            return false;
        }

        bool hasOrig = false;
        bool hasReply = false;
        var attrs = AttributeReader.OfMessage(message);
        while (attrs.Next())
        {
            ReadOnlySpan<byte> p = attrs.Payload;
            bool ok = attrs.Type switch
            {
                NetlinkWire.CtaTupleOrig => hasOrig = CtnetlinkTupleParser.TryTuple(p, r.Family, ref r.Original, out r.Protocol),
                NetlinkWire.CtaTupleReply => hasReply = CtnetlinkTupleParser.TryTuple(p, r.Family, ref r.Reply, out _),
                NetlinkWire.CtaProtoinfo => TryProtoinfo(p, ref r),
                NetlinkWire.CtaCountersOrig => CtnetlinkTupleParser.TryCounters(p, ref r.Original),
                NetlinkWire.CtaCountersReply => CtnetlinkTupleParser.TryCounters(p, ref r.Reply),
                NetlinkWire.CtaTimestamp => TryTimestamp(p, ref r, nowUnixSeconds),
                _ => TryValue(attrs.Type, p, ref r),
            };
            if (!ok)
            {
                return false;
            }
        }

        return !attrs.Malformed && hasOrig && hasReply;
    }

    // The attributes that are not nests; a payload too short for its type makes the message malformed. Inlined:
    // most attributes of every entry of a dump come here.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryValue(int type, ReadOnlySpan<byte> p, ref EntryRecord r)
    {
        int need = type switch
        {
            NetlinkWire.CtaStatus or NetlinkWire.CtaTimeout or NetlinkWire.CtaMark or NetlinkWire.CtaId => 4,
            NetlinkWire.CtaZone => 2,
            _ => 0,
        };
        if (p.Length < need)
        {
            return false;
        }

        switch (type)
        {
            case NetlinkWire.CtaStatus:
                r.Status = BinaryPrimitives.ReadUInt32BigEndian(p);
                r.HasFullStatus = true;
                break;
            case NetlinkWire.CtaTimeout:
                r.Timeout = BinaryPrimitives.ReadUInt32BigEndian(p);
                break;
            case NetlinkWire.CtaMark:
                r.Mark = BinaryPrimitives.ReadUInt32BigEndian(p);
                r.HasMark = true;
                break;
            case NetlinkWire.CtaId:
                // The kernel writes the id without htonl; conntrack -o id reads it as big-endian, and so do we.
                r.Id = BinaryPrimitives.ReadUInt32BigEndian(p);
                r.HasId = true;
                break;
            case NetlinkWire.CtaZone:
                r.Zone = BinaryPrimitives.ReadUInt16BigEndian(p);
                break;
            case NetlinkWire.CtaLabels:
                r.LabelBits = Labels(p);
                break;
            case NetlinkWire.CtaSecctx:
                r.SecurityContext = NestedString(p, 1);
                break;
            case NetlinkWire.CtaHelp:
                r.Helper = NestedString(p, 1);
                break;
            default:
                break;
        }

        return true;
    }

    private static bool TryProtoinfo(ReadOnlySpan<byte> nest, ref EntryRecord r)
    {
        var attrs = new AttributeReader(nest);
        while (attrs.Next())
        {
            // TCP (1), DCCP (2) and SCTP (3) each nest a STATE attribute of type 1 holding one byte.
            if (attrs.Type is >= 1 and <= 3)
            {
                var inner = new AttributeReader(attrs.Payload);
                while (inner.Next())
                {
                    if (inner.Type == 1)
                    {
                        if (inner.Payload.Length < 1)
                        {
                            return false;
                        }

                        byte protocol = attrs.Type switch { 1 => ProtocolNames.Tcp, 2 => ProtocolNames.Dccp, _ => ProtocolNames.Sctp };
                        r.State = StateNames.FromKernel(protocol, inner.Payload[0]);
                    }
                }

                if (inner.Malformed)
                {
                    return false;
                }
            }
        }

        return !attrs.Malformed;
    }

    private static bool TryTimestamp(ReadOnlySpan<byte> nest, ref EntryRecord r, long nowUnixSeconds)
    {
        var attrs = new AttributeReader(nest);
        while (attrs.Next())
        {
            if (attrs.Type == 1)
            {
                if (attrs.Payload.Length < 8)
                {
                    return false;
                }

                ulong startNs = BinaryPrimitives.ReadUInt64BigEndian(attrs.Payload);
                long start = (long)(startNs / 1_000_000_000UL);
                r.Age = Math.Max(0, nowUnixSeconds - start);
            }
        }

        return !attrs.Malformed;
    }

    // The kernel copies its unsigned long bitmap raw: word k, host order, bit i is label 64k + i.
    private static UInt128 Labels(ReadOnlySpan<byte> p)
    {
        UInt128 bits = 0;
        for (int k = 0; k < 2 && (k + 1) * 8 <= p.Length; k++)
        {
            ulong word = MemoryMarshal.Read<ulong>(p.Slice(k * 8, 8));
            bits |= (UInt128)word << (64 * k);
        }

        return bits;
    }

    private static string? NestedString(ReadOnlySpan<byte> nest, int type)
    {
        var attrs = new AttributeReader(nest);
        while (attrs.Next())
        {
            if (attrs.Type == type)
            {
                ReadOnlySpan<byte> s = attrs.Payload;
                int nul = s.IndexOf((byte)0);
                return System.Text.Encoding.UTF8.GetString(nul < 0 ? s : s[..nul]);
            }
        }

        return null;
    }
}
