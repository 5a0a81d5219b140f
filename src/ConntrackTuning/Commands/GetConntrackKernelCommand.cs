using System.Management.Automation;
using ConntrackTuning.Engine.Limits;

namespace ConntrackTuning.Commands;

/// <summary>Get-ConntrackKernel: what kernel is under the root, which tracker and era, and what can be changed.</summary>
[Cmdlet(VerbsCommon.Get, "ConntrackKernel")]
[OutputType(typeof(ConntrackKernel))]
public sealed class GetConntrackKernelCommand : ConntrackReadCmdlet
{
    protected override void ProcessRecord() => Run(() =>
    {
        ConntrackKernel kernel = ProbeKernel();
        if (!kernel.IsLoaded)
        {
            WriteWarning(LimitReader.NotLoaded(kernel).Message);
        }

        WriteObject(kernel);
    });
}
