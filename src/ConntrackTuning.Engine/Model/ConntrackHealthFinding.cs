namespace ConntrackTuning;

/// <summary>
/// One verdict of Test-ConntrackHealth: what was checked, how bad it is, the evidence, and the exact command
/// that fixes it.
/// </summary>
public sealed class ConntrackHealthFinding
{
    /// <summary>Ok, Info, Warning or Critical.</summary>
    public string Severity { get; init; } = "";

    /// <summary>
    /// The severity as a number that sorts and compares: 0 Ok, 1 Info, 2 Warning, 3 Critical. "Warning and
    /// worse" is SeverityLevel -ge 2 (or Test-ConntrackHealth -MinimumSeverity Warning).
    /// </summary>
    public int SeverityLevel { get; init; }

    /// <summary>The check's name: Loaded, Namespace, Usage, KernelDefault, Drop, EarlyDrop, InsertFailed, Statistics, TableFullEvents, KernelLog, EntriesPerBucket, TcpEstablishedTimeout.</summary>
    public string Check { get; init; } = "";

    /// <summary>What was found, in a sentence or two.</summary>
    public string Message { get; init; } = "";

    /// <summary>The command that fixes it, ready to run; null when there is nothing to fix or no command can.</summary>
    public string? Recommendation { get; init; }

    /// <summary>The values and where they were read (files, log lines), so the verdict can be checked.</summary>
    public string? Evidence { get; init; }

    /// <summary>The inode of the network namespace that was checked; null when unknown.</summary>
    public string? NetworkNamespace { get; init; }

    public string Root { get; init; } = "/";

    public override string ToString() => $"{Severity} {Check}: {Message}";
}
