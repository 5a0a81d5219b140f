namespace ConntrackTuning.Engine.Entries;

/// <summary>What one line of a table file turned out to be.</summary>
internal enum LineKind
{
    /// <summary>A connection entry; the record holds it.</summary>
    Entry,

    /// <summary>Not an entry but expected in such files: blank, 2.4 "EXPECTING:" lines, conntrack's closing "N flow entries" line.</summary>
    Ignored,

    /// <summary>Damaged or cut off: skipped, and counted so the reader can warn.</summary>
    Malformed,
}
