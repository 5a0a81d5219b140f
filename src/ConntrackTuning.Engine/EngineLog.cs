namespace ConntrackTuning.Engine;

/// <summary>
/// Where the engine reports what it does. The cmdlets forward these to WriteVerbose and WriteWarning; the
/// engine itself never writes to a console.
/// </summary>
public interface IEngineLog
{
    void Verbose(string message);

    void Warning(string message);
}

/// <summary>Discards everything; for callers that do not care.</summary>
public sealed class NullEngineLog : IEngineLog
{
    public static readonly NullEngineLog Instance = new();

    public void Verbose(string message) { }

    public void Warning(string message) { }
}
