namespace ConntrackTuning.Engine;

/// <summary>
/// The kinds of failure the engine reports. The names equal PowerShell's ErrorCategory members so the
/// cmdlets can translate them without a lookup table, while the engine stays free of PowerShell.
/// </summary>
public enum ErrorKind
{
    NotSpecified,
    ObjectNotFound,
    InvalidData,
    InvalidArgument,
    InvalidOperation,
    PermissionDenied,
    ResourceUnavailable,
    ReadError,
    WriteError,
    NotImplemented,
    LimitsExceeded,
    ProtocolError,
    ResourceBusy,
}

/// <summary>A failure the engine understands: it carries a stable id, a kind and the path or key it concerns.</summary>
/// <remarks>
/// Only the constructor with an id exists: the usual message-only constructors would make failures with an id no
/// test provokes and no script can match on.
/// </remarks>
[Serializable]
public sealed class ConntrackException : Exception
{
    public ConntrackException(string errorId, ErrorKind kind, string message, string? target = null,
        string? recommendedAction = null, Exception? innerException = null)
        : base(message, innerException)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
        RecommendedAction = recommendedAction;
    }

    /// <summary>Stable identifier; scripts and tests match on it, so it never changes once released.</summary>
    public string ErrorId { get; }

    public ErrorKind Kind { get; }

    /// <summary>The file, key or value the failure is about.</summary>
    public string? Target { get; }

    /// <summary>What the user can do about it, in one sentence.</summary>
    public string? RecommendedAction { get; }
}
