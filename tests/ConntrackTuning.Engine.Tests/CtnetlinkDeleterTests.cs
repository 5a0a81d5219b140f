using System;
using System.Collections.Generic;
using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Netlink;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>The delete messages Remove-ConntrackEntry sends, byte for byte, and how it reads the kernel's answers.</summary>
public class CtnetlinkDeleterTests
{
    private static EntryRecord Udp(ushort sport, uint? id = 0x15f11192, ushort zone = 0)
    {
        var r = default(EntryRecord);
        r.Clear();
        r.Family = 2;
        r.Protocol = 17;
        r.Original.Source = 0x7f000001;
        r.Original.Destination = 0x7f000002;
        r.Original.SourcePort = sport;
        r.Original.DestinationPort = 53;
        r.Original.HasPorts = true;
        r.Zone = zone;
        if (id is { } i)
        {
            r.Id = i;
            r.HasId = true;
        }

        return r;
    }

    [Fact]
    public void A_delete_names_the_original_tuple_and_the_id_in_the_kernels_byte_orders()
    {
        EntryRecord r = Udp(1001);
        var buffer = new byte[200];
        int n = CtnetlinkDeleter.WriteDelete(buffer, 7, ref r);
        Assert.Equal(
            "50000000" + "0201" + "0500" + "07000000" + "00000000" + "02000000"
            + "34000180" + "14000180" + "080001007F000001" + "080002007F000002"
            + "1C000280" + "0500010011000000" + "0600020003E90000" + "0600030000350000"
            + "08000C0015F11192",
            Convert.ToHexString(buffer, 0, n));
    }

    [Fact]
    public void A_delete_message_reads_back_as_the_same_entry_with_the_dump_parser()
    {
        EntryRecord r = Udp(40000, zone: 5);
        r.Original.Zone = -1;
        var buffer = new byte[200];
        int n = CtnetlinkDeleter.WriteDelete(buffer, 1, ref r);
        var back = default(EntryRecord);
        // The dump parser wants a reply tuple too; the original is what identifies the entry, so compare that.
        _ = CtnetlinkEntryParser.TryParse(buffer.AsSpan(0, n), ref back, 0);
        Assert.Equal(r.Original.Source, back.Original.Source);
        Assert.Equal(r.Original.Destination, back.Original.Destination);
        Assert.Equal(r.Original.SourcePort, back.Original.SourcePort);
        Assert.Equal(r.Original.DestinationPort, back.Original.DestinationPort);
        Assert.Equal(17, back.Protocol);
        Assert.Equal(5, back.Zone);
        Assert.Equal(r.Id, back.Id);
    }

    [Fact]
    public void Answers_are_matched_by_seq_ENOENT_is_already_gone_and_other_errors_fail()
    {
        var transport = new AnsweringTransport([0, -2, -22, 0]);
        var results = new List<(ushort Port, DeleteResult Result, int Errno)>();
        using var deleter = new CtnetlinkDeleter(transport, batchSize: 3,
            observer: (ref EntryRecord e, DeleteResult result, int errno) => results.Add((e.Original.SourcePort, result, errno)));
        for (ushort p = 1; p <= 4; p++)
        {
            EntryRecord r = Udp(p);
            deleter.Add(ref r);
        }

        Assert.Equal(1, transport.Sends);
        deleter.Flush();
        Assert.Equal(2, transport.Sends);
        Assert.Equal(
            [(1, DeleteResult.Deleted, 0), (2, DeleteResult.AlreadyGone, 2), (3, DeleteResult.Failed, 22), (4, DeleteResult.Deleted, 0)],
            results);
        Assert.Equal(2, deleter.Deleted);
        Assert.Equal(1, deleter.AlreadyGone);
        Assert.Equal(1, deleter.Failed);
        Assert.Equal(22, deleter.FirstFailureErrno);
        // Only the last message of each send asks for an ACK; the kernel answers the failed ones unasked.
        Assert.Equal([false, false, true, true], transport.Acked);
    }

    /// <summary>
    /// Answers as the kernel does (netlink_rcv_skb): each message of a send in order, with the next error code,
    /// when the message asks for an ACK or failed; one datagram per answer.
    /// </summary>
    private sealed class AnsweringTransport(int[] errors) : INetlinkTransport
    {
        private readonly Queue<byte[]> _answers = new();
        private int _next;

        public int Sends { get; private set; }

        /// <summary>Whether each message sent carried NLM_F_ACK.</summary>
        public List<bool> Acked { get; } = [];

        public void Send(ReadOnlySpan<byte> request)
        {
            Sends++;
            for (int off = 0; off < request.Length;)
            {
                int len = (int)NetlinkWire.H32(request[off..]);
                bool ack = (NetlinkWire.H16(request[(off + 6)..]) & NetlinkWire.FlagAck) != 0;
                int error = errors[_next++];
                Acked.Add(ack);
                if (ack || error != 0)
                {
                    var answer = new byte[36];
                    NetlinkWire.WriteH32(answer, 36);
                    NetlinkWire.WriteH16(answer.AsSpan(4), NetlinkWire.NlmsgError);
                    request.Slice(off + 8, 4).CopyTo(answer.AsSpan(8));
                    NetlinkWire.WriteH32(answer.AsSpan(16), (uint)error);
                    request.Slice(off, 16).CopyTo(answer.AsSpan(20));
                    _answers.Enqueue(answer);
                }

                off += NetlinkWire.Align4(len);
            }
        }

        public int Receive(Span<byte> buffer)
        {
            byte[] a = _answers.Dequeue();
            a.CopyTo(buffer);
            return a.Length;
        }

        public void Dispose() { }
    }
}
