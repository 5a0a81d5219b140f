using System;
using System.Buffers.Binary;
using ConntrackTuning.Engine.Events;
using ConntrackTuning.Engine.Netlink;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>ctnetlink event messages: which event a type and its flags stand for, and what is read from them.</summary>
public class EventParserTests
{
    private const ushort Create = 0x400;
    private const ushort Excl = 0x200;

    [Theory]
    [InlineData(0x0100, Create | Excl, ConntrackEventType.New)]
    [InlineData(0x0100, 0, ConntrackEventType.Update)]
    [InlineData(0x0102, 0, ConntrackEventType.Destroy)]
    [InlineData(0x0200, Create | Excl, ConntrackEventType.ExpectNew)]
    [InlineData(0x0202, 0, ConntrackEventType.ExpectDestroy)]
    public void ClassifiesTheMessageTypeAndFlagsTheKernelSends(ushort type, ushort flags, ConntrackEventType expected) =>
        Assert.Equal(expected, EventParser.Classify(type, flags));

    [Theory]
    [InlineData(0x0003, 0)]
    [InlineData(0x0104, 0)]
    [InlineData(0x0101, 0)]
    [InlineData(0x0300, Create)]
    public void LeavesOtherMessagesAlone(ushort type, ushort flags) => Assert.Null(EventParser.Classify(type, flags));

    // A UDP 127.0.0.1:40000 -> 127.1.0.1:9000 destroy event as ctnetlink_conntrack_event builds it with acct and
    // timestamps on: tuples, status, counters, timestamps, and CTA_TIMESTAMP_EVENT; no CTA_MARK (the mark is 0).
    private static byte[] DestroyEvent()
    {
        var b = new RequestBuilder(0x0102, 0, 0, 2);
        Tuple(b, NetlinkWire.CtaTupleOrig, 0x7f000001, 0x7f010001, 40000, 9000);
        Tuple(b, NetlinkWire.CtaTupleReply, 0x7f010001, 0x7f000001, 9000, 40000);
        b.BigEndian32(NetlinkWire.CtaId, 0x12345678);
        b.BigEndian32(NetlinkWire.CtaStatus, 0x08);
        b.BeginNest(NetlinkWire.CtaCountersOrig);
        b.Attribute(1, Be64(1));
        b.Attribute(2, Be64(29));
        b.EndNest();
        b.BeginNest(NetlinkWire.CtaTimestamp);
        b.Attribute(1, Be64(1_700_000_000_000_000_000));
        b.Attribute(2, Be64(1_700_000_030_500_000_000));
        b.EndNest();
        b.Attribute(27, Be64(1_700_000_030_600_000_000));
        return b.ToArray();
    }

    [Fact]
    public void ReadsADestroyEventWithCountersAndStamps()
    {
        var e = new EventRecord();
        Assert.True(EventParser.TryParse(DestroyEvent(), ref e, 1_700_000_031));
        Assert.Equal(ConntrackEventType.Destroy, e.Type);
        Assert.Equal(1_700_000_030_600_000_000UL, e.EventNs);
        Assert.Equal(1_700_000_000_000_000_000UL, e.StartNs);
        Assert.Equal(1_700_000_030_500_000_000UL, e.StopNs);
        var o = new ConntrackEvent(ref e, DateTimeOffset.UnixEpoch);
        Assert.Equal("udp", o.Protocol);
        Assert.Equal("127.0.0.1", o.Source);
        Assert.Equal("127.1.0.1", o.Destination);
        Assert.Equal(40000, o.SourcePort);
        Assert.Equal(9000, o.ReplySourcePort);
        Assert.Equal(0, o.Mark);
        Assert.Equal("CONFIRMED", o.Status);
        Assert.True(o.Unreplied);
        Assert.Equal(1, o.OriginalPackets);
        Assert.Equal(29, o.OriginalBytes);
        Assert.Equal(0, o.ReplyBytes);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_030_600), o.KernelTime);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_030_500), o.StopTime);
        Assert.Equal(0x12345678, o.Id);
    }

    [Fact]
    public void ReadsAnExpectationEventWithItsMasterAndHelper()
    {
        // An ftp data expectation: expected 127.0.0.1 -> 127.0.0.2:50000, master 127.0.0.1:40000 -> 127.0.0.2:21.
        var b = new RequestBuilder(0x0200, Create | Excl, 0, 2);
        Tuple(b, 1, 0x7f000001, 0x7f000002, 40000, 21);
        Tuple(b, 2, 0x7f000001, 0x7f000002, 0, 50000);
        b.BigEndian32(4, 300);
        b.BigEndian32(5, 7);
        b.Attribute(6, "ftp\0"u8);
        var e = new EventRecord();
        Assert.True(EventParser.TryParse(b.ToArray(), ref e, 0));
        var o = new ConntrackEvent(ref e, DateTimeOffset.UnixEpoch);
        Assert.Equal(ConntrackEventType.ExpectNew, o.Type);
        Assert.Equal("127.0.0.2", o.Destination);
        Assert.Equal(50000, o.DestinationPort);
        Assert.Equal("127.0.0.1", o.MasterSource);
        Assert.Equal(21, o.MasterDestinationPort);
        Assert.Equal("ftp", o.Helper);
        Assert.Equal(300, o.Timeout);
        Assert.Null(o.Status);
        Assert.Null(o.ReplySource);
    }

    [Fact]
    public void RefusesADamagedEventRatherThanReadingPastIt()
    {
        byte[] message = DestroyEvent();
        // The original tuple's length now runs past the end of the message.
        NetlinkWire.WriteH16(message.AsSpan(NetlinkWire.AttributesStart), 0x7fff);
        var e = new EventRecord();
        Assert.False(EventParser.TryParse(message, ref e, 0));
    }

    private static void Tuple(RequestBuilder b, int type, uint src, uint dst, ushort sport, ushort dport)
    {
        b.BeginNest(type);
        b.BeginNest(NetlinkWire.CtaTupleIp);
        b.BigEndian32(NetlinkWire.CtaIpV4Src, src);
        b.BigEndian32(NetlinkWire.CtaIpV4Dst, dst);
        b.EndNest();
        b.BeginNest(NetlinkWire.CtaTupleProto);
        b.U8(NetlinkWire.CtaProtoNum, 17);
        b.BigEndian16(NetlinkWire.CtaProtoSrcPort, sport);
        b.BigEndian16(NetlinkWire.CtaProtoDstPort, dport);
        b.EndNest();
        b.EndNest();
    }

    private static byte[] Be64(ulong v)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, v);
        return bytes;
    }
}
