using System;
using System.Collections.Generic;
using System.Linq;

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

    private readonly long[] _protocolCount = new long[256];
    private readonly long[] _protocolUnreplied = new long[256];
    private readonly long[] _protocolAssured = new long[256];
    private readonly Dictionary<int, long> _states = [];
    private readonly PortCounts?[] _ports = new PortCounts?[256];
    private readonly HeavyHitters _sources;
    private readonly HeavyHitters _destinations;

    public EntrySummaryBuilder(int addressCapacity = AddressCapacity)
    {
        _sources = new HeavyHitters(addressCapacity);
        _destinations = new HeavyHitters(addressCapacity);
    }

    public long Entries { get; private set; }

    public long Unreplied { get; private set; }

    public long Assured { get; private set; }

    public void Add(ref EntryRecord r)
    {
        bool unreplied = r.Unreplied;
        bool assured = r.Assured;
        Entries++;
        byte p = r.Protocol;
        _protocolCount[p]++;
        if (unreplied)
        {
            Unreplied++;
            _protocolUnreplied[p]++;
        }

        if (assured)
        {
            Assured++;
            _protocolAssured[p]++;
        }

        int stateKey = (p << 8) | r.State;
        _states[stateKey] = _states.TryGetValue(stateKey, out long n) ? n + 1 : 1;
        bool v6 = r.IsIPv6;
        _sources.Add(r.Original.Source, v6, unreplied, assured);
        _destinations.Add(r.Original.Destination, v6, unreplied, assured);
        if (ProtocolNames.HasPorts(p) && r.Original.HasPorts)
        {
            (_ports[p] ??= new PortCounts()).Add(r.Original.DestinationPort, unreplied, assured);
        }
    }

    public ConntrackSummary Build(int top, string source, string filter, long? kernelCount, long? max, string root)
    {
        double Share(long count) => Entries == 0 ? 0 : Math.Round(100.0 * count / Entries, 2);

        var protocols = new List<ConntrackProtocolCount>();
        for (int p = 0; p < 256; p++)
        {
            if (_protocolCount[p] > 0)
            {
                protocols.Add(new ConntrackProtocolCount
                {
                    Protocol = ProtocolNames.Name((byte)p),
                    Count = _protocolCount[p],
                    Percent = Share(_protocolCount[p]),
                    Unreplied = _protocolUnreplied[p],
                    Assured = _protocolAssured[p],
                });
            }
        }

        var states = _states
            .Select(kv => new ConntrackStateCount
            {
                Protocol = ProtocolNames.Name((byte)(kv.Key >> 8)),
                State = StateNames.Name((byte)(kv.Key & 0xff)),
                Count = kv.Value,
                Percent = Share(kv.Value),
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

        var ports = new List<ConntrackPortCount>();
        var best = new PriorityQueue<(byte Protocol, int Port), (int Count, int Tie)>();
        for (int p = 0; p < 256; p++)
        {
            _ports[p]?.CollectTop((byte)p, top, best);
        }

        while (best.TryDequeue(out (byte Protocol, int Port) item, out _))
        {
            PortCounts counts = _ports[item.Protocol]!;
            ports.Add(new ConntrackPortCount
            {
                Protocol = ProtocolNames.Name(item.Protocol),
                DestinationPort = item.Port,
                Count = counts.Count[item.Port],
                Percent = Share(counts.Count[item.Port]),
                Unreplied = counts.Unreplied[item.Port],
                Assured = counts.Assured[item.Port],
            });
        }

        ports.Sort((a, b) => b.Count != a.Count ? b.Count.CompareTo(a.Count)
            : a.DestinationPort != b.DestinationPort ? a.DestinationPort.CompareTo(b.DestinationPort)
            : string.CompareOrdinal(a.Protocol, b.Protocol));
        if (ports.Count > top)
        {
            ports.RemoveRange(top, ports.Count - top);
        }

        long? used = kernelCount ?? (source == "ctnetlink" ? Entries : null);
        return new ConntrackSummary
        {
            Entries = Entries,
            Unreplied = Unreplied,
            Assured = Assured,
            KernelCount = kernelCount,
            Max = max,
            UsagePercent = max is > 0 && used is { } u ? Math.Round(100.0 * u / max.Value, 2) : null,
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
            Root = root,
        };
    }

    /// <summary>Exact counters for every destination port of one protocol.</summary>
    private sealed class PortCounts
    {
        public readonly int[] Count = new int[65536];
        public readonly int[] Unreplied = new int[65536];
        public readonly int[] Assured = new int[65536];

        public void Add(ushort port, bool unreplied, bool assured)
        {
            Count[port]++;
            if (unreplied)
            {
                Unreplied[port]++;
            }

            if (assured)
            {
                Assured[port]++;
            }
        }

        // Keeps the n largest across protocols in a min-queue (lowest count, then highest port, leaves first).
        public void CollectTop(byte protocol, int n, PriorityQueue<(byte Protocol, int Port), (int Count, int Tie)> best)
        {
            for (int port = 0; port < Count.Length; port++)
            {
                int c = Count[port];
                if (c == 0)
                {
                    continue;
                }

                var priority = (c, -((protocol << 16) | port));
                if (best.Count < n)
                {
                    best.Enqueue((protocol, port), priority);
                }
                else if (best.TryPeek(out _, out (int Count, int Tie) lowest) && Comparer<(int, int)>.Default.Compare(priority, lowest) > 0)
                {
                    best.DequeueEnqueue((protocol, port), priority);
                }
            }
        }
    }
}

/// <summary>
/// The Space-Saving algorithm (Metwally, Agrawal, El Abbadi 2005): counts addresses exactly until it holds
/// <c>capacity</c> of them; after that a new address replaces the one with the lowest count and inherits that
/// count as its possible error. Every address with more than entries / capacity occurrences is guaranteed to be
/// kept, so the top of a big table is right while memory stays fixed.
/// </summary>
internal sealed class HeavyHitters
{
    private readonly int _capacity;
    private readonly Dictionary<(UInt128, bool), int> _slots = [];
    private (UInt128 Address, bool IPv6)[] _keys = new (UInt128, bool)[64];
    private long[] _count = new long[64];
    private long[] _error = new long[64];
    private long[] _unreplied = new long[64];
    private long[] _assured = new long[64];
    private int[]? _heap;
    private int[]? _position;
    private int _used;

    public HeavyHitters(int capacity) => _capacity = Math.Max(1, capacity);

    /// <summary>True until an address had to be evicted.</summary>
    public bool Exact { get; private set; } = true;

    /// <summary>The largest count an evicted address left to its successor: the most any count can be too high.</summary>
    public long MaxError { get; private set; }

    public void Add(UInt128 address, bool ipv6, bool unreplied, bool assured)
    {
        var key = (address, ipv6);
        if (_slots.TryGetValue(key, out int slot))
        {
            Bump(slot, unreplied, assured);
            if (_heap is not null)
            {
                SiftDown(_position![slot]);
            }

            return;
        }

        if (_used < _capacity)
        {
            if (_used == _keys.Length)
            {
                int size = Math.Min(_capacity, _keys.Length * 2);
                Array.Resize(ref _keys, size);
                Array.Resize(ref _count, size);
                Array.Resize(ref _error, size);
                Array.Resize(ref _unreplied, size);
                Array.Resize(ref _assured, size);
            }

            slot = _used++;
            _keys[slot] = key;
            _slots[key] = slot;
            Bump(slot, unreplied, assured);
            return;
        }

        if (_heap is null)
        {
            BuildHeap();
        }

        slot = _heap![0];
        long min = _count[slot];
        _slots.Remove(_keys[slot]);
        _keys[slot] = key;
        _slots[key] = slot;
        _error[slot] = min;
        _count[slot] = min;
        _unreplied[slot] = 0;
        _assured[slot] = 0;
        Bump(slot, unreplied, assured);
        SiftDown(0);
        Exact = false;
        MaxError = Math.Max(MaxError, min);
    }

    public IEnumerable<(UInt128 Address, bool IPv6, long Count, long Unreplied, long Assured)> Top(int n)
    {
        return Enumerable.Range(0, _used)
            .OrderByDescending(i => _count[i]).ThenBy(i => _keys[i].IPv6).ThenBy(i => _keys[i].Address)
            .Take(n)
            .Select(i => (_keys[i].Address, _keys[i].IPv6, _count[i], _unreplied[i], _assured[i]))
            .ToList();
    }

    private void Bump(int slot, bool unreplied, bool assured)
    {
        _count[slot]++;
        if (unreplied)
        {
            _unreplied[slot]++;
        }

        if (assured)
        {
            _assured[slot]++;
        }
    }

    private void BuildHeap()
    {
        _heap = new int[_used];
        _position = new int[_used];
        for (int i = 0; i < _used; i++)
        {
            _heap[i] = i;
            _position[i] = i;
        }

        for (int i = (_used / 2) - 1; i >= 0; i--)
        {
            SiftDown(i);
        }
    }

    // A count only grows, so a slot only ever moves down the min-heap.
    private void SiftDown(int i)
    {
        int[] heap = _heap!;
        int[] position = _position!;
        int n = heap.Length;
        while (true)
        {
            int left = (2 * i) + 1;
            if (left >= n)
            {
                return;
            }

            int smallest = left + 1 < n && _count[heap[left + 1]] < _count[heap[left]] ? left + 1 : left;
            if (_count[heap[smallest]] >= _count[heap[i]])
            {
                return;
            }

            (heap[i], heap[smallest]) = (heap[smallest], heap[i]);
            position[heap[i]] = i;
            position[heap[smallest]] = smallest;
            i = smallest;
        }
    }
}
