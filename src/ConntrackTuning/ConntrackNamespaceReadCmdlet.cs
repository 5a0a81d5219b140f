namespace ConntrackTuning.Commands;

/// <summary>
/// Base of the read cmdlets whose answer is one network namespace's (Get-ConntrackExpectation,
/// Get-ConntrackStatistic, Get-ConntrackTimeout): -NetworkNamespace, bound by property name so that
/// Get-ConntrackNamespace pipes in, and each record's work run inside it on the kernel probed there.
/// </summary>
public abstract class ConntrackNamespaceReadCmdlet : ConntrackReadCmdlet
{
    /// <summary>
    /// The network namespace to read, by ip netns name, inode, process id or nsfs path; binds by property name from
    /// Get-ConntrackNamespace. The running system only.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    protected sealed override void ProcessRecord() => RunInNetworkNamespace(NetworkNamespace, Read);

    /// <summary>The work of one record: read <paramref name="kernel"/> (inside the namespace, if one was given) and write the objects.</summary>
    private protected abstract void Read(ConntrackKernel kernel);
}
