using ConntrackTuning.Engine.Limits;

namespace ConntrackTuning.Commands;

/// <summary>Get-ConntrackLimit: max, count and hash size, and where each was read; on an image, what its next boot applies.</summary>
[Cmdlet(VerbsCommon.Get, "ConntrackLimit")]
[OutputType(typeof(ConntrackLimit))]
public sealed class GetConntrackLimitCommand : ConntrackImageMemoryCmdlet
{
    protected override void ProcessRecord() => Run(() => WriteObject(Shown(LimitReader.Read(ProbeKernel()))));

    // An image has no running values, only what its next boot applies: its own view (Format.ps1xml) shows those.
    private static object Shown(ConntrackLimit limit)
    {
        if (limit.RootKind != "Image")
        {
            return limit;
        }

        var shown = PSObject.AsPSObject(limit);
        shown.TypeNames.Insert(0, "ConntrackTuning.ConntrackLimit#Image");
        return shown;
    }
}
