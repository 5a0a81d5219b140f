using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Netlink;

namespace ConntrackTuning.Engine.Removal;

/// <summary>Which NAT a removal asks for (conntrack -D --src-nat, --dst-nat, --any-nat).</summary>
internal enum NatMatch
{
    None,
    Source,
    Destination,
    Any,
}

/// <summary>
/// What Remove-ConntrackEntry selects: every Get-ConntrackEntry filter (an <see cref="EntryFilter"/>, reused
/// as is), plus what conntrack -D users need: the reply direction's addresses and ports, NAT (optionally to an
/// address), status bits, a timeout bound and an age bound. Every entry is checked here in full, whatever the
/// kernel was asked to filter.
/// </summary>
internal sealed class RemovalFilter
{
    private readonly AddressBlock[]? _replySources;
    private readonly AddressBlock[]? _replyDestinations;
    private readonly HashSet<ushort>? _replySourcePorts;
    private readonly HashSet<ushort>? _replyDestinationPorts;
    private readonly AddressBlock[]? _natAddresses;

    private RemovalFilter(EntryFilter entries, Options o, string description)
    {
        Entries = entries;
        Nat = o.Nat;
        Status = o.Status;
        TimeoutBelow = o.TimeoutBelow;
        MinimumAgeSeconds = o.MinimumAgeSeconds;
        _replySources = o.ReplySources.Count > 0 ? [.. o.ReplySources] : null;
        _replyDestinations = o.ReplyDestinations.Count > 0 ? [.. o.ReplyDestinations] : null;
        _replySourcePorts = o.ReplySourcePorts.Count > 0 ? [.. o.ReplySourcePorts] : null;
        _replyDestinationPorts = o.ReplyDestinationPorts.Count > 0 ? [.. o.ReplyDestinationPorts] : null;
        _natAddresses = o.NatAddresses.Count > 0 ? [.. o.NatAddresses] : null;
        Description = description;
    }

    public EntryFilter Entries { get; }

    public NatMatch Nat { get; }

    /// <summary>IPS_* bits that must all be set.</summary>
    public uint Status { get; }

    public long? TimeoutBelow { get; }

    public long? MinimumAgeSeconds { get; }

    public string Description { get; }

    public bool IsEmpty => Description.Length == 0;

    /// <summary>Entries seen without a start time while an age bound was asked for (they never match it).</summary>
    public long WithoutAge { get; private set; }

    public bool Matches(ref EntryRecord r) => Entries.Matches(ref r) && MatchesRest(ref r);

    /// <summary>
    /// Warns how many entries the age bound skipped for want of a start time, then counts from zero again: the
    /// -WhatIf or -Confirm preview and the removal after it each read the table once and each say it once.
    /// </summary>
    public void WarnWithoutAge(IEngineLog log)
    {
        if (MinimumAgeSeconds is not null && WithoutAge > 0)
        {
            log.Warning($"{WithoutAge} entries have no start time and were not matched by -OlderThan: the kernel records one only for entries created while net.netfilter.nf_conntrack_timestamp = 1.");
        }

        WithoutAge = 0;
    }

    /// <summary>The checks beyond the Get-ConntrackEntry filter.</summary>
    public bool MatchesRest(ref EntryRecord r)
    {
        bool v6 = r.IsIPv6;
        if (_replySources is not null && !AddressBlock.AnyContains(_replySources, v6, r.Reply.Source))
        {
            return false;
        }

        if (_replyDestinations is not null && !AddressBlock.AnyContains(_replyDestinations, v6, r.Reply.Destination))
        {
            return false;
        }

        bool ports = ProtocolNames.HasPorts(r.Protocol) && r.Reply.HasPorts;
        if (_replySourcePorts is not null && !(ports && _replySourcePorts.Contains(r.Reply.SourcePort)))
        {
            return false;
        }

        if (_replyDestinationPorts is not null && !(ports && _replyDestinationPorts.Contains(r.Reply.DestinationPort)))
        {
            return false;
        }

        if (Nat != NatMatch.None && !MatchesNat(ref r))
        {
            return false;
        }

        if (Status != 0 && (!r.HasFullStatus || (r.Status & Status) != Status))
        {
            return false;
        }

        if (TimeoutBelow is { } below && !(r.Timeout >= 0 && r.Timeout < below))
        {
            return false;
        }

        if (MinimumAgeSeconds is { } age)
        {
            if (r.Age < 0)
            {
                WithoutAge++;
                return false;
            }

            if (r.Age < age)
            {
                return false;
            }
        }

        return true;
    }

