using ConntrackTuning.Engine.Limits;

namespace ConntrackTuning.Commands;

/// <summary>Get-ConntrackLimit: max, count and hash size, and where each was read; on an image, what its next boot applies.</summary>
[Cmdlet(VerbsCommon.Get, "ConntrackLimit")]
[OutputType(typeof(ConntrackLimit))]
public sealed class GetConntrackLimitCommand : ConntrackImageMemoryCmdlet
{
    /// <summary>The view an image's limits are shown in: an image has no running values, only what its next boot applies.</summary>
    internal const string ImageTypeName = "ConntrackTuning.ConntrackLimit#Image";

    protected override void ProcessRecord() => Run(() =>
    {
        ConntrackLimit limit = LimitReader.Read(ProbeKernel());
        if (limit.RootKind != "Image")
        {
            WriteObject(limit);
            return;
        }

        var shown = PSObject.AsPSObject(limit);
        shown.TypeNames.Insert(0, ImageTypeName);
        WriteObject(shown);
    });
}
