using ConntrackTuning.Engine.Entries;

namespace ConntrackTuning.Commands;

/// <summary>
/// Base of the cmdlets that select conntrack entries the way conntrack -L does (Get-ConntrackEntry,
/// Get-ConntrackEvent, Remove-ConntrackEntry): the filter parameters with their completion and validation, and
/// the one translation of them into an <see cref="EntryFilter"/>, <see cref="Filter"/>. The parameters are in every
/// parameter set; a cmdlet that allows them in one set only overrides them with that set named (the virtual
/// properties keep <see cref="BuildFilter"/> reading whichever declaration PowerShell bound).
/// </summary>
public abstract class ConntrackFilterCmdlet : ConntrackReadCmdlet
{
    /// <summary>Protocol names or numbers: tcp, udp, icmp, icmpv6, sctp, gre, udplite, dccp, 132, ...</summary>
    [Parameter]
    [ArgumentCompleter(typeof(ConntrackProtocolCompleter))]
    [ValidateNotNullOrEmpty]
    public virtual string[]? Protocol { get; set; }

    /// <summary>Protocol states: ESTABLISHED, TIME_WAIT, SYN_SENT, ... (TCP, SCTP and DCCP entries only).</summary>
    [Parameter]
    [ArgumentCompleter(typeof(ConntrackStateCompleter))]
    [ValidateNotNullOrEmpty]
    public virtual string[]? State { get; set; }

    /// <summary>Source addresses or CIDR blocks of the original direction.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public virtual string[]? Source { get; set; }

    /// <summary>Destination addresses or CIDR blocks of the original direction.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public virtual string[]? Destination { get; set; }

    /// <summary>Ports matched on either side of the original direction.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public virtual int[]? Port { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public virtual int[]? SourcePort { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public virtual int[]? DestinationPort { get; set; }

    /// <summary>A connection mark, optionally with a mask: 7, 0x7, 0x10/0xf0.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public virtual string? Mark { get; set; }

    [Parameter]
    [ValidateRange(0, 65535)]
    public virtual int Zone { get; set; }

    [Parameter]
    [ValidateSet("IPv4", "IPv6")]
    public virtual string? Family { get; set; }

    /// <summary>Only entries that saw no reply (early-drop candidates).</summary>
    [Parameter]
    public virtual SwitchParameter Unreplied { get; set; }

    /// <summary>Only assured entries (those early drop cannot evict).</summary>
    [Parameter]
    public virtual SwitchParameter Assured { get; set; }

    /// <summary>The filter the parameters describe, built once before the first record.</summary>
    private protected EntryFilter Filter { get; private set; } = EntryFilter.None;

    /// <summary>
    /// Builds <see cref="Filter"/> (zone 0 counts only when -Zone was given). A value that does not parse spoils
    /// every record of the pipeline alike, so it ends the command before anything is read.
    /// </summary>
    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        Filter = BuildFilter();
    }

    private EntryFilter BuildFilter()
    {
        try
        {
            return EntryFilter.Parse(Family, Protocol, State, Source, Destination, Port, SourcePort, DestinationPort, Mark,
                MyInvocation.BoundParameters.ContainsKey(nameof(Zone)) ? Zone : null, Unreplied, Assured);
        }
        catch (ConntrackException e)
        {
            ThrowTerminatingError(ToErrorRecord(e));
            throw;
        }
    }
}
