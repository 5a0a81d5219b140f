using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Events;
using ConntrackTuning.Engine.Netlink;
using ConntrackTuning.Engine.Platform;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// The classic BPF program of the event socket, run here by a small interpreter of the instructions it uses
/// (with the kernel's nla_find semantics for the netlink ancillary loads) on event messages built like the
/// kernel's: for every entry and every filter the program can decide, its verdict must be the user-space
/// filter's, and it must never reject an event the user-space filter accepts. The real-kernel Pester test
/// (GetConntrackEvent.Tests.ps1) shows the kernel runs it.
/// </summary>
public class EventSocketFilterTests
{
    private static readonly ConntrackEventType[] NewUpdateDestroy = [ConntrackEventType.New, ConntrackEventType.Update, ConntrackEventType.Destroy];

    private static EntryRecord Entry(byte family, byte protocol, UInt128 source, UInt128 destination, ushort sport, ushort dport,
        uint status = EntryRecord.StatusConfirmed, uint mark = 0)
    {
        var r = default(EntryRecord);
        r.Clear();
        r.Family = family;
        r.Protocol = protocol;
        r.Original.Source = source;
        r.Original.Destination = destination;
        r.Original.HasSource = r.Original.HasDestination = true;
        if (protocol is 6 or 17)
        {
            r.Original.SourcePort = sport;
            r.Original.DestinationPort = dport;
            r.Original.HasPorts = true;
        }
        else
        {
            r.Original.IcmpType = 8;
            r.Original.HasIcmp = true;
        }

        r.Status = status;
        r.Mark = mark;
        return r;
    }

    // An event message as ctnetlink sends one: the original tuple, CTA_STATUS, and CTA_MARK only when set.
    private static byte[] Message(ref EntryRecord r, ConntrackEventType type)
    {
        var b = new byte[512];
        int n = CtnetlinkDeleter.WriteDelete(b, 1, ref r);
        ushort msgType = type == ConntrackEventType.Destroy ? (ushort)0x0102 : (ushort)0x0100;
        NetlinkWire.WriteH16(b.AsSpan(4), msgType);
        NetlinkWire.WriteH16(b.AsSpan(6), type == ConntrackEventType.New ? (ushort)0x0600 : (ushort)0);
        n = Be32Attribute(b, n, 3, r.Status);
        if (r.Mark != 0)
        {
            n = Be32Attribute(b, n, 8, r.Mark);
        }

        NetlinkWire.WriteH32(b, (uint)n);
        return b[..n];
    }

