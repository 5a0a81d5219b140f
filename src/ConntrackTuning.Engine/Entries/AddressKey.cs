namespace ConntrackTuning.Engine.Entries;

/// <summary>An address and its family as a dictionary key, with a cheap multiplicative hash.</summary>
internal readonly struct AddressKey(UInt128 address, bool ipv6) : IEquatable<AddressKey>
{
    public UInt128 Address { get; } = address;

    public bool IPv6 { get; } = ipv6;

    public bool Equals(AddressKey other) => Address == other.Address && IPv6 == other.IPv6;

    public override bool Equals(object? obj) => obj is AddressKey k && Equals(k);

    public override int GetHashCode()
    {
        // The 64-bit finalizer of MurmurHash3 over both halves: neighbouring addresses land far apart.
        ulong h = (ulong)Address ^ ((ulong)(Address >> 64) * 0x9E3779B97F4A7C15UL) ^ (IPv6 ? 0x5555UL : 0UL);
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDUL;
        h ^= h >> 33;
        return (int)h;
    }
}
