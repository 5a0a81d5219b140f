using ConntrackTuning.Engine.Limits;

namespace ConntrackTuning.Commands;

/// <summary>Get-ConntrackKernel: what kernel is under the root, which tracker and era, and what can be changed.</summary>
[Cmdlet(VerbsCommon.Get, "ConntrackKernel")]
[OutputType(typeof(ConntrackKernel))]
public sealed class GetConntrackKernelCommand : ConntrackImageCmdlet
{
    protected override void ProcessRecord() => Run(() =>
    {
        ConntrackKernel kernel = ProbeKernel();
        // An image runs nothing by nature: saying the tracker "was not active" there is noise.
        if (!kernel.IsLoaded && kernel.RootKind != "Image")
        {
            WriteWarning(LimitReader.NotLoaded(kernel).Message);
        }

        WriteObject(kernel);
    });
}
