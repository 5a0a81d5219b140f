using ConntrackTuning.Engine.Changes;
using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Commands;

/// <summary>Set-ConntrackHashSize: resizes the hash table at run time (read back rounded) and, with -Persist, for the next boot.</summary>
[Cmdlet(VerbsCommon.Set, "ConntrackHashSize", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ApplySet)]
[OutputType(typeof(ConntrackChange))]
public sealed class SetConntrackHashSizeCommand : ConntrackSetCmdlet
{
    /// <summary>The number of buckets; the kernel bound is 268,435,455 (after rounding up to whole pages).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateKernelRange(1, HashSizeMath.MaxHashSize, "the kernel accepts: since commit b541ba7d1f5a it refuses more than INT_MAX / 8 buckets")]
    public long HashSize { get; set; }

    protected override void ProcessRecord() => Change(kernel => HashSizePlanner.Plan(kernel, HashSize, Mode, Force));
}
