namespace ConntrackTuning.Engine.Netlink;

/// <summary>How a dump went, beyond the entries it delivered.</summary>
internal sealed class DumpOutcome
{
    public long Messages { get; set; }

    /// <summary>Entry messages skipped because their attributes were damaged.</summary>
    public long Malformed { get; set; }

    /// <summary>The kernel set NLM_F_DUMP_INTR: the table changed under the dump, entries may be missing or doubled.</summary>
    public bool Interrupted { get; set; }

    /// <summary>The visitor asked to stop before the end.</summary>
    public bool Stopped { get; set; }
}

/// <summary>The global count (conntrack -C) and, from kernels that send it, the global max.</summary>
internal readonly record struct CtnetlinkCount(long Entries, long? Max);
