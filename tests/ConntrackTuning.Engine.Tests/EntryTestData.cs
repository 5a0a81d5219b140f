using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Netlink;
using ConntrackTuning.Engine.Platform;

namespace ConntrackTuning.Engine.Tests;

/// <summary>The captures under Data/ (see Data/New-CtnetlinkCapture.ps1) and helpers to run them through the engine.</summary>
internal static class EntryTestData
{
    public static string Directory { get; } = Find();

    public static string File(string name) => Path.Combine(Directory, name);

    public static string[] Lines(string name) => System.IO.File.ReadAllLines(File(name));

    /// <summary>Every entry a capture's dump holds, as output objects, through the real client and parser.</summary>
    public static (List<ConntrackEntry> Entries, DumpOutcome Outcome) Dump(string capture, KernelFilter? filter = null)
    {
        using var client = new CtnetlinkClient(ReplayTransport.FromFile(File(capture)));
        var list = new List<ConntrackEntry>();
        DumpOutcome outcome = client.DumpEntries(filter ?? KernelFilter.None, (ref EntryRecord r) =>
        {
            list.Add(new ConntrackEntry(ref r));
            return true;
        });
        return (list, outcome);
    }

    /// <summary>Every entry of text lines (procfs or conntrack -L), with the read result.</summary>
    public static (List<ConntrackEntry> Entries, TextReadResult Result) Text(string text)
    {
        var list = new List<ConntrackEntry>();
        TextReadResult result = EntryFileReader.Read(new MemoryStream(Encoding.UTF8.GetBytes(text)), (ref EntryRecord r) =>
        {
            list.Add(new ConntrackEntry(ref r));
            return true;
        });
        return (list, result);
    }

    public static ConntrackEntry One(string line)
    {
        var r = default(EntryRecord);
        LineKind kind = EntryTextParser.Parse(Encoding.UTF8.GetBytes(line), ref r);
        return kind == LineKind.Entry ? new ConntrackEntry(ref r) : throw new InvalidDataException($"{kind}: {line}");
    }

    public static LineKind Kind(string line)
    {
        var r = default(EntryRecord);
        return EntryTextParser.Parse(Encoding.UTF8.GetBytes(line), ref r);
    }

    /// <summary>
    /// The identity of an entry without what changes by the second (timeout, age), so entries read from different
    /// sources at nearly the same moment compare equal.
    /// </summary>
    public static string Key(ConntrackEntry e) => string.Join(' ',
        e.Family, e.Protocol, e.State, e.Source, e.Destination, e.SourcePort, e.DestinationPort, e.ReplySource, e.ReplyDestination,
        e.ReplySourcePort, e.ReplyDestinationPort, e.IcmpType, e.IcmpCode, e.IcmpId, e.GreSourceKey, e.GreDestinationKey,
        e.Assured, e.Unreplied, e.Offloaded, e.Mark, e.Zone, e.OriginalZone, e.ReplyZone,
        e.OriginalPackets, e.OriginalBytes, e.ReplyPackets, e.ReplyBytes);

    private static string Find()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            string candidate = Path.Combine(dir, "tests", "ConntrackTuning.Engine.Tests", "Data");
            if (System.IO.Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("tests/ConntrackTuning.Engine.Tests/Data not found above " + AppContext.BaseDirectory);
    }

    /// <summary>A transport that answers from a list of datagrams built in the test, or fails with an errno.</summary>
    internal sealed class ScriptedTransport(params object[] replies) : INetlinkTransport
    {
        private readonly Queue<object> _replies = new(replies);

        public List<byte[]> Sent { get; } = [];

        public int? ClaimedLength { get; set; }

        public void Send(ReadOnlySpan<byte> request) => Sent.Add(request.ToArray());

        public int Receive(Span<byte> buffer)
        {
            object next = _replies.Count > 0 ? _replies.Dequeue() : Errno.EAGAIN;
            if (next is int errno)
            {
                throw new NetlinkErrnoException("recv", errno);
            }

            byte[] datagram = (byte[])next;
            uint seq = Sent.Count > 0 ? NetlinkWire.H32(Sent[^1].AsSpan(8)) : 0;
            byte[] copy = datagram.ToArray();
            for (int off = 0; off + 16 <= copy.Length;)
            {
                uint len = NetlinkWire.H32(copy.AsSpan(off));
                NetlinkWire.WriteH32(copy.AsSpan(off + 8), seq);
                if (len < 16)
                {
                    break;
                }

                off += NetlinkWire.Align4((int)Math.Min(len, int.MaxValue - 3));
            }

            copy.AsSpan(0, Math.Min(copy.Length, buffer.Length)).CopyTo(buffer);
            return ClaimedLength ?? copy.Length;
        }

        public void Dispose() { }
    }
}
