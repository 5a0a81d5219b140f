namespace ConntrackTuning.Engine;

/// <summary>
/// Where the engine reports what it does. The cmdlets forward these to WriteVerbose, WriteWarning and
/// WriteProgress; the engine itself never writes to a console.
/// </summary>
internal interface IEngineLog
{
    void Verbose(string message);

    void Warning(string message);

    /// <summary>
    /// How far long work has got. The engine throttles these itself (see Progress/ProgressReporter), so an
    /// implementation may show every one; a log that does not show progress ignores them, which is the default.
    /// </summary>
    void Progress(EngineProgress progress) { }
}

/// <summary>Discards everything; for callers that do not care.</summary>
internal sealed class NullEngineLog : IEngineLog
{
    public static readonly NullEngineLog Instance = new();

    public void Verbose(string message) { }

    public void Warning(string message) { }

    public void Progress(EngineProgress progress) { }
}

/// <summary>
/// The kinds of long work. The number is the activity's stable id (PowerShell's ProgressRecord.ActivityId), so
/// a host or a script can tell the activities apart across commands.
/// </summary>
public enum EngineActivity
{
    None = 0,

    /// <summary>Reading kernel log files, the journal or the ring buffer for table-full messages.</summary>
    ScanKernelLog = 0x43540001,

    /// <summary>Dumping or summarising the conntrack table (ctnetlink, the procfs file or a saved table).</summary>
    ReadEntries = 0x43540002,

    /// <summary>Waiting for another invocation to release the root's write lock.</summary>
    WaitForLock = 0x43540003,
}

/// <summary>One report of long work: what, how far (Current of Total, when the total is known), and whether it has ended.</summary>
internal sealed record EngineProgress(EngineActivity Activity, string Title, string Status, long Current, long Total, bool Completed)
{
    /// <summary>The time the rest should take at the rate so far; null when it cannot be told.</summary>
    public TimeSpan? Remaining { get; init; }

    /// <summary>0 to 100, or -1 when the total is not known.</summary>
    public int PercentComplete => Completed ? 100 : Total > 0 ? (int)Math.Clamp(Current * 100 / Total, 0, 100) : -1;
}