    // Source NAT rewrote the source, so replies come back to the new address: the reply destination. Destination
    // NAT rewrote the destination, so replies come from the new address: the reply source (conntrack's -D
    // --src-nat IP and --dst-nat IP compare the same fields).
    private bool MatchesNat(ref EntryRecord r)
    {
        bool snat = r.HasFullStatus ? (r.Status & EntryRecord.StatusSrcNat) != 0 : r.Reply.Destination != r.Original.Source;
        bool dnat = r.HasFullStatus ? (r.Status & EntryRecord.StatusDstNat) != 0 : r.Reply.Source != r.Original.Destination;
        bool v6 = r.IsIPv6;
        bool snatTo = snat && (_natAddresses is null || AddressBlock.AnyContains(_natAddresses, v6, r.Reply.Destination));
        bool dnatTo = dnat && (_natAddresses is null || AddressBlock.AnyContains(_natAddresses, v6, r.Reply.Source));
        return Nat switch
        {
            NatMatch.Source => snatTo,
            NatMatch.Destination => dnatTo,
            _ => snatTo || dnatTo,
        };
    }

    /// <summary>
    /// The Get-ConntrackEntry part's kernel filter, plus the status bits this filter requires when the kernel
    /// filters by status (5.15 on): -SourceNat and -DestinationNat need IPS_SRC_NAT or IPS_DST_NAT, -Status its bits.
    /// </summary>
    public KernelFilter ToKernelFilter(KernelVersion? version, List<string> notes)
    {
        KernelFilter kf = Entries.ToKernelFilter(version, notes);
        uint bits = Status | Nat switch
        {
            NatMatch.Source => EntryRecord.StatusSrcNat,
            NatMatch.Destination => EntryRecord.StatusDstNat,
            _ => 0u,
        };
        if (bits != 0 && CtnetlinkFilterSupport.Allows("status", version))
        {
            (uint value, uint mask) = kf.Status ?? (0u, 0u);
            kf = kf with { Status = (value | bits, mask | bits) };
            notes.RemoveAll(n => n.StartsWith("status ", StringComparison.Ordinal));
            notes.Add(string.Create(CultureInfo.InvariantCulture, $"status 0x{value | bits:x}/0x{mask | bits:x}"));
        }

        return kf;
    }

    /// <summary>The removal's own values as the cmdlet receives them.</summary>
    internal sealed class Options
    {
        public List<AddressBlock> ReplySources { get; } = [];

        public List<AddressBlock> ReplyDestinations { get; } = [];

        public List<ushort> ReplySourcePorts { get; } = [];

        public List<ushort> ReplyDestinationPorts { get; } = [];

        public NatMatch Nat { get; set; }

        public List<AddressBlock> NatAddresses { get; } = [];

        public uint Status { get; set; }

        public long? TimeoutBelow { get; set; }

        public long? MinimumAgeSeconds { get; set; }
    }

    /// <summary>Validates the values beyond the Get-ConntrackEntry filter; a bad one is an InvalidEntryFilter error naming it.</summary>
    public static RemovalFilter Create(EntryFilter entries, IEnumerable<string>? replySources, IEnumerable<string>? replyDestinations,
        IEnumerable<int>? replySourcePorts, IEnumerable<int>? replyDestinationPorts, NatMatch nat, IEnumerable<string>? natAddresses,
        uint status, long? timeoutBelow, TimeSpan? olderThan)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var o = new Options { Status = status, TimeoutBelow = timeoutBelow };
        var d = new List<string>();
        if (entries.Description.Length > 0)
        {
            d.Add(entries.Description);
        }

        EntryFilter.AddBlocks(replySources, o.ReplySources, "ReplySource", d);
        EntryFilter.AddBlocks(replyDestinations, o.ReplyDestinations, "ReplyDestination", d);
        EntryFilter.AddPorts(replySourcePorts, o.ReplySourcePorts, "ReplySourcePort", d);
        EntryFilter.AddPorts(replyDestinationPorts, o.ReplyDestinationPorts, "ReplyDestinationPort", d);
        EntryFilter.AddBlocks(natAddresses, o.NatAddresses, "NatAddress", d);
        o.Nat = nat == NatMatch.None && o.NatAddresses.Count > 0 ? NatMatch.Any : nat;
        if (o.Nat != NatMatch.None)
        {
            d.Add(o.Nat switch { NatMatch.Source => "source NAT", NatMatch.Destination => "destination NAT", _ => "any NAT" });
        }

        if (status != 0)
        {
            d.Add("status " + ((ConntrackEntryStatus)status).ToString());
        }

        if (timeoutBelow is { } t)
        {
            if (t < 0)
            {
                throw EntryFilter.Invalid("TimeoutBelow", t.ToString(CultureInfo.InvariantCulture), "Give a number of seconds, 0 or more.");
            }

            d.Add("timeout below " + t.ToString(CultureInfo.InvariantCulture) + " s");
        }

        if (olderThan is { } age)
        {
            if (age < TimeSpan.Zero)
            {
                throw EntryFilter.Invalid("OlderThan", age.ToString(), "Give a positive duration such as 00:10:00 or (New-TimeSpan -Hours 2).");
            }

            o.MinimumAgeSeconds = (long)Math.Ceiling(age.TotalSeconds);
            d.Add("older than " + o.MinimumAgeSeconds.Value.ToString(CultureInfo.InvariantCulture) + " s");
        }

        return new RemovalFilter(entries, o, string.Join(", ", d));
    }
}
