using System.Buffers.Binary;
using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Netlink;

namespace ConntrackTuning.Engine.Events;

/// <summary>One ctnetlink event as parsed, before it becomes an output object (mutable, filled in place, like <see cref="EntryRecord"/>).</summary>
internal struct EventRecord
{
    public ConntrackEventType Type;

    /// <summary>The entry for connection events; for expectations Original is the expected tuple and Reply is unset.</summary>
    public EntryRecord Entry;

    /// <summary>The master connection of an expectation.</summary>
    public EntryTuple Master;

    public bool HasMaster;

    /// <summary>CTA_TIMESTAMP_EVENT: when the kernel raised the event, ns since the epoch; 0 when absent.</summary>
    public ulong EventNs;

    /// <summary>CTA_TIMESTAMP start and (destroy only) stop, ns since the epoch; 0 when absent.</summary>
    public ulong StartNs;

    public ulong StopNs;

    public bool IsExpectation => Type is ConntrackEventType.ExpectNew or ConntrackEventType.ExpectUpdate or ConntrackEventType.ExpectDestroy;
}

/// <summary>
/// Turns the messages of an event datagram into <see cref="EventRecord"/>s. A connection event is an entry
/// message (CTNETLINK.md §4) with the event in its type and flags: IPCTNL_MSG_CT_NEW with NLM_F_CREATE|NLM_F_EXCL
/// for new, without them for update, IPCTNL_MSG_CT_DELETE for destroy. Expectation events are the same on
/// subsystem 2. The entry attributes are read by <see cref="CtnetlinkEntryParser"/>, as in a dump.
/// </summary>
internal static class EventParser
{
    /// <summary>The event a message type and its flags stand for, or null for anything else (control messages, other subsystems).</summary>
    public static ConntrackEventType? Classify(ushort type, ushort flags)
    {
        bool created = (flags & (NetlinkWire.FlagCreate | NetlinkWire.FlagExcl)) != 0;
        return (type >> 8, type & 0xFF) switch
        {
            (1, 0) => created ? ConntrackEventType.New : ConntrackEventType.Update,
            (1, 2) => ConntrackEventType.Destroy,
            (2, 0) => created ? ConntrackEventType.ExpectNew : ConntrackEventType.ExpectUpdate,
            (2, 2) => ConntrackEventType.ExpectDestroy,
            _ => null,
        };
    }

    /// <param name="message">One whole netlink message, header included.</param>
    public static bool TryParse(ReadOnlySpan<byte> message, ref EventRecord e, long nowUnixSeconds)
    {
        if (message.Length < NetlinkWire.AttributesStart
            || Classify(NetlinkWire.H16(message[4..]), NetlinkWire.H16(message[6..])) is not { } type)
        {
            return false;
        }

        e.Type = type;
        e.HasMaster = false;
        e.Master = default;
        e.EventNs = e.StartNs = e.StopNs = 0;
        if (e.IsExpectation)
        {
            return TryExpectation(message, ref e);
        }

        if (!CtnetlinkEntryParser.TryParse(message, ref e.Entry, nowUnixSeconds))
        {
            return false;
        }

        // Events carry CTA_MARK only when it is set or changed: absent means 0 (CTNETLINK.md §4.1).
        e.Entry.HasMark = true;
        var attrs = AttributeReader.OfMessage(message);
        while (attrs.Next())
        {
            if (attrs.Type == NetlinkWire.CtaTimestampEvent && attrs.Payload.Length >= 8)
            {
                e.EventNs = BinaryPrimitives.ReadUInt64BigEndian(attrs.Payload);
            }
            else if (attrs.Type == NetlinkWire.CtaTimestamp)
            {
                var stamps = new AttributeReader(attrs.Payload);
                while (stamps.Next())
                {
                    if (stamps.Payload.Length >= 8 && stamps.Type is 1 or 2)
                    {
                        ulong ns = BinaryPrimitives.ReadUInt64BigEndian(stamps.Payload);
                        if (stamps.Type == 1)
                        {
                            e.StartNs = ns;
                        }
                        else
                        {
                            e.StopNs = ns;
                        }
                    }
                }
            }
        }

        return true;
    }

    private static bool TryExpectation(ReadOnlySpan<byte> message, ref EventRecord e)
    {
        ref EntryRecord r = ref e.Entry;
        r.Clear();
        r.Family = message[16];
        if (r.Family is not (2 or 10))
        {
            return false;
        }

        bool hasTuple = false;
        var attrs = AttributeReader.OfMessage(message);
        while (attrs.Next())
        {
            ReadOnlySpan<byte> p = attrs.Payload;
            switch (attrs.Type)
            {
                case NetlinkWire.CtaExpectTuple:
                    hasTuple = CtnetlinkTupleParser.TryTuple(p, r.Family, ref r.Original, out r.Protocol);
                    if (!hasTuple)
                    {
                        return false;
                    }

                    break;
                case NetlinkWire.CtaExpectMaster:
                    e.Master.Zone = -1;
                    e.HasMaster = CtnetlinkTupleParser.TryTuple(p, r.Family, ref e.Master, out _);
                    if (!e.HasMaster)
                    {
                        return false;
                    }

                    break;
                case NetlinkWire.CtaExpectTimeout when p.Length >= 4:
                    r.Timeout = BinaryPrimitives.ReadUInt32BigEndian(p);
                    break;
                case NetlinkWire.CtaExpectId when p.Length >= 4:
                    r.Id = BinaryPrimitives.ReadUInt32BigEndian(p);
                    r.HasId = true;
                    break;
                case NetlinkWire.CtaExpectZone when p.Length >= 2:
                    r.Zone = BinaryPrimitives.ReadUInt16BigEndian(p);
                    break;
                case NetlinkWire.CtaExpectHelpName:
                    int nul = p.IndexOf((byte)0);
                    r.Helper = System.Text.Encoding.UTF8.GetString(nul < 0 ? p : p[..nul]);
                    break;
                default:
                    break;
            }
        }

        // An expectation has no reply tuple and no status; the filters see the expected tuple as the original one.
        r.Status = EntryRecord.StatusConfirmed;
        return !attrs.Malformed && hasTuple;
    }
}
