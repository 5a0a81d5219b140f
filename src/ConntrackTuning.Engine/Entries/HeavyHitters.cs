namespace ConntrackTuning.Engine.Entries;

/// <summary>
/// The Space-Saving algorithm (Metwally, Agrawal, El Abbadi 2005): counts addresses exactly until it holds
/// <c>capacity</c> of them; after that a new address replaces one with the lowest count and inherits that count
/// as its possible error. Every address with more than entries / capacity occurrences is guaranteed to be kept,
/// so the top of a big table is right while memory stays fixed. Once full, slots sit in buckets of equal count
/// (the paper's "stream summary"), so finding the lowest and counting up are both constant time.
/// </summary>
/// <remarks>
/// A table with more distinct addresses than slots evicts on nearly every entry, and each eviction lands on
/// memory no recent entry touched. So what one eviction reads sits together: a slot's address, counts and list
/// links in one record, a bucket's count and links in another, and each hash cell carries the hash of the slot
/// it points at, so a probe or a backward shift never has to look into the slot.
/// </remarks>
internal sealed class HeavyHitters
{
    private readonly int _capacity;
    private Slot[] _slots = new Slot[64];

    // Open addressing with linear probing, kept at most half full.
    private Cell[] _table = new Cell[128];
    private int _used;

    // Stream summary, built at the first eviction: buckets are linked in rising count order, the slots of one
    // bucket are linked within it.
    private Bucket[]? _buckets;
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
            if (_used == _slots.Length)
            {
                Array.Resize(ref _slots, Math.Min(_capacity, _slots.Length * 2));
            }

            slot = _used++;
            if (_used * 2 > _table.Length)
            {
                Rehash(_table.Length * 2);
            }

