using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Netlink;

namespace ConntrackTuning.Engine.Events;

/// <summary>
/// Compiles the part of an <see cref="EntryFilter"/> that a classic BPF socket filter can decide into a program
/// for SO_ATTACH_FILTER on the event socket, as conntrack-tools does for its -E filters: the kernel then drops
/// unmatched events before they are queued, so they cost the listener nothing and cannot overflow its queue.
/// The program walks the ctnetlink attributes with the netlink ancillary loads (SKF_AD_NLATTR, SKF_AD_NLATTR_NEST).
/// It only ever rejects an event the user-space filter would reject too: what it cannot decide (state, zone,
/// an attribute it does not find, expectation events) it accepts, and <see cref="EntryFilter.Matches"/> still
/// checks every event that arrives.
/// </summary>
internal static class EventSocketFilter
{
    // Alternatives beyond these are left to user space: a program's jumps reach at most 255 instructions.
    private const int MaxValues = 64;
    private const int MaxBlocks4 = 24;
    private const int MaxBlocks6 = 8;

    private const uint Accept = uint.MaxValue;

    private const ushort LdImm = 0x00, LdxImm = 0x01, St = 0x02, LdMem = 0x60;
    private const ushort LdAbsW = 0x20, LdAbsB = 0x30, LdIndW = 0x40, LdIndH = 0x48, LdIndB = 0x50;
    private const ushort AndK = 0x54, Ja = 0x05, JeqK = 0x15, JsetK = 0x45, RetK = 0x06, Tax = 0x07;

    // SKF_AD_OFF + SKF_AD_NLATTR / SKF_AD_NLATTR_NEST: A = offset of the attribute of type X found from offset A
    // (in the nest at offset A), 0 when there is none.
    private const uint NlAttr = 0xFFFFF000u + 12;
    private const uint NlAttrNest = 0xFFFFF000u + 16;

    // Scratch memory: M[0] CTA_TUPLE_ORIG, M[1] its CTA_TUPLE_PROTO, M[2] its CTA_TUPLE_IP (offsets). TopLevel,
    // no slot, says an attribute is looked for among the message's own.
    private const uint MemOrig = 0, MemProto = 1, MemIp = 2, TopLevel = uint.MaxValue;

