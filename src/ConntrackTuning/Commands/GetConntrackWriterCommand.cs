using ConntrackTuning.Engine.Writers;

namespace ConntrackTuning.Commands;

/// <summary>
/// Get-ConntrackWriter: every writer of the conntrack max, hash buckets and TCP timeouts on this system (the
/// sysctl files applied at boot, the active TuneD profile, kube-proxy), in the order they write, so the one
/// whose value holds is plain.
/// </summary>
[Cmdlet(VerbsCommon.Get, "ConntrackWriter")]
[OutputType(typeof(ConntrackWriterLayer))]
public sealed class GetConntrackWriterCommand : ConntrackReadCmdlet
{
    protected override void ProcessRecord() => Run(() =>
    {
        foreach (ConntrackWriterLayer layer in WriterLayers.Read(OpenRoot()))
        {
            WriteObject(layer);
        }
    });
}
