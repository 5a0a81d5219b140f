namespace ConntrackTuning.Engine.Entries;

/// <summary>
/// The Space-Saving algorithm (Metwally, Agrawal, El Abbadi 2005): counts addresses exactly until it holds
/// <c>capacity</c> of them; after that a new address replaces one with the lowest count and inherits that count
/// as its possible error. Every address with more than entries / capacity occurrences is guaranteed to be kept,
/// so the top of a big table is right while memory stays fixed. Once full, slots sit in buckets of equal count
/// (the paper's "stream summary"), so finding the lowest and counting up are both constant time.
/// </summary>
internal sealed class HeavyHitters
{
    private readonly int _capacity;
    private AddressKey[] _keys = new AddressKey[64];
    private int[] _hashes = new int[64];

    // Open addressing with linear probing: slot + 1 per cell, 0 for empty; kept at most half full.
    private int[] _table = new int[128];
    private long[] _count = new long[64];
    private long[] _unreplied = new long[64];
    private long[] _assured = new long[64];
    private int _used;

    // Stream summary, built at the first eviction: each bucket holds the slots of one count, buckets are linked
    // in rising count order, slots are linked within their bucket.
    private int[]? _slotBucket;
    private int[]? _slotNext;
    private int[]? _slotPrev;
    private long[]? _bucketCount;
    private int[]? _bucketHead;
    private int[]? _bucketNext;
    private int[]? _bucketPrev;
    private int _freeBucket = -1;
    private int _minBucket = -1;

    public HeavyHitters(int capacity) => _capacity = Math.Max(1, capacity);

    /// <summary>True until an address had to be evicted.</summary>
    public bool Exact { get; private set; } = true;

    /// <summary>The largest count an evicted address left to its successor: the most any count can be too high.</summary>
    public long MaxError { get; private set; }

