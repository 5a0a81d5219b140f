using ConntrackTuning.Engine.Writers;

namespace ConntrackTuning.Commands;

/// <summary>
/// Get-ConntrackBpfMap: the eBPF conntrack maps Cilium and Calico pin in bpffs, with their size and fill, the
/// other table on a node whose dataplane bypasses (or doubles) the kernel's: the one that drops when the kernel
/// log says nothing.
/// </summary>
[Cmdlet(VerbsCommon.Get, "ConntrackBpfMap")]
[OutputType(typeof(ConntrackBpfMap))]
public sealed class GetConntrackBpfMapCommand : ConntrackReadCmdlet
{
    /// <summary>bpffs folders to search (wildcards allowed); by default every bpf mount of this system (else /sys/fs/bpf).</summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? Path { get; set; }

    /// <summary>
    /// bpffs folders to search, named exactly as written. Not bound from the pipeline: a piped folder binds to -Root
    /// by value, as for every reading cmdlet.
    /// </summary>
    [Parameter]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[]? LiteralPath { get; set; }

    /// <summary>How long the fill of one map may be counted, in seconds, before the count stops as a lower bound.</summary>
    [Parameter]
    [ValidateRange(0.01, 600)]
    public double TimeoutSeconds { get; set; } = 2;

    /// <summary>How many keys of one map are counted at most.</summary>
    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long MaxKeys { get; set; } = 4_000_000;

    protected override void ProcessRecord() => Run(() =>
    {
        SystemRoot root = OpenRoot();
        if (!root.IsLive)
        {
            WriteVerbose($"BPF maps live in the running kernel only; {root.Path} is read as a capture and has none.");
            return;
        }

        // Each folder that names nothing is its own error; the folders that resolve are still searched.
        IReadOnlyList<string> folders = Path is null && LiteralPath is null ? BpfMaps.MountPoints(root) : ExistingPaths(Path, LiteralPath, PathUse.BpfFolder).ToList();
        if (folders.Count == 0)
        {
            return;
        }

        WriteVerbose($"Searching {string.Join(", ", folders)} for Cilium and Calico conntrack maps.");
        var progress = new ProgressRecord(2, "Get-ConntrackBpfMap", "Counting the entries of each map");
        foreach (string path in BpfMaps.FindPinned(folders))
        {
            Cancellation.ThrowIfCancellationRequested();
            progress.StatusDescription = path;
            WriteProgress(progress);
            ConntrackBpfMap map = BpfMaps.Read(path, TimeSpan.FromSeconds(TimeoutSeconds), MaxKeys, Cancellation);
            if (map.Error is { } error)
            {
                WriteWarning($"{path}: {error}");
            }
            else if (!map.EntriesComplete)
            {
                WriteWarning($"{path}: only {map.Entries:N0} keys were counted within {TimeoutSeconds} s or {MaxKeys:N0} keys; Entries is a lower bound.");
            }

            WriteObject(map);
        }

        progress.RecordType = ProgressRecordType.Completed;
        WriteProgress(progress);
    });
}
