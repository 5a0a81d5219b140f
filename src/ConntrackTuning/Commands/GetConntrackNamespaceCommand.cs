using ConntrackTuning.Engine.Namespaces;

namespace ConntrackTuning.Commands;

/// <summary>
/// Get-ConntrackNamespace: every network namespace of the host, what owns it (container, pod, ip netns name),
/// how many conntrack entries it holds (read inside it, as conntrack -C does) against the one global max, and
/// whether this boot's kernel log says its table was full. Fullest first.
/// </summary>
[Cmdlet(VerbsCommon.Get, "ConntrackNamespace")]
[OutputType(typeof(ConntrackNamespace))]
public sealed class GetConntrackNamespaceCommand : ConntrackReadCmdlet
{
    /// <summary>Only the N namespaces with the most entries.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Top { get; set; }

    protected override void ProcessRecord() => Run(() =>
    {
        SystemRoot root = OpenRoot();
        List<(FoundNamespace Found, PodInfo? Pod)> found = NamespaceReader.Find(root, out int unseen);
        if (unseen > 0)
        {
            WriteWarning($"The network namespaces of {unseen} processes of other users could not be read (their /proc/PID/ns/net is root's to read): the list shows the namespaces of this user's processes and of the bind mounts only, and Processes only the processes this user can see. Run Get-ConntrackNamespace as root (sudo) for all of them.");
        }

        ulong? own = NamespaceDiscovery.ParseLink(root.LinkTarget("proc/self/ns/net"));
        ConntrackKernel kernel = ProbeKernel();
        long? max = kernel.MaxPathsFound.Count > 0 ? root.TryReadInt64(kernel.MaxPathsFound[0]) : null;
        TableFullLog? log = TableFullLog.Read(root, out string? logError);
        if (log is null)
        {
            WriteWarning($"TableFullMessages is left empty for every namespace: {logError}");
        }

        var results = new List<ConntrackNamespace>(found.Count);
        (int Count, DateTime? First, DateTime? Last) reused = (0, null, null);
        var progress = new ProgressRecord(1, "Get-ConntrackNamespace", "Reading the entry count of each network namespace");
        for (int i = 0; i < found.Count; i++)
        {
            Cancellation.ThrowIfCancellationRequested();
            (FoundNamespace ns, PodInfo? pod) = found[i];
            if (found.Count > 20 && i % 10 == 0)
            {
                progress.PercentComplete = 100 * i / found.Count;
                progress.StatusDescription = $"network namespace {ns.Inode.ToString(CultureInfo.InvariantCulture)} ({i + 1} of {found.Count})";
                WriteProgress(progress);
            }

            long? count = NamespaceReader.ReadCount(root, ns, own, out string? error);
            if (error is not null)
            {
                WriteVerbose($"Network namespace {ns.Inode}: no count ({error}).");
            }

            results.Add(NamespaceReader.ToObject(root, ns, pod, count, error, max, log, out (int Count, DateTime? First, DateTime? Last) older));
            if (older.Count > 0)
            {
                reused = (reused.Count + older.Count, reused.First is { } f && f < older.First ? f : older.First, reused.Last is { } l && l > older.Last ? l : older.Last);
            }
        }

        if (reused.Count > 0)
        {
            // Once for the command: the inode allocator hands out the lowest free number, so churn reuses many.
            WriteWarning($"{reused.Count} table-full messages named inode numbers that belonged to network namespaces now gone (newer namespaces hold those numbers now), logged from {reused.First:yyyy-MM-dd HH:mm:ss} to {reused.Last:yyyy-MM-dd HH:mm:ss}: TableFullMessages counts only the messages since each namespace was made (its nsfs file's change time).");
        }

        progress.RecordType = ProgressRecordType.Completed;
        WriteProgress(progress);
        IEnumerable<ConntrackNamespace> sorted = results
            .OrderByDescending(n => n.Count ?? -1)
            .ThenByDescending(n => n.TableFullMessages)
            .ThenBy(n => n.Inode);
        foreach (ConntrackNamespace ns in Top > 0 ? sorted.Take(Top) : sorted)
        {
            WriteObject(ns);
        }
    });
}
