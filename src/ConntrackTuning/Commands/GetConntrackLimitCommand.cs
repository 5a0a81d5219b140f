using System.Management.Automation;
using ConntrackTuning.Engine.Limits;

namespace ConntrackTuning.Commands;

/// <summary>Get-ConntrackLimit: max, count and hash size, and where each was read; on an image, what its next boot applies.</summary>
[Cmdlet(VerbsCommon.Get, "ConntrackLimit")]
[OutputType(typeof(ConntrackLimit))]
public sealed class GetConntrackLimitCommand : ConntrackReadCmdlet
{
    /// <summary>The RAM the next boot's kernel default is computed for, instead of MemTotal; for an image, the RAM it will run with.</summary>
    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long? MemoryBytes { get; set; }

    /// <summary>Images: the installed kernel to predict for; the newest when omitted.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(InstalledKernelCompleter))]
    public string? KernelRelease { get; set; }

    protected override string? KernelReleaseToProbe => KernelRelease;

    protected override long? MemoryBytesToProbe => MemoryBytes;

    protected override void ProcessRecord() => Run(() => WriteObject(LimitReader.Read(ProbeKernel())));
}
