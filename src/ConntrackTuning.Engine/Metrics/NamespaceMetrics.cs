using ConntrackTuning.Engine.Namespaces;

namespace ConntrackTuning.Engine.Metrics;

/// <summary>
/// The per-namespace entry counts: one series for each of the fullest namespaces (labels netns, name, owner),
/// and the others summed into one series (netns="other"), so the number of series stays bounded however many
/// containers come and go on the host.
/// </summary>
internal static partial class MetricCollector
{
    /// <summary>Only the host's own namespace of the running system, read as root, can see and enter the others.</summary>
    private static bool WantsNamespaces(ConntrackKernel kernel) =>
        kernel.SystemRoot.IsLive && kernel.IsInitialNamespace && NamespaceContext.Current is null && ProcessIdentity.IsRoot;

    private static void AddNamespaces(List<ConntrackMetric> samples, ConntrackKernel kernel, MetricOptions options)
    {
        SystemRoot root = kernel.SystemRoot;
        NamespaceDirectory directory = NamespaceDirectory.Read(root);
        ulong? own = NamespaceDiscovery.ParseLink(root.LinkTarget("proc/self/ns/net"));
        var counts = new List<(string Inode, long Count)>();
        foreach ((FoundNamespace ns, PodInfo? _) in directory.All)
        {
            root.Cancellation.ThrowIfCancellationRequested();
            if (NamespaceReader.ReadCount(root, ns, own, out string? error) is { } count)
            {
                counts.Add((ns.Inode.ToString(CultureInfo.InvariantCulture), count));
            }
            else
            {
                root.Log.Verbose($"Network namespace {ns.Inode}: no count for the metrics ({error}).");
            }
        }

        const string help = "Entries in the conntrack table of one network namespace, read inside it over ctnetlink (as conntrack -C); each may hold up to entries_limit. "
            + "Labels: netns (inode), name (ip netns name, pod or container), owner (as Get-ConntrackNamespace words it). Only the -TopNamespaces fullest have a series of their own; netns=\"other\" sums the rest.";
        var ordered = counts.OrderByDescending(n => n.Count).ThenBy(n => n.Inode, StringComparer.Ordinal).ToList();
        var added = new List<ConntrackMetric>();
        foreach ((string inode, long count) in ordered.Take(options.TopNamespaces))
        {
            (string name, string owner) = directory.Describe(inode);
            added.Add(Sample(kernel, "namespace_entries", Gauge, help, count, ("netns", inode), ("name", name), ("owner", owner)));
        }

        if (ordered.Count > options.TopNamespaces)
        {
            added.Add(Sample(kernel, "namespace_entries", Gauge, help, ordered.Skip(options.TopNamespaces).Sum(n => n.Count), ("netns", "other"), ("name", "other"), ("owner", "other")));
        }

        added.Add(Sample(kernel, "namespaces", Gauge, "Network namespaces found on the host and read (namespace_entries covers at most -TopNamespaces of them one by one).", ordered.Count));
        samples.AddRange(added);
    }
}