            _slots[slot].Key = key;
            Insert(slot, hash);
            Bump(slot, unreplied, assured);
            return;
        }

        if (_buckets is null)
        {
            BuildBuckets();
        }

        slot = _buckets![_minBucket].Head;
        ref Slot evicted = ref _slots[slot];
        long min = evicted.Tally.Count;
        Remove(slot, evicted.Key.GetHashCode());
        evicted.Key = key;
        Insert(slot, hash);
        evicted.Tally.Unreplied = 0;
        evicted.Tally.Assured = 0;
        Bump(slot, unreplied, assured);
        Exact = false;
        MaxError = Math.Max(MaxError, min);
    }

    public IEnumerable<(UInt128 Address, bool IPv6, long Count, long Unreplied, long Assured)> Top(int n)
    {
        return _slots.Take(_used)
            .OrderByDescending(s => s.Tally.Count).ThenBy(s => s.Key.IPv6).ThenBy(s => s.Key.Address)
            .Take(n)
            .Select(s => (s.Key.Address, s.Key.IPv6, s.Tally.Count, s.Tally.Unreplied, s.Tally.Assured))
            .ToList();
    }

    private int Find(AddressKey key, int hash)
    {
        int mask = _table.Length - 1;
        for (int i = hash & mask; ; i = (i + 1) & mask)
        {
            Cell cell = _table[i];
            if (cell.SlotPlusOne == 0)
            {
                return -1;
            }

            if (cell.Hash == hash && _slots[cell.SlotPlusOne - 1].Key.Equals(key))
            {
                return cell.SlotPlusOne - 1;
            }
        }
    }

    private void Insert(int slot, int hash)
    {
        int mask = _table.Length - 1;
        int i = hash & mask;
        while (_table[i].SlotPlusOne != 0)
        {
            i = (i + 1) & mask;
        }

        _table[i] = new Cell(slot + 1, hash);
    }

    // Linear-probing deletion by backward shift: later cells of the run move up so no lookup stops early.
    private void Remove(int slot, int hash)
    {
        int mask = _table.Length - 1;
        int i = hash & mask;
        while (_table[i].SlotPlusOne != slot + 1)
        {
            i = (i + 1) & mask;
        }

        int j = i;
        while (true)
        {
            j = (j + 1) & mask;
            Cell cell = _table[j];
            if (cell.SlotPlusOne == 0)
            {
                break;
            }

            int home = cell.Hash & mask;
            // Move the cell at j into the hole at i unless its home lies cyclically in (i, j].
            bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (!stays)
            {
                _table[i] = cell;
                i = j;
            }
        }

        _table[i] = default;
    }

    private void Rehash(int size)
    {
        Cell[] old = _table;
        _table = new Cell[size];
        foreach (Cell cell in old)
        {
            if (cell.SlotPlusOne != 0)
            {
                Insert(cell.SlotPlusOne - 1, cell.Hash);
            }
        }
    }

    private void Bump(int slot, bool unreplied, bool assured)
    {
        _slots[slot].Tally.Add(unreplied, assured);
        if (_buckets is not null)
        {
            MoveUp(slot);
        }
    }

    private void BuildBuckets()
    {
        int n = _used;

        // At most one bucket per slot, plus one: MoveUp makes the new bucket before it frees the old one.
        int buckets = n + 1;
        _buckets = new Bucket[buckets];
        for (int b = 0; b < buckets; b++)
        {
            _buckets[b].Next = b + 1 < buckets ? b + 1 : -1;
        }

        _freeBucket = 0;
        int[] order = Enumerable.Range(0, n).OrderBy(i => _slots[i].Tally.Count).ToArray();
        int last = -1;
        foreach (int slot in order)
        {
            long count = _slots[slot].Tally.Count;
            if (last < 0 || _buckets[last].Count != count)
            {
                int b = NewBucket(count);
                _buckets[b].Prev = last;
                _buckets[b].Next = -1;
                if (last >= 0)
                {
                    _buckets[last].Next = b;
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
        Bucket[] buckets = _buckets!;
        int from = _slots[slot].Bucket;
        long count = _slots[slot].Tally.Count;
        int next = buckets[from].Next;
        int to;
        if (next >= 0 && buckets[next].Count == count)
        {
            to = next;
        }
        else
        {
            to = NewBucket(count);
            buckets[to].Prev = from;
            buckets[to].Next = next;
            buckets[from].Next = to;
            if (next >= 0)
            {
                buckets[next].Prev = to;
            }
        }

        Unlink(slot, from);
        Link(slot, to);
        if (buckets[from].Head < 0)
        {
            int prev = buckets[from].Prev;
            int after = buckets[from].Next;
            if (prev >= 0)
            {
                buckets[prev].Next = after;
            }
            else
            {
                _minBucket = after;
            }

            if (after >= 0)
            {
                buckets[after].Prev = prev;
            }

            buckets[from].Next = _freeBucket;
            _freeBucket = from;
        }
    }

    private int NewBucket(long count)
    {
        int b = _freeBucket;
        ref Bucket bucket = ref _buckets![b];
        _freeBucket = bucket.Next;
        bucket.Count = count;
        bucket.Head = -1;
        return b;
    }

    private void Link(int slot, int bucket)
    {
        int head = _buckets![bucket].Head;
        ref Slot s = ref _slots[slot];
        s.Next = head;
        s.Prev = -1;
        if (head >= 0)
        {
            _slots[head].Prev = slot;
        }

        _buckets[bucket].Head = slot;
        s.Bucket = bucket;
    }

    private void Unlink(int slot, int bucket)
    {
        int next = _slots[slot].Next;
        int prev = _slots[slot].Prev;
        if (prev >= 0)
        {
            _slots[prev].Next = next;
        }
        else
        {
            _buckets![bucket].Head = next;
        }

        if (next >= 0)
        {
            _slots[next].Prev = prev;
        }
    }

    /// <summary>One tracked address: its counts and, once the stream summary is built, its place in a bucket's list.</summary>
    private struct Slot
    {
        public AddressKey Key;
        public EntryTally<long> Tally;
        public int Bucket;
        public int Next;
        public int Prev;
    }

    /// <summary>The slots of one count, and the buckets of the next lower and higher counts.</summary>
    private struct Bucket
    {
        public long Count;
        public int Head;
        public int Next;
        public int Prev;
    }

    /// <summary>A hash cell: the slot plus one (0 for empty) and that slot's hash.</summary>
    private readonly record struct Cell(int SlotPlusOne, int Hash);
}
