using ConntrackTuning.Engine.Limits;

namespace ConntrackTuning;

/// <summary>
/// One eBPF conntrack map of Cilium or Calico, pinned in bpffs, beside the kernel's own table: its size and how
/// many entries it holds. Output of Get-ConntrackBpfMap. When one of these is full, new connections are dropped
/// with no "nf_conntrack: table full" message: the kernel log stays silent.
/// </summary>
public sealed class ConntrackBpfMap
{
    /// <summary>The pinned file (such as /sys/fs/bpf/tc/globals/cilium_ct4_global).</summary>
    public string Path { get; init; } = "";

    /// <summary>The pin's name: cilium_ct4_global, cilium_ct_any4_global, cilium_ct6_global, cilium_ct_any6_global, cali_v4_ct3, ...</summary>
    public string Name { get; init; } = "";

    /// <summary>Cilium or Calico.</summary>
    public string Owner { get; init; } = "";

    /// <summary>What the map tracks, from its name: TCP, non-TCP, or all (Calico), over IPv4 or IPv6.</summary>
    public string Table => Name switch
    {
        _ when Name.StartsWith("cilium_ct4_", System.StringComparison.Ordinal) => "IPv4 TCP",
        _ when Name.StartsWith("cilium_ct6_", System.StringComparison.Ordinal) => "IPv6 TCP",
        _ when Name.StartsWith("cilium_ct_any4_", System.StringComparison.Ordinal) => "IPv4 non-TCP",
        _ when Name.StartsWith("cilium_ct_any6_", System.StringComparison.Ordinal) => "IPv6 non-TCP",
        _ when Name.StartsWith("cali_v6", System.StringComparison.Ordinal) => "IPv6",
        _ => "IPv4",
    };

    public uint MapId { get; init; }

    /// <summary>hash, lru_hash, percpu_hash, ...</summary>
    public string? MapType { get; init; }

    public uint KeySize { get; init; }

    public uint ValueSize { get; init; }

    /// <summary>The map's capacity (max_entries): the limit this table drops at.</summary>
    public uint MaxEntries { get; init; }

    /// <summary>Keys counted; a lower bound when EntriesComplete is false (the time budget or key cap ran out).</summary>
    public long? Entries { get; init; }

    /// <summary>True when every key was walked.</summary>
    public bool EntriesComplete { get; init; }

    public double? UsagePercent => TableRatios.UsagePercent(Entries, MaxEntries);

    /// <summary>Why the map could not be read, when it could not.</summary>
    public string? Error { get; init; }
}
