namespace ConntrackTuning;

/// <summary>
/// One entry of the expectation table: a connection a helper (ftp, sip, h323, ...) announced from what it read in
/// its master connection, so that the data or media connection is let in as RELATED. Output of
/// Get-ConntrackExpectation. The expected tuple is compared under the mask: a mask port of 0 means any port.
/// </summary>
public sealed class ConntrackExpectation
{
    /// <summary>IPv4 or IPv6.</summary>
    public string Family { get; init; } = "IPv4";

    /// <summary>The protocol of the expected connection (tcp for FTP data, udp for RTP).</summary>
    public string Protocol { get; init; } = "";

    public string Source { get; init; } = "";

    public string Destination { get; init; } = "";

    public int? SourcePort { get; init; }

    public int? DestinationPort { get; init; }

    /// <summary>The mask the expected tuple is compared under; null when the source does not show it (procfs).</summary>
    public string? MaskSource { get; init; }

    public string? MaskDestination { get; init; }

    public int? MaskSourcePort { get; init; }

    public int? MaskDestinationPort { get; init; }

    /// <summary>The master (control) connection that announced it; null from the procfs file, which does not show it.</summary>
    public string? MasterProtocol { get; init; }

    public string? MasterSource { get; init; }

    public string? MasterDestination { get; init; }

    public int? MasterSourcePort { get; init; }

    public int? MasterDestinationPort { get; init; }

    /// <summary>The helper of the master connection: ftp, sip, h323, irc, tftp, ...</summary>
    public string? Helper { get; init; }

    /// <summary>The helper's name for the expectation class (sip: signalling, audio, video), when it has one.</summary>
    public string? PolicyName { get; init; }

    /// <summary>Seconds until the expectation lapses unless the expected connection arrives; null when it has no timer.</summary>
    public long? Timeout { get; init; }

    /// <summary>Permanent, Inactive, Userspace.</summary>
    public IReadOnlyList<string> Flags { get; init; } = [];

    /// <summary>The helper's expectation class (an index into its policies); null from the procfs file.</summary>
    public int? Class { get; init; }

    public int Zone { get; init; }

    public long? Id { get; init; }

    /// <summary>"ctnetlink", or the full path of the file read.</summary>
    public string ReadFrom { get; init; } = "";

    /// <summary>
    /// The inode of the network namespace read with -NetworkNamespace (or piped from Get-ConntrackNamespace); null
    /// for this process's own, so that expectations of several namespaces say whose each is.
    /// </summary>
    public string? NetworkNamespace { get; init; } = Engine.Namespaces.NamespaceContext.CurrentInode;
}
