using ConntrackTuning.Engine.Changes;

namespace ConntrackTuning.Commands;

/// <summary>Set-ConntrackLimit: writes CONNTRACK_MAX at run time and, with -Persist, for the next boot.</summary>
[Cmdlet(VerbsCommon.Set, "ConntrackLimit", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ApplySet)]
[OutputType(typeof(ConntrackChange))]
public sealed class SetConntrackLimitCommand : ConntrackSetCmdlet
{
    /// <summary>The most entries the table may hold. 0 (no limit) is refused: it removes the protection the limit exists for.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateKernelRange(1, int.MaxValue, "the kernel accepts: it keeps nf_conntrack_max in a signed 32-bit int")]
    public long Max { get; set; }

    protected override void ProcessRecord() => Change(kernel => MaxPlanner.Plan(kernel, Max, Mode, Force));
}