    /// <summary>
    /// The program for these event types and this filter, and what it decides ("protocol, source port"), or null
    /// when it would decide nothing beyond the multicast groups.
    /// </summary>
    public static (Native.SockFilter[] Program, string Description)? Compile(IReadOnlyList<ConntrackEventType> types, EntryFilter filter)
    {
        ArgumentNullException.ThrowIfNull(types);
        ArgumentNullException.ThrowIfNull(filter);
        var a = new Assembler();
        var decided = new List<string>();

        // The message: the ctnetlink subsystem is the high byte of nlmsg_type (host order), the event type the low one.
        int subsysOffset = BitConverter.IsLittleEndian ? 5 : 4;
        int typeOffset = BitConverter.IsLittleEndian ? 4 : 5;
        int flagsHighOffset = BitConverter.IsLittleEndian ? 7 : 6;
        int connection = a.Label(), other = a.Label();
        a.Emit(LdAbsB, (uint)subsysOffset);
        a.Jump(JeqK, 1, connection, other);
        a.Place(other);
        // Expectations (subsystem 2) and anything else: the user-space filter decides.
        a.Emit(RetK, Accept);
        a.Place(connection);

        bool wantNew = types.Contains(ConntrackEventType.New), wantUpdate = types.Contains(ConntrackEventType.Update), wantDestroy = types.Contains(ConntrackEventType.Destroy);
        {
            int pass = a.Label(), reject = a.Label(), create = a.Label(), destroy = a.Label(), flags = a.Label();
            a.Emit(LdAbsB, (uint)typeOffset);
            a.Jump(JeqK, 0, flags, destroy);
            a.Place(destroy);
            a.Jump(JeqK, 2, wantDestroy ? pass : reject, reject);
            a.Place(flags);
            // NLM_F_CREATE | NLM_F_EXCL (0x400 | 0x200) mark a new entry; an update has neither.
            a.Emit(LdAbsB, (uint)flagsHighOffset);
            a.Jump(JsetK, 0x06, create, wantUpdate ? pass : reject);
            a.Place(create);
            a.Jump(Ja, 0, wantNew ? pass : reject, wantNew ? pass : reject);
            a.Place(reject);
            a.Emit(RetK, 0);
            a.Place(pass);
            decided.Add("event type");
        }

        byte family = filter.Family != 0 ? filter.Family : filter.ImpliedFamily;
        if (family != 0)
        {
            int pass = a.Label(), reject = a.Label();
            a.Emit(LdAbsB, NetlinkWire.FamilyOffset);
            a.Jump(JeqK, family, pass, reject);
            a.Place(reject);
            a.Emit(RetK, 0);
            a.Place(pass);
            decided.Add("family");
        }

        bool protocols = filter.Protocols.Count is > 0 and <= MaxValues;
        bool sports = filter.SourcePorts.Count is > 0 and <= MaxValues;
        bool dports = filter.DestinationPorts.Count is > 0 and <= MaxValues;
        bool ports = filter.Ports.Count is > 0 and <= MaxValues / 2;
        bool sources = Fits(filter.Sources);
        bool destinations = Fits(filter.Destinations);
        if (protocols || sports || dports || ports || sources || destinations)
        {
            Locate(a, TopLevel, NetlinkWire.CtaTupleOrig, MemOrig);
        }

        if (protocols || sports || dports || ports)
        {
            Locate(a, MemOrig, NetlinkWire.CtaTupleProto, MemProto);
        }

        if (protocols)
        {
            int pass = a.Label();
            Find(a, MemProto, NetlinkWire.CtaProtoNum);
            a.Emit(Tax);
            a.Emit(LdIndB, 4);
            AnyOf(a, filter.Protocols.Select(p => (uint)p), pass);
            a.Emit(RetK, 0);
            a.Place(pass);
            decided.Add("protocol");
        }

        if (sports)
        {
            PortClause(a, [NetlinkWire.CtaProtoSrcPort], filter.SourcePorts);
            decided.Add("source port");
        }

        if (dports)
        {
            PortClause(a, [NetlinkWire.CtaProtoDstPort], filter.DestinationPorts);
            decided.Add("destination port");
        }

        if (ports)
        {
            PortClause(a, [NetlinkWire.CtaProtoSrcPort, NetlinkWire.CtaProtoDstPort], filter.Ports);
            decided.Add("port");
        }

        if (sources || destinations)
        {
            Locate(a, MemOrig, NetlinkWire.CtaTupleIp, MemIp);
        }

        if (sources)
        {
            AddressClause(a, filter.Sources, source: true);
            decided.Add("source address");
        }

        if (destinations)
        {
            AddressClause(a, filter.Destinations, source: false);
            decided.Add("destination address");
        }

        if (filter.Mark is { } mark)
        {
            // Events carry CTA_MARK only when the mark is set: absent is 0.
            TopLevelMaskClause(a, NetlinkWire.CtaMark, mark.Value, mark.Mask);
            decided.Add("mark");
        }

        if (filter.Unreplied || filter.Assured)
        {
            uint mask = (filter.Unreplied ? EntryRecord.StatusSeenReply : 0) | (filter.Assured ? EntryRecord.StatusAssured : 0);
            uint value = filter.Assured ? EntryRecord.StatusAssured : 0;
            TopLevelMaskClause(a, NetlinkWire.CtaStatus, value, mask);
            decided.Add("status");
        }

        a.Emit(RetK, Accept);
        // The event type alone repeats what the multicast groups already select: no program for that.
        return decided.Count == 1 ? null : (a.Build(), string.Join(", ", decided));
    }

