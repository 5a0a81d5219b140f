using ConntrackTuning.Engine.Limits;

namespace ConntrackTuning.Commands;

/// <summary>Get-ConntrackTimeout: every timeout the running kernel has, with its default and persisted value.</summary>
[Cmdlet(VerbsCommon.Get, "ConntrackTimeout")]
[OutputType(typeof(ConntrackTimeout))]
public sealed class GetConntrackTimeoutCommand : ConntrackNamespaceReadCmdlet
{
    /// <summary>Only timeouts of these protocols (wildcards allowed).</summary>
    [Parameter(Position = 0)]
    [ArgumentCompleter(typeof(TimeoutProtocolCompleter))]
    [SupportsWildcards]
    public string[]? Protocol { get; set; }

    /// <summary>Only timeouts of these states (wildcards allowed).</summary>
    [Parameter(Position = 1)]
    [ArgumentCompleter(typeof(TimeoutStateCompleter))]
    [SupportsWildcards]
    public string[]? State { get; set; }

    private protected override void Read(ConntrackKernel kernel)
    {
        foreach (ConntrackTimeout timeout in TimeoutReader.Read(kernel))
        {
            if (Matches(Protocol, timeout.Protocol) && Matches(State, timeout.State ?? ""))
            {
                WriteObject(timeout);
            }
        }
    }

    private static bool Matches(string[]? patterns, string value)
    {
        if (patterns is null || patterns.Length == 0)
        {
            return true;
        }

        foreach (string pattern in patterns)
        {
            if (WildcardPattern.Get(pattern, WildcardOptions.IgnoreCase).IsMatch(value))
            {
                return true;
            }
        }

        return false;
    }
}
