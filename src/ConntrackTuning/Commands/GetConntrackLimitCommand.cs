using ConntrackTuning.Engine.Limits;

namespace ConntrackTuning.Commands;

/// <summary>Get-ConntrackLimit: max, count and hash size, and where each was read; on an image, what its next boot applies.</summary>
[Cmdlet(VerbsCommon.Get, "ConntrackLimit")]
[OutputType(typeof(ConntrackLimit))]
public sealed class GetConntrackLimitCommand : ConntrackImageMemoryCmdlet
{
    protected override void ProcessRecord() => Run(() => WriteObject(LimitReader.Read(ProbeKernel())));
}