    private static bool Fits(IReadOnlyList<AddressBlock> blocks) =>
        blocks.Count > 0 && blocks.Count(b => !b.IPv6) <= MaxBlocks4 && blocks.Count(b => b.IPv6) <= MaxBlocks6;

    // M[to] = the offset of the attribute of type `type` (see Find); a message without it is accepted.
    private static void Locate(Assembler a, uint from, int type, uint to)
    {
        Find(a, from, type);
        a.Emit(St, to);
    }

    // A = the offset of the attribute of type `type` (see Load); a message without it is accepted (user space decides it).
    private static void Find(Assembler a, uint from, int type)
    {
        int unknown = a.Label(), found = a.Label();
        Load(a, from, type);
        a.Jump(JeqK, 0, unknown, found);
        a.Place(unknown);
        a.Emit(RetK, Accept);
        a.Place(found);
    }

    // A = the offset of the attribute of type `type` among the message's own attributes (from = TopLevel) or in
    // the nest whose offset is in M[from]; 0 when there is none.
    private static void Load(Assembler a, uint from, int type)
    {
        if (from == TopLevel)
        {
            a.Emit(LdImm, NetlinkWire.AttributesStart);
            a.Emit(LdxImm, (uint)type);
            a.Emit(LdAbsW, NlAttr);
        }
        else
        {
            a.Emit(LdMem, from);
            a.Emit(LdxImm, (uint)type);
            a.Emit(LdAbsW, NlAttrNest);
        }
    }

    // Jumps to `pass` when A equals one of the values; falls through otherwise.
    private static void AnyOf(Assembler a, IEnumerable<uint> values, int pass)
    {
        foreach (uint v in values.Distinct())
        {
            int next = a.Label();
            a.Jump(JeqK, v, pass, next);
            a.Place(next);
        }
    }

    // A port in one of the CTA_PROTO_*_PORT attributes (2 source, 3 destination) is one of the values. No port
    // attribute at all is a reject, as in user space (a port filter admits only entries that have ports).
    private static void PortClause(Assembler a, int[] attributes, IReadOnlyList<ushort> values)
    {
        int pass = a.Label();
        foreach (int attribute in attributes)
        {
            int found = a.Label(), next = a.Label();
            Load(a, MemProto, attribute);
            a.Jump(JeqK, 0, next, found);
            a.Place(found);
            a.Emit(Tax);
            a.Emit(LdIndH, 4);
            AnyOf(a, values.Select(v => (uint)v), pass);
            a.Place(next);
        }

        a.Emit(RetK, 0);
        a.Place(pass);
    }

    // The source (or destination) address is in one of the blocks of the entry's family.
    private static void AddressClause(Assembler a, IReadOnlyList<AddressBlock> blocks, bool source)
    {
        int pass = a.Label(), reject = a.Label(), v4 = a.Label(), notV4 = a.Label(), v6 = a.Label(), unknown = a.Label();
        a.Emit(LdAbsB, NetlinkWire.FamilyOffset);
        a.Jump(JeqK, 2, v4, notV4);
        a.Place(notV4);
        a.Jump(JeqK, 10, v6, unknown);
        a.Place(unknown);
        a.Emit(RetK, Accept);

        a.Place(v4);
        AddressFamilyBlocks(a, blocks.Where(b => !b.IPv6).ToArray(), source ? NetlinkWire.CtaIpV4Src : NetlinkWire.CtaIpV4Dst, 1, pass, reject);
        a.Place(v6);
        AddressFamilyBlocks(a, blocks.Where(b => b.IPv6).ToArray(), source ? NetlinkWire.CtaIpV6Src : NetlinkWire.CtaIpV6Dst, 4, pass, reject);
        a.Place(reject);
        a.Emit(RetK, 0);
        a.Place(pass);
    }

