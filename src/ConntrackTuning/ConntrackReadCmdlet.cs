namespace ConntrackTuning.Commands;

/// <summary>
/// Base of the cmdlets that only read a system. Their -Root also binds from the pipeline by value, which is
/// what makes "Get-ChildItem ./sosreports -Directory | Get-ConntrackLimit" work: a DirectoryInfo has its own
/// Root property (the "/" of its path), and binding by property name alone would pick that instead of the
/// folder itself. By value, the folder converts to its full path first.
/// </summary>
public abstract class ConntrackReadCmdlet : ConntrackCmdlet
{
    /// <summary>The folder under which proc/, sys/ and var/log/ are read; "/" for this machine.</summary>
    [Parameter(ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public override string Root { get; set; } = "/";
}
