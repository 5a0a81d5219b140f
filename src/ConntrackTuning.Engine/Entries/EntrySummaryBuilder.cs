using ConntrackTuning.Engine.Limits;

namespace ConntrackTuning.Engine.Entries;

/// <summary>
/// Aggregates entries as they stream past, in memory that does not grow with the table: fixed counters per
/// protocol and state, exact per-port counters (65536 per protocol that has ports), and a bounded
/// <see cref="HeavyHitters"/> list each for sources and destinations.
/// </summary>
internal sealed class EntrySummaryBuilder
{
    /// <summary>Distinct addresses tracked per top list: exact below it, bounded error above it (about 1.5 MiB each when full).</summary>
    public const int AddressCapacity = 16384;

    private readonly EntryTally<long>[] _protocols = new EntryTally<long>[256];
    private readonly long[] _states = new long[65536];
    private readonly PortCounts?[] _ports = new PortCounts?[256];
    private readonly HeavyHitters _sources;
    private readonly HeavyHitters _destinations;

    public EntrySummaryBuilder(int addressCapacity = AddressCapacity)
    {
        _sources = new HeavyHitters(addressCapacity);
        _destinations = new HeavyHitters(addressCapacity);
    }

    private EntryTally<long> _all;

    public long Entries => _all.Count;

    public long Unreplied => _all.Unreplied;

    public long Assured => _all.Assured;

    public void Add(ref EntryRecord r)
    {
        bool unreplied = r.Unreplied;
        bool assured = r.Assured;
        byte p = r.Protocol;
        _all.Add(unreplied, assured);
        _protocols[p].Add(unreplied, assured);
        _states[(p << 8) | r.State]++;
        bool v6 = r.IsIPv6;
        _sources.Add(r.Original.Source, v6, unreplied, assured);
        _destinations.Add(r.Original.Destination, v6, unreplied, assured);
        if (ProtocolNames.HasPorts(p) && r.Original.HasPorts)
        {
            (_ports[p] ??= new PortCounts()).Add(r.Original.DestinationPort, unreplied, assured);
        }
    }

    public ConntrackSummary Build(int top, string source, string filter, long? kernelCount, long? max, string root, string? networkNamespace = null)
    {
        double Share(long count) => TableRatios.Share(count, Entries);

        var protocols = new List<ConntrackProtocolCount>();
        for (int p = 0; p < 256; p++)
        {
            EntryTally<long> t = _protocols[p];
            if (t.Count > 0)
            {
                protocols.Add(new ConntrackProtocolCount
                {
                    Protocol = ProtocolNames.Name((byte)p),
                    Count = t.Count,
                    Percent = Share(t.Count),
                    Unreplied = t.Unreplied,
                    Assured = t.Assured,
                });
            }
        }

        var states = Enumerable.Range(0, _states.Length).Where(k => _states[k] > 0)
            .Select(k => new ConntrackStateCount
            {
                Protocol = ProtocolNames.Name((byte)(k >> 8)),
                State = StateNames.Name((byte)(k & 0xff)),
                Count = _states[k],
                Percent = Share(_states[k]),
            })
            .OrderByDescending(s => s.Count).ThenBy(s => s.Protocol, StringComparer.Ordinal).ThenBy(s => s.State, StringComparer.Ordinal)
            .ToList();

        var sources = _sources.Top(top).Select(h => new ConntrackSourceCount
        {
            Source = AddressText.Format(h.Address, h.IPv6), Count = h.Count, Percent = Share(h.Count), Unreplied = h.Unreplied, Assured = h.Assured,
        }).ToList();
        var destinations = _destinations.Top(top).Select(h => new ConntrackDestinationCount
        {
            Destination = AddressText.Format(h.Address, h.IPv6), Count = h.Count, Percent = Share(h.Count), Unreplied = h.Unreplied, Assured = h.Assured,
        }).ToList();

        // The n largest (protocol, port) counts; ties go to the lower port, then the protocol name, as listed.
        var best = new PriorityQueue<(byte Protocol, int Port), (int Count, int Port, string Protocol)>(PortRank.Instance);
        for (int p = 0; p < 256; p++)
        {
            _ports[p]?.CollectTop((byte)p, top, best);
        }

        var ports = new List<ConntrackPortCount>();
        while (best.TryDequeue(out (byte Protocol, int Port) item, out _))
        {
            EntryTally<int> counts = _ports[item.Protocol]!.Ports[item.Port];
            ports.Add(new ConntrackPortCount
            {
                Protocol = ProtocolNames.Name(item.Protocol),
                DestinationPort = item.Port,
                Count = counts.Count,
                Percent = Share(counts.Count),
                Unreplied = counts.Unreplied,
                Assured = counts.Assured,
            });
        }

        ports.Reverse();

        long? used = kernelCount ?? (source == "ctnetlink" ? Entries : null);
        return new ConntrackSummary
        {
            Entries = Entries,
            Unreplied = Unreplied,
            Assured = Assured,
            KernelCount = kernelCount,
            Max = max,
            UsagePercent = TableRatios.UsagePercent(used, max),
            ByProtocol = protocols.OrderByDescending(p => p.Count).ToList(),
            ByState = states,
            TopSources = sources,
            TopDestinations = destinations,
            TopDestinationPorts = ports,
            Exact = _sources.Exact && _destinations.Exact,
            MaxCountError = Math.Max(_sources.MaxError, _destinations.MaxError),
            Source = source,
            Filter = filter,
            Top = top,
            NetworkNamespace = networkNamespace,
            Root = root,
        };
    }

    /// <summary>Exact counters for every destination port of one protocol.</summary>
    private sealed class PortCounts
    {
        public readonly EntryTally<int>[] Ports = new EntryTally<int>[65536];

        public void Add(ushort port, bool unreplied, bool assured) => Ports[port].Add(unreplied, assured);

        // Keeps the n largest across protocols in a min-queue: the lowest rank leaves first.
        public void CollectTop(byte protocol, int n, PriorityQueue<(byte Protocol, int Port), (int Count, int Port, string Protocol)> best)
        {
            string name = ProtocolNames.Name(protocol);
            for (int port = 0; port < Ports.Length; port++)
            {
                int c = Ports[port].Count;
                if (c == 0)
                {
                    continue;
                }

                var rank = (c, port, name);
                if (best.Count < n)
                {
                    best.Enqueue((protocol, port), rank);
                }
                else if (best.TryPeek(out _, out var lowest) && PortRank.Instance.Compare(rank, lowest) > 0)
                {
                    best.DequeueEnqueue((protocol, port), rank);
                }
            }
        }
    }

    /// <summary>Orders port counts from least to most important: fewer entries, then higher port, then later protocol name.</summary>
    private sealed class PortRank : IComparer<(int Count, int Port, string Protocol)>
    {
        public static readonly PortRank Instance = new();

        public int Compare((int Count, int Port, string Protocol) x, (int Count, int Port, string Protocol) y)
        {
            int c = x.Count.CompareTo(y.Count);
            if (c == 0)
            {
                c = y.Port.CompareTo(x.Port);
            }

            return c != 0 ? c : string.CompareOrdinal(y.Protocol, x.Protocol);
        }
    }
}