    private static void AddressFamilyBlocks(Assembler a, AddressBlock[] blocks, int attribute, int words, int pass, int reject)
    {
        if (blocks.Length == 0)
        {
            // No block of this family can hold the address.
            a.Jump(Ja, 0, reject, reject);
            return;
        }

        Find(a, MemIp, attribute);
        a.Emit(Tax);
        foreach (AddressBlock b in blocks)
        {
            int nextBlock = a.Label();
            for (int w = 0; w < words; w++)
            {
                int shift = 32 * (words - 1 - w);
                uint mask = (uint)(b.Mask >> shift);
                uint net = (uint)(b.Network >> shift) & mask;
                if (mask == 0)
                {
                    continue;
                }

                int nextWord = a.Label();
                a.Emit(LdIndW, (uint)(4 + (4 * w)));
                a.Emit(AndK, mask);
                a.Jump(JeqK, net, nextWord, nextBlock);
                a.Place(nextWord);
            }

            a.Jump(Ja, 0, pass, pass);
            a.Place(nextBlock);
        }

        a.Jump(Ja, 0, reject, reject);
    }

    // A top-level 32-bit attribute (CTA_MARK, CTA_STATUS) with (value & mask) == expected; absent counts as 0.
    private static void TopLevelMaskClause(Assembler a, int attribute, uint expected, uint mask)
    {
        int pass = a.Label(), reject = a.Label(), absent = a.Label(), found = a.Label();
        Load(a, TopLevel, attribute);
        a.Jump(JeqK, 0, absent, found);
        a.Place(absent);
        a.Jump(Ja, 0, expected == 0 ? pass : reject, reject);
        a.Place(found);
        a.Emit(Tax);
        a.Emit(LdIndW, 4);
        a.Emit(AndK, mask);
        a.Jump(JeqK, expected, pass, reject);
        a.Place(reject);
        a.Emit(RetK, 0);
        a.Place(pass);
    }

    /// <summary>Instructions with symbolic jump targets, resolved to the 8-bit relative offsets at the end.</summary>
    private sealed class Assembler
    {
        private readonly List<(ushort Code, int True, int False, uint K)> _code = [];
        private readonly List<int> _labels = [];

        public int Label()
        {
            _labels.Add(-1);
            return _labels.Count - 1;
        }

        public void Place(int label) => _labels[label] = _code.Count;

        public void Emit(ushort code, uint k = 0) => _code.Add((code, -1, -1, k));

        // A conditional jump, or (Ja) an unconditional one to `whenTrue`.
        public void Jump(ushort code, uint k, int whenTrue, int whenFalse) => _code.Add((code, whenTrue, whenFalse, k));

        public Native.SockFilter[] Build()
        {
            if (_code.Count > 4096)
            {
                throw new InvalidOperationException($"The event filter program has {_code.Count} instructions, more than the kernel's 4096.");
            }

            var program = new Native.SockFilter[_code.Count];
            for (int i = 0; i < _code.Count; i++)
            {
                (ushort code, int t, int f, uint k) = _code[i];
                if (code == Ja)
                {
                    program[i] = new Native.SockFilter { Code = code, K = (uint)Offset(i, t) };
                }
                else
                {
                    program[i] = new Native.SockFilter
                    {
                        Code = code,
                        JumpTrue = t < 0 ? (byte)0 : Short(i, t),
                        JumpFalse = f < 0 ? (byte)0 : Short(i, f),
                        K = k,
                    };
                }
            }

            return program;
        }

        private int Offset(int at, int label)
        {
            int target = _labels[label];
            if (target <= at)
            {
                throw new InvalidOperationException("An event filter jump goes backwards or to an unplaced label.");
            }

            return target - at - 1;
        }

        private byte Short(int at, int label)
        {
            int offset = Offset(at, label);
            return offset <= 255 ? (byte)offset : throw new InvalidOperationException($"An event filter jump spans {offset} instructions, more than 255.");
        }
    }
}
