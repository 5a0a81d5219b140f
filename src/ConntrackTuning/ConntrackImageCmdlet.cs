namespace ConntrackTuning.Commands;

/// <summary>
/// Base of the read cmdlets that can describe an image for one of its installed kernels (-KernelRelease, completed
/// from the lib/modules folders under the -Root being typed). On a live system the running kernel is read whatever
/// is given.
/// </summary>
public abstract class ConntrackImageCmdlet : ConntrackReadCmdlet
{
    /// <summary>Images: the installed kernel to read, as its lib/modules folder is named; the newest when omitted.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(InstalledKernelCompleter))]
    public string? KernelRelease { get; set; }

    protected override string? KernelReleaseToProbe => KernelRelease;
}