    public void Add(UInt128 address, bool ipv6, bool unreplied, bool assured)
    {
        var key = new AddressKey(address, ipv6);
        int hash = key.GetHashCode();
        int slot = Find(key, hash);
        if (slot >= 0)
        {
            Bump(slot, unreplied, assured);
            return;
        }

        if (_used < _capacity)
        {
            if (_used == _keys.Length)
            {
                int size = Math.Min(_capacity, _keys.Length * 2);
                Array.Resize(ref _keys, size);
                Array.Resize(ref _hashes, size);
                Array.Resize(ref _count, size);
                Array.Resize(ref _unreplied, size);
                Array.Resize(ref _assured, size);
            }

            slot = _used++;
            if (_used * 2 > _table.Length)
            {
                Rehash(_table.Length * 2);
            }

            _keys[slot] = key;
            _hashes[slot] = hash;
            Insert(slot);
            Bump(slot, unreplied, assured);
            return;
        }

        if (_slotBucket is null)
        {
            BuildBuckets();
        }

        slot = _bucketHead![_minBucket];
        long min = _count[slot];
        Remove(slot);
        _keys[slot] = key;
        _hashes[slot] = hash;
        Insert(slot);
        _unreplied[slot] = 0;
        _assured[slot] = 0;
        Bump(slot, unreplied, assured);
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

    private int Find(AddressKey key, int hash)
    {
        int mask = _table.Length - 1;
        for (int i = hash & mask; ; i = (i + 1) & mask)
        {
            int cell = _table[i];
            if (cell == 0)
            {
                return -1;
            }

            int slot = cell - 1;
            if (_hashes[slot] == hash && _keys[slot].Equals(key))
            {
                return slot;
            }
        }
    }

    private void Insert(int slot)
    {
        int mask = _table.Length - 1;
        int i = _hashes[slot] & mask;
        while (_table[i] != 0)
        {
            i = (i + 1) & mask;
        }

        _table[i] = slot + 1;
    }

    // Linear-probing deletion by backward shift: later cells of the run move up so no lookup stops early.
    private void Remove(int slot)
    {
        int mask = _table.Length - 1;
        int i = _hashes[slot] & mask;
        while (_table[i] != slot + 1)
        {
            i = (i + 1) & mask;
        }

        int j = i;
        while (true)
        {
            j = (j + 1) & mask;
            int cell = _table[j];
            if (cell == 0)
            {
                break;
            }

            int home = _hashes[cell - 1] & mask;
            // Move the cell at j into the hole at i unless its home lies cyclically in (i, j].
            bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (!stays)
            {
                _table[i] = cell;
                i = j;
            }
        }

        _table[i] = 0;
    }

    private void Rehash(int size)
    {
        _table = new int[size];
        for (int slot = 0; slot < _used - 1; slot++)
        {
            Insert(slot);
        }
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

        if (_slotBucket is not null)
        {
            MoveUp(slot);
        }
    }

    private void BuildBuckets()
    {
        int n = _used;
        _slotBucket = new int[n];
        _slotNext = new int[n];
        _slotPrev = new int[n];

        // At most one bucket per slot, plus one: MoveUp makes the new bucket before it frees the old one.
        int buckets = n + 1;
        _bucketCount = new long[buckets];
        _bucketHead = new int[buckets];
        _bucketNext = new int[buckets];
        _bucketPrev = new int[buckets];
        for (int b = 0; b < buckets; b++)
        {
            _bucketNext[b] = b + 1 < buckets ? b + 1 : -1;
        }

        _freeBucket = 0;
        int[] order = Enumerable.Range(0, n).OrderBy(i => _count[i]).ToArray();
        int last = -1;
        foreach (int slot in order)
        {
            if (last < 0 || _bucketCount[last] != _count[slot])
            {
                int b = NewBucket(_count[slot]);
                _bucketPrev[b] = last;
                _bucketNext[b] = -1;
                if (last >= 0)
                {
                    _bucketNext[last] = b;
                }
                else
                {
                    _minBucket = b;
                }

                last = b;
            }

            Link(slot, last);
        }
    }

    // The slot's count just grew by one: move it from its bucket to the next one up, making that if needed.
    private void MoveUp(int slot)
    {
        int from = _slotBucket![slot];
        long count = _count[slot];
        int next = _bucketNext![from];
        int to;
        if (next >= 0 && _bucketCount![next] == count)
        {
            to = next;
        }
        else
        {
            to = NewBucket(count);
            _bucketPrev![to] = from;
            _bucketNext[to] = next;
            _bucketNext[from] = to;
            if (next >= 0)
            {
                _bucketPrev[next] = to;
            }
        }

        Unlink(slot, from);
        Link(slot, to);
        if (_bucketHead![from] < 0)
        {
            int prev = _bucketPrev![from];
            int after = _bucketNext[from];
            if (prev >= 0)
            {
                _bucketNext[prev] = after;
            }
            else
            {
                _minBucket = after;
            }

            if (after >= 0)
            {
                _bucketPrev[after] = prev;
            }

            _bucketNext[from] = _freeBucket;
            _freeBucket = from;
        }
    }

    private int NewBucket(long count)
    {
        int b = _freeBucket;
        _freeBucket = _bucketNext![b];
        _bucketCount![b] = count;
        _bucketHead![b] = -1;
        return b;
    }

    private void Link(int slot, int bucket)
    {
        int head = _bucketHead![bucket];
        _slotNext![slot] = head;
        _slotPrev![slot] = -1;
        if (head >= 0)
        {
            _slotPrev[head] = slot;
        }

        _bucketHead[bucket] = slot;
        _slotBucket![slot] = bucket;
    }

    private void Unlink(int slot, int bucket)
    {
        int next = _slotNext![slot];
        int prev = _slotPrev![slot];
        if (prev >= 0)
        {
            _slotNext[prev] = next;
        }
        else
        {
            _bucketHead![bucket] = next;
        }

        if (next >= 0)
        {
            _slotPrev[next] = prev;
        }
    }
}
