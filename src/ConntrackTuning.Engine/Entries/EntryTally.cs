using System.Numerics;

namespace ConntrackTuning.Engine.Entries;

/// <summary>
/// Entries counted, and how many of them were unreplied and assured: the three figures of every row of a summary
/// (a protocol, a port, an address). The counts of one row sit side by side, so a count costs one memory access.
/// </summary>
internal struct EntryTally<T>
    where T : struct, IBinaryInteger<T>
{
    public T Count;
    public T Unreplied;
    public T Assured;

    public void Add(bool unreplied, bool assured)
    {
        Count++;
        if (unreplied)
        {
            Unreplied++;
        }

        if (assured)
        {
            Assured++;
        }
    }
}