    private static int Be32Attribute(byte[] b, int o, ushort type, uint value)
    {
        NetlinkWire.WriteH16(b.AsSpan(o), 8);
        NetlinkWire.WriteH16(b.AsSpan(o + 2), type);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(o + 4), value);
        return o + 8;
    }

    private static EntryFilter Filter(string[]? protocols = null, string[]? sources = null, string[]? destinations = null, int[]? ports = null,
        int[]? sports = null, int[]? dports = null, string? mark = null, bool unreplied = false, bool assured = false, string? family = null) =>
        EntryFilter.Parse(family, protocols, null, sources, destinations, ports, sports, dports, mark, null, unreplied, assured);

    private static IEnumerable<EntryRecord> Entries()
    {
        UInt128 v6a = UInt128.Parse("42540766411282592856903984951653826561"); // 2001:db8::1
        foreach (byte protocol in new byte[] { 6, 17, 1 })
        {
            foreach (ushort dport in new ushort[] { 53, 80, 9000 })
            {
                yield return Entry(2, protocol, 0x7F000001, 0x7F010203, 40000, dport);
                yield return Entry(2, protocol, 0x0A000005, 0xC0A80101, 53, dport, EntryRecord.StatusConfirmed | EntryRecord.StatusSeenReply | EntryRecord.StatusAssured, 0x10);
                yield return Entry(10, protocol, v6a, v6a + 1, 80, dport, EntryRecord.StatusConfirmed | EntryRecord.StatusSeenReply, 0x11);
                yield return Entry(10, protocol, 1, 1, 9000, dport);
            }
        }
    }

    public static TheoryData<string> Filters() =>
    [
        "protocol udp", "protocol tcp,icmp", "dport 53", "dport 53,9000", "sport 40000", "port 80", "port 53,9000",
        "source 127.0.0.0/8", "source 10.0.0.5", "destination 192.168.0.0/16,127.1.2.3", "source 2001:db8::/32", "destination ::1",
        "source 127.0.0.1,::1", "mark 16", "mark 16/0xf0", "unreplied", "assured", "unreplied,assured", "family IPv6",
        "protocol udp dport 9000 destination 127.0.0.0/8", "protocol tcp,udp port 80 source 2001:db8::/32 mark 17",
    ];

    private static EntryFilter Build(string spec)
    {
        string[] t = spec.Split(' ');
        string[]? protocols = null, sources = null, destinations = null;
        int[]? ports = null, sports = null, dports = null;
        string? mark = null, family = null;
        bool unreplied = false, assured = false;
        for (int i = 0; i < t.Length; i++)
        {
            switch (t[i])
            {
                case "protocol": protocols = t[++i].Split(','); break;
                case "source": sources = t[++i].Split(','); break;
                case "destination": destinations = t[++i].Split(','); break;
                case "port": ports = Array.ConvertAll(t[++i].Split(','), int.Parse); break;
                case "sport": sports = Array.ConvertAll(t[++i].Split(','), int.Parse); break;
                case "dport": dports = Array.ConvertAll(t[++i].Split(','), int.Parse); break;
                case "mark": mark = t[++i]; break;
                case "family": family = t[++i]; break;
                case "unreplied": unreplied = true; break;
                case "assured": assured = true; break;
                case "unreplied,assured": unreplied = assured = true; break;
                default: throw new ArgumentException(t[i]);
            }
        }

        return Filter(protocols, sources, destinations, ports, sports, dports, mark, unreplied, assured, family);
    }

    [Theory]
    [MemberData(nameof(Filters))]
    public void The_program_decides_every_event_as_the_user_space_filter_does(string spec)
    {
        EntryFilter filter = Build(spec);
        var compiled = EventSocketFilter.Compile(NewUpdateDestroy, filter);
        Assert.NotNull(compiled);
        int checkedEvents = 0;
        foreach (EntryRecord e in Entries())
        {
            EntryRecord r = e;
            byte[] message = Message(ref r, ConntrackEventType.New);
            bool expected = filter.Matches(ref r);
            bool verdict = Bpf.Run(compiled.Value.Program, message) != 0;
            Assert.True(expected == verdict, $"{spec}: family {r.Family} protocol {r.Protocol} dport {r.Original.DestinationPort} source {r.Original.Source:x}: user space {expected}, program {verdict}");
            checkedEvents++;
        }

        Assert.Equal(36, checkedEvents);
    }

    [Fact]
    public void The_program_keeps_only_the_event_types_asked_for()
    {
        var compiled = EventSocketFilter.Compile([ConntrackEventType.New], Filter(protocols: ["udp"]))!.Value;
        EntryRecord r = Entry(2, 17, 0x7F000001, 0x7F000002, 1, 2);
        Assert.NotEqual(0u, Bpf.Run(compiled.Program, Message(ref r, ConntrackEventType.New)));
        Assert.Equal(0u, Bpf.Run(compiled.Program, Message(ref r, ConntrackEventType.Update)));
        Assert.Equal(0u, Bpf.Run(compiled.Program, Message(ref r, ConntrackEventType.Destroy)));
    }

    [Fact]
    public void Expectation_events_and_filters_it_cannot_decide_are_left_to_user_space()
    {
        // State and zone are not in the program; with only those, no program is attached at all.
        Assert.Null(EventSocketFilter.Compile(NewUpdateDestroy, EntryFilter.Parse(null, null, ["ESTABLISHED"], null, null, null, null, null, null, 3, false, false)));
        Assert.Null(EventSocketFilter.Compile(NewUpdateDestroy, EntryFilter.None));
        var compiled = EventSocketFilter.Compile([ConntrackEventType.ExpectNew], Filter(protocols: ["tcp"]))!.Value;
        EntryRecord r = Entry(2, 17, 1, 2, 3, 4);
        byte[] expectation = Message(ref r, ConntrackEventType.New);
        NetlinkWire.WriteH16(expectation.AsSpan(4), 0x0200);
        Assert.NotEqual(0u, Bpf.Run(compiled.Program, expectation));
    }

    [Fact]
    public void Many_alternatives_still_fit_the_8_bit_jumps()
    {
        int[] ports = new int[64];
        for (int i = 0; i < ports.Length; i++)
        {
            ports[i] = 1000 + i;
        }

        var sources = new List<string>();
        for (int i = 0; i < 24; i++)
        {
            sources.Add($"10.{i}.0.0/16");
        }

        for (int i = 0; i < 8; i++)
        {
            sources.Add($"2001:db8:{i}::/48");
        }

        var compiled = EventSocketFilter.Compile(NewUpdateDestroy, Filter(protocols: ["udp"], sources: [.. sources], dports: ports))!.Value;
        EntryRecord yes = Entry(2, 17, 0x0A170001, 2, 5, 1063);
        EntryRecord no = Entry(2, 17, 0x0A180001, 2, 5, 1063);
        Assert.NotEqual(0u, Bpf.Run(compiled.Program, Message(ref yes, ConntrackEventType.New)));
        Assert.Equal(0u, Bpf.Run(compiled.Program, Message(ref no, ConntrackEventType.New)));
    }

    /// <summary>The classic BPF instructions the compiler emits, with the kernel's netlink ancillary loads.</summary>
    private static class Bpf
    {
        public static uint Run(Native.SockFilter[] program, byte[] p)
        {
            uint a = 0, x = 0;
            var m = new uint[16];
            for (int pc = 0; pc < program.Length; pc++)
            {
                Native.SockFilter i = program[pc];
                switch (i.Code)
                {
                    case 0x00: a = i.K; break;
                    case 0x01: x = i.K; break;
                    case 0x02: m[i.K] = a; break;
                    case 0x60: a = m[i.K]; break;
                    case 0x20 when i.K == 0xFFFFF00C: a = Find(p, (int)a, p.Length, x); break;
                    case 0x20 when i.K == 0xFFFFF010: a = FindNested(p, (int)a, x); break;
                    case 0x30: if (i.K >= p.Length) { return 0; } a = p[i.K]; break;
                    case 0x40: if (x + i.K + 4 > p.Length) { return 0; } a = BinaryPrimitives.ReadUInt32BigEndian(p.AsSpan((int)(x + i.K))); break;
                    case 0x48: if (x + i.K + 2 > p.Length) { return 0; } a = BinaryPrimitives.ReadUInt16BigEndian(p.AsSpan((int)(x + i.K))); break;
                    case 0x50: if (x + i.K >= p.Length) { return 0; } a = p[x + i.K]; break;
                    case 0x54: a &= i.K; break;
                    case 0x05: pc += (int)i.K; break;
                    case 0x15: pc += a == i.K ? i.JumpTrue : i.JumpFalse; break;
                    case 0x45: pc += (a & i.K) != 0 ? i.JumpTrue : i.JumpFalse; break;
                    case 0x06: return i.K;
                    case 0x07: x = a; break;
                    default: throw new InvalidOperationException($"instruction 0x{i.Code:x} is not interpreted here");
                }
            }

            throw new InvalidOperationException("the program ran off its end");
        }

        // nla_find from offset `from` to `end`: the offset of the first attribute of type x, 0 when none.
        private static uint Find(byte[] p, int from, int end, uint x)
        {
            for (int o = from; o + 4 <= end;)
            {
                int len = NetlinkWire.H16(p.AsSpan(o));
                if (len < 4 || o + len > end)
                {
                    return 0;
                }

                if ((NetlinkWire.H16(p.AsSpan(o + 2)) & 0x3FFF) == x)
                {
                    return (uint)o;
                }

                o += NetlinkWire.Align4(len);
            }

            return 0;
        }

        private static uint FindNested(byte[] p, int nest, uint x)
        {
            if (nest + 4 > p.Length)
            {
                return 0;
            }

            int len = NetlinkWire.H16(p.AsSpan(nest));
            return len < 4 || nest + len > p.Length ? 0 : Find(p, nest + 4, nest + len, x);
        }
    }
}
