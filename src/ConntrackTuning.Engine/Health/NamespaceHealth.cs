using ConntrackTuning.Engine.Limits;
using ConntrackTuning.Engine.Namespaces;

using static ConntrackTuning.Engine.Health.HealthText;

namespace ConntrackTuning.Engine.Health;

/// <summary>
/// The check "Namespaces": on a host, which network namespaces are closest to the limit (each namespace may hold
/// up to the global max on its own, so a container can drop while the host's own table looks empty), and which
/// namespaces the table-full messages of the kernel log name, with their owners now.
/// </summary>
internal static class NamespaceHealth
{
    private const int Shown = 3;

    public static IEnumerable<HealthResult> Check(HealthContext c)
    {
        ArgumentNullException.ThrowIfNull(c);
        SystemRoot root = c.Root;
        if (!root.IsLive || !c.Kernel.IsInitialNamespace || NamespaceContext.Current is not null)
        {
            // Inside a namespace (or a capture) the other namespaces are not this check's to read.
            yield break;
        }

        if (!ProcessIdentity.IsRoot)
        {
            yield return new(HealthSeverity.Info, "The entry counts of the other network namespaces were not read: entering them needs root.",
                "Run Test-ConntrackHealth as root, or Get-ConntrackNamespace with sudo.");
            yield break;
        }

        NamespaceDirectory directory = NamespaceDirectory.Read(root);
        ulong? own = NamespaceDiscovery.ParseLink(root.LinkTarget("proc/self/ns/net"));
        var counts = new List<(string Inode, long Count)>();
        foreach ((FoundNamespace ns, PodInfo? _) in directory.All)
        {
            root.Cancellation.ThrowIfCancellationRequested();
            if (NamespaceReader.ReadCount(root, ns, own, out _) is { } count)
            {
                counts.Add((ns.Inode.ToString(CultureInfo.InvariantCulture), count));
            }
        }

        if (c.Limit?.Max is { } max && max > 0 && counts.Count > 0)
        {
            var top = counts.OrderByDescending(n => n.Count).ThenBy(n => n.Inode, StringComparer.Ordinal).Take(Shown).ToList();
            // The figure Get-ConntrackNamespace shows as UsagePercent, judged as the Usage check judges the host's table.
            HealthSeverity severity = c.Options.UsageSeverity(TableRatios.UsagePercent(top[0].Count, max)!.Value);
            string list = string.Join("; ", top.Select(n => $"{directory.Label(n.Inode)}: {N(n.Count)} entries ({P(TableRatios.UsagePercent(n.Count, max)!.Value)} %)"));
            yield return new(severity,
                $"Closest to the limit of {N(max)} (each network namespace may hold up to it): {list}. {counts.Count} namespaces were read.",
                severity >= HealthSeverity.Warning ? $"Get-ConntrackEntry -NetworkNamespace {top[0].Inode} -Summary; {Remedy.RaiseMax(c)}" : null,
                "Get-ConntrackNamespace");
        }

        if (c.Events is { } events)
        {
            // A message older than the namespace holding its inode now was an earlier, gone namespace's.
            var named = events.ByNamespace.Where(kv => kv.Key.Length > 0)
                .SelectMany(kv => events.TimesByNamespace.GetValueOrDefault(kv.Key) is { } times
                    ? times.GroupBy(t => directory.Predates(kv.Key, t)).Select(g => (Label: g.Key ? $"{kv.Key} ({NamespaceDirectory.Gone})" : directory.Label(kv.Key), Value: (long)g.Count()))
                    : [(Label: directory.Label(kv.Key), kv.Value)])
                .OrderByDescending(n => n.Value).ThenBy(n => n.Label, StringComparer.Ordinal).ToList();
            if (named.Count > 0)
            {
                string list = string.Join("; ", named.Select(n => $"{n.Label}: {N(n.Value)}"));
                yield return new(HealthSeverity.Warning,
                    $"Table-full messages name {named.Count} network namespace{(named.Count == 1 ? "" : "s")} (inode (owner then, or gone): messages): {list}. A namespace that is gone may have had its inode reused.",
                    $"Get-ConntrackDropEvent | Format-Table TimeStamp, NetworkNamespace, NamespaceName, Owner; {Remedy.RaiseMax(c)}",
                    string.Join(", ", c.EventSources));
            }
        }
    }
}
