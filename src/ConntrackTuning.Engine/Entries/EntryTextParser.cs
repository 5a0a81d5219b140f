namespace ConntrackTuning.Engine.Entries;

/// <summary>
/// Parses one line of the kernel's table file or of saved conntrack -L output into an <see cref="EntryRecord"/>.
/// Every era shares one grammar: optional L3 columns ("ipv4 2", absent on 2.4 ip_conntrack and in conntrack -L),
/// the L4 name and number, an optional timeout (absent for offloaded flows), an optional protocol state, the
/// original tuple with optional zone and counters, [UNREPLIED], the reply tuple, one of [ASSURED], [OFFLOAD],
/// [HW_OFFLOAD], then mark=, secmark=, secctx=, zone=, delta-time=, helper=, use=, id= and labels= as present.
/// It works on the UTF-8 bytes of the line and allocates nothing for ordinary entries.
/// </summary>
internal static class EntryTextParser
{
    public static LineKind Parse(ReadOnlySpan<byte> line, ref EntryRecord r)
    {
        while (line.Length > 0 && (line[^1] == (byte)'\r' || line[^1] == (byte)' ' || line[^1] == (byte)'\t'))
        {
            line = line[..^1];
        }

        int pos = 0;
        ReadOnlySpan<byte> tok = EntryTokens.Next(line, ref pos);
        if (tok.IsEmpty)
        {
            return LineKind.Ignored;
        }

        if (tok.SequenceEqual("EXPECTING:"u8) || tok.SequenceEqual("conntrack"u8))
        {
            return LineKind.Ignored;
        }

        r.Clear();

        // conntrack -E prefixes an event type; a saved event log is read like a listing.
        if (tok[0] == (byte)'[' && (tok.SequenceEqual("[NEW]"u8) || tok.SequenceEqual("[UPDATE]"u8) || tok.SequenceEqual("[DESTROY]"u8)))
        {
            tok = EntryTokens.Next(line, ref pos);
        }

        if (tok.SequenceEqual("ipv4"u8) || tok.SequenceEqual("ipv6"u8))
        {
            ReadOnlySpan<byte> l3 = EntryTokens.Next(line, ref pos);
            if (!EntryTokens.TryNumber(l3, out ulong family) || (family != 2 && family != 10))
            {
                return LineKind.Malformed;
            }

            r.Family = (byte)family;
            tok = EntryTokens.Next(line, ref pos);
        }

        // The L4 name is only a label; the number after it is what counts ("unknown 253" included).
        if (tok.IsEmpty || !EntryTokens.IsWord(tok))
        {
            return LineKind.Malformed;
        }

        if (!EntryTokens.TryNumber(EntryTokens.Next(line, ref pos), byte.MaxValue, out ulong protocol))
        {
            return LineKind.Malformed;
        }

        r.Protocol = (byte)protocol;

        // Timeout, state and protocol extras (GRE's "timeout=N, stream_timeout=N") until the first src=.
        tok = EntryTokens.Next(line, ref pos);
        if (EntryTokens.TryNumber(tok, out ulong timeout))
        {
            r.Timeout = (long)Math.Min(timeout, long.MaxValue);
            tok = EntryTokens.Next(line, ref pos);
        }

        while (!tok.IsEmpty && !tok.StartsWith("src="u8))
        {
            if (EntryTokens.IndexOfEquals(tok) < 0 && tok[0] != (byte)'[' && r.State == StateNames.None)
            {
                r.State = StateNames.FromText(tok);
            }

            tok = EntryTokens.Next(line, ref pos);
        }

        if (tok.IsEmpty)
        {
            return LineKind.Malformed;
        }

        bool unreplied = false;
        bool sawUse = false;
        bool inReply = false;
        bool lastWasCode = false;
        uint flags = 0;
        int eq = EntryTokens.IndexOfEquals(tok);
        for (; !tok.IsEmpty; tok = EntryTokens.NextKeyed(line, ref pos, out eq))
        {
            if (tok[0] == (byte)'[')
            {
                lastWasCode = false;
                if (tok.SequenceEqual("[UNREPLIED]"u8))
                {
                    unreplied = true;
                }
                else if (tok.SequenceEqual("[ASSURED]"u8))
                {
                    flags |= EntryRecord.StatusAssured;
                }
                else if (tok.SequenceEqual("[OFFLOAD]"u8))
                {
                    // The kernel prints [OFFLOAD] instead of [ASSURED]; an offloaded flow is always assured.
                    flags |= EntryRecord.StatusOffload | EntryRecord.StatusAssured;
                }
                else if (tok.SequenceEqual("[HW_OFFLOAD]"u8))
                {
                    flags |= EntryRecord.StatusHwOffload | EntryRecord.StatusOffload | EntryRecord.StatusAssured;
                }
                else
                {
                    // conntrack -o ktimestamp: "[start=Tue Nov 25 10:00:00 2026]" spans several tokens.
                    while (!tok.IsEmpty && tok[^1] != (byte)']')
                    {
                        tok = EntryTokens.Next(line, ref pos);
                    }

                    if (tok.IsEmpty)
                    {
                        break;
                    }
                }

                continue;
            }

            if (eq <= 0)
            {
                lastWasCode = false;
                continue;
            }

            ReadOnlySpan<byte> key = tok[..eq];
            ReadOnlySpan<byte> value = tok[(eq + 1)..];
            ref EntryTuple t = ref inReply ? ref r.Reply : ref r.Original;
            bool wasCode = lastWasCode;
            lastWasCode = false;
            switch (key.Length)
            {
                case 3 when key.SequenceEqual("src"u8):
                    if (t.HasSource)
                    {
                        if (inReply)
                        {
                            return LineKind.Malformed;
                        }

                        inReply = true;
                        t = ref r.Reply;
                    }

                    if (!TryAddress(value, ref r, out t.Source))
                    {
                        return LineKind.Malformed;
                    }

                    t.HasSource = true;
                    break;
                case 3 when key.SequenceEqual("dst"u8):
                    if (!t.HasSource || t.HasDestination || !TryAddress(value, ref r, out t.Destination))
                    {
                        return LineKind.Malformed;
                    }

                    t.HasDestination = true;
                    break;
                case 5 when key.SequenceEqual("sport"u8) || key.SequenceEqual("dport"u8):
                case 6 when key.SequenceEqual("srckey"u8) || key.SequenceEqual("dstkey"u8):
                    // GRE's keys stand where the ports do, in hex; the first letter tells source from destination.
                    ref ushort port = ref key[0] == (byte)'s' ? ref t.SourcePort : ref t.DestinationPort;
                    if (!(key.Length == 5 ? EntryTokens.TryPort(value, out port) : EntryTokens.TryHex16(value, out port)))
                    {
                        return LineKind.Malformed;
                    }

                    t.HasPorts = true;
                    break;
                case 7 when key.SequenceEqual("packets"u8):
                case 5 when key.SequenceEqual("bytes"u8):
                    if (!EntryTokens.TryNumber(value, out (key.Length == 7 ? ref t.Packets : ref t.Bytes)))
                    {
                        return LineKind.Malformed;
                    }

                    t.HasCounters = true;
                    break;
                case 4 when key.SequenceEqual("mark"u8):
                    if (!EntryTokens.TryNumber(value, uint.MaxValue, out ulong mark))
                    {
                        return LineKind.Malformed;
                    }

                    r.Mark = (uint)mark;
                    r.HasMark = true;
                    break;
                case 4 when key.SequenceEqual("zone"u8):
                    if (!EntryTokens.TryNumber(value, ushort.MaxValue, out ulong zone))
                    {
                        return LineKind.Malformed;
                    }

                    r.Zone = (ushort)zone;
                    break;
                case 3 when key.SequenceEqual("use"u8):
                    if (!EntryTokens.TryNumber(value, out _))
                    {
                        return LineKind.Malformed;
                    }

                    sawUse = true;
                    break;
                case 10 when key.SequenceEqual("delta-time"u8):
                    if (!EntryTokens.TryNumber(value, out ulong age))
                    {
                        return LineKind.Malformed;
                    }

                    r.Age = (long)Math.Min(age, long.MaxValue);
                    break;
                case 4 when key.SequenceEqual("type"u8) || key.SequenceEqual("code"u8):
                    if (!EntryTokens.TryNumber(value, byte.MaxValue, out ulong icmp))
                    {
                        return LineKind.Malformed;
                    }

                    (key[0] == (byte)'t' ? ref t.IcmpType : ref t.IcmpCode) = (byte)icmp;
                    t.HasIcmp = true;
                    lastWasCode = key[0] == (byte)'c';
                    break;
                case 2 when key.SequenceEqual("id"u8):
                    if (!EntryTokens.TryNumber(value, uint.MaxValue, out ulong id))
                    {
                        return LineKind.Malformed;
                    }

                    // In a tuple "id=" follows "code="; after the flags it is conntrack -o id's entry id.
                    if (wasCode)
                    {
                        if (id > ushort.MaxValue)
                        {
                            return LineKind.Malformed;
                        }

                        t.IcmpId = (ushort)id;
                    }
                    else
                    {
                        r.Id = (uint)id;
                        r.HasId = true;
                    }

                    break;
                case 9 when key.SequenceEqual("zone-orig"u8):
                case 10 when key.SequenceEqual("zone-reply"u8):
                    if (!EntryTokens.TryNumber(value, ushort.MaxValue, out ulong directionZone))
                    {
                        return LineKind.Malformed;
                    }

                    (key.Length == 9 ? ref r.Original : ref r.Reply).Zone = (int)directionZone;
                    break;
                case 6 when key.SequenceEqual("secctx"u8):
                    r.SecurityContext = EntryTokens.Ascii(value);
                    break;
                case 6 when key.SequenceEqual("helper"u8):
                    r.Helper = EntryTokens.Ascii(value);
                    break;
                case 6 when key.SequenceEqual("labels"u8):
                    r.LabelNames = EntryTokens.Ascii(value);
                    break;
                default:
                    // secmark=, portproto=, GRE's timeout= and anything a newer kernel adds: not needed here.
                    break;
            }
        }

        if (!r.Original.HasSource || !r.Original.HasDestination || !r.Reply.HasSource || !r.Reply.HasDestination || !sawUse)
        {
            return LineKind.Malformed;
        }

        r.Status = flags | EntryRecord.StatusConfirmed | (unreplied ? 0u : EntryRecord.StatusSeenReply);
        return LineKind.Entry;
    }

    private static bool TryAddress(ReadOnlySpan<byte> value, ref EntryRecord r, out UInt128 address)
    {
        bool v6 = r.Family switch
        {
            2 => false,
            10 => true,
            _ => value.IndexOf((byte)':') >= 0,
        };
        if (r.Family == 0)
        {
            // The first address decides the family of a line without L3 columns; the rest must agree.
            r.Family = v6 ? (byte)10 : (byte)2;
        }

        return v6 ? AddressText.TryParseIPv6(value, out address) : AddressText.TryParseIPv4(value, out address);
    }
}
