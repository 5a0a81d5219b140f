namespace ConntrackTuning;

/// <summary>
/// One writer of one conntrack sysctl, in the order the writers run: the last layer of a setting (Wins) is the
/// value it holds once everything has started. Output of Get-ConntrackWriter.
/// </summary>
public sealed record ConntrackWriterLayer
{
    /// <summary>The sysctl key, such as net.netfilter.nf_conntrack_max.</summary>
    public string Setting { get; init; } = "";

    /// <summary>1 for the first writer; a higher one writes later and so overrides it.</summary>
    public int Order { get; init; }

    /// <summary>sysctl (the sysctl.d files and sysctl.conf), TuneD (the active profile's [sysctl]), or kube-proxy.</summary>
    public string Writer { get; init; } = "";

    /// <summary>When it writes: at boot, at tuned's start, at kube-proxy's start.</summary>
    public string When { get; init; } = "";

    /// <summary>The value it writes.</summary>
    public string Value { get; init; } = "";

    /// <summary>The file and line, or the process, it comes from.</summary>
    public string Source { get; init; } = "";

    /// <summary>True for the layer whose value holds in the end.</summary>
    public bool Wins { get; init; }
}
