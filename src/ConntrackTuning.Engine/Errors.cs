using System;

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

    public ConntrackException() : this(ErrorIds.Unexpected, ErrorKind.NotSpecified, "Unexpected failure.") { }

    public ConntrackException(string message) : this(ErrorIds.Unexpected, ErrorKind.NotSpecified, message) { }

    public ConntrackException(string message, Exception innerException)
        : this(ErrorIds.Unexpected, ErrorKind.NotSpecified, message, null, null, innerException) { }

    /// <summary>Stable identifier; scripts and tests match on it, so it never changes once released.</summary>
    public string ErrorId { get; }

    public ErrorKind Kind { get; }

    /// <summary>The file, key or value the failure is about.</summary>
    public string? Target { get; }

    /// <summary>What the user can do about it, in one sentence.</summary>
    public string? RecommendedAction { get; }
}
