using ConntrackTuning.Engine.Changes;

namespace ConntrackTuning.Commands;

/// <summary>Set-ConntrackTimeout: writes one timeout at run time (per network namespace) and, with -Persist, for the next boot.</summary>
[Cmdlet(VerbsCommon.Set, "ConntrackTimeout", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ApplySet)]
[OutputType(typeof(ConntrackChange))]
public sealed class SetConntrackTimeoutCommand : ConntrackSetCmdlet
{
    /// <summary>tcp, udp, icmp, sctp, gre, generic...: what the kernel offers (Tab completes).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TimeoutProtocolCompleter))]
    [ValidateNotNullOrEmpty]
    public string Protocol { get; set; } = "";

    /// <summary>The state (established, time_wait, stream); omit for a protocol with one timeout.</summary>
    [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TimeoutStateCompleter))]
    [AllowNull]
    [AllowEmptyString]
    public string? State { get; set; }

    /// <summary>The timeout in seconds.</summary>
    [Parameter(Mandatory = true, Position = 2, ValueFromPipelineByPropertyName = true)]
    [ValidateKernelRange(1, int.MaxValue, "the kernel accepts: it keeps a timeout in a signed 32-bit int (and in jiffies, at most 2147483647 / HZ seconds)")]
    public long Seconds { get; set; }

    /// <summary>
    /// The network namespace whose timeout is set, by ip netns name, inode, process id or nsfs path; binds by
    /// property name from Get-ConntrackNamespace. The running system only, and not with -Persist.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    private protected override string? TargetNamespace => NetworkNamespace;

    protected override void ProcessRecord() => Change(kernel => TimeoutPlanner.Plan(kernel, Protocol, State, Seconds, Mode, Force));
}
