using ConntrackTuning.Engine.Namespaces;
using ConntrackTuning.Engine.Writers;

namespace ConntrackTuning.Engine.Health;

/// <summary>
/// The check "KubeProxy": a kube-proxy on this node rewrites nf_conntrack_max, the hash size and two TCP
/// timeouts at every start. Where what it will write differs from what the kernel has now, the value changes
/// back at its next start (the "why did my max change back?" of Kubernetes nodes); the finding says to what and
/// which kube-proxy setting avoids it.
/// </summary>
internal static class WriterHealth
{
    public static IEnumerable<HealthResult> KubeProxyCheck(HealthContext c)
    {
        ArgumentNullException.ThrowIfNull(c);
        if (NamespaceContext.Current is not null || !c.Kernel.IsInitialNamespace)
        {
            // kube-proxy writes the namespace it runs in: the host's.
            yield break;
        }

        foreach (KubeProxyPlan plan in KubeProxy.Find(c.Root))
        {
            var changes = new List<string>();
            var avoid = new List<string>();
            string basis = plan.Basis.Count > 0 ? string.Join(", ", plan.Basis) : "its defaults";
            if (plan.Max is { } max && c.Limit?.Max is { } current && max != current)
            {
                changes.Add(KubeProxyAdvice.Words(plan, "nf_conntrack_max", "max", max, current));
                avoid.Add(KubeProxy.Avoid(plan, "max"));
            }

            if (plan.TcpEstablishedSeconds is { } est && c.TcpEstablishedTimeout is { } currentEst && est != currentEst)
            {
                changes.Add(KubeProxyAdvice.Words(plan, "nf_conntrack_tcp_timeout_established", "established", est, currentEst));
                avoid.Add(KubeProxy.Avoid(plan, "established"));
            }

            if (changes.Count > 0)
            {
                yield return new(HealthSeverity.Warning, string.Join(" ", changes), string.Join("; ", avoid), $"/proc/{plan.ProcessId}/cmdline ({basis})");
            }
            else
            {
                yield return new(HealthSeverity.Info,
                    $"kube-proxy (process {plan.ProcessId}{(plan.Host == "kube-proxy" ? "" : ", in " + plan.Host)}) runs here and rewrites the conntrack sysctls at every start; what it will write matches the kernel now (max {(plan.Max is { } m ? m.ToString("N0", CultureInfo.InvariantCulture) : "left alone")}).",
                    null, $"/proc/{plan.ProcessId}/cmdline ({basis})");
            }
        }
    }

    /// <summary>
    /// The check "BpfConntrack": Cilium's and Calico's own conntrack maps, beside the kernel table. A full map drops
    /// new connections without any kernel log line, so when the log is silent and a map is full, that map is the
    /// table that drops.
    /// </summary>
    public static IEnumerable<HealthResult> BpfCheck(HealthContext c)
    {
        ArgumentNullException.ThrowIfNull(c);
        if (!c.Root.IsLive || NamespaceContext.Current is not null || !Platform.ProcessIdentity.IsRoot)
        {
            yield break;
        }

        var maps = new List<ConntrackBpfMap>();
        foreach (string path in BpfMaps.FindPinned(BpfMaps.MountPoints(c.Root)))
        {
            maps.Add(BpfMaps.Read(path, TimeSpan.FromSeconds(1), 4_000_000, c.Root.Cancellation));
        }

        if (maps.Count == 0)
        {
            yield break;
        }

        bool logSilent = c.Events is { } events && events.Logged == 0;
        foreach (ConntrackBpfMap map in maps.Where(m => m.Error is null))
        {
            double usage = map.UsagePercent ?? 0;
            HealthSeverity severity = usage >= c.Options.CriticalPercent ? HealthSeverity.Critical
                : usage >= c.Options.WarningPercent ? HealthSeverity.Warning
                : HealthSeverity.Info;
            string fill = $"{(map.EntriesComplete ? "" : "at least ")}{map.Entries?.ToString("N0", CultureInfo.InvariantCulture)} of {map.MaxEntries.ToString("N0", CultureInfo.InvariantCulture)} ({usage.ToString("0.##", CultureInfo.InvariantCulture)} %)";
            // An LRU map (Cilium's) never refuses an insert: when full it evicts its least recently used entries.
            bool lru = map.MapType is "lru_hash" or "lru_percpu_hash";
            string tail = (severity >= HealthSeverity.Warning && logSilent, lru) switch
            {
                (true, false) => " The kernel log has no table-full message: this map is the table that drops, and a full BPF map logs nothing.",
                (true, true) => " The kernel log has no table-full message: this map is the table that loses connections. It is an LRU map: when full it evicts its least recently used entries to make room, so live connections lose their state, and it logs nothing.",
                (false, true) => " It is an LRU map: when it fills, it evicts its least recently used entries to make room, so live connections lose their state, with no kernel log message.",
                _ => " When it fills, new connections are dropped with no kernel log message" + (map.Owner == "Cilium" ? " (Cilium counts them as drop reason \"CT: Map insertion failed\")." : "."),
            };
            yield return new(severity, $"{map.Owner}'s {map.Table} conntrack map {map.Name} holds {fill}.{tail}",
                severity >= HealthSeverity.Warning
                    ? (map.Owner == "Cilium" ? "Raise bpf-ct-global-tcp-max / bpf-ct-global-any-max (or bpf-map-dynamic-size-ratio) in the cilium-config ConfigMap and restart the agents" : "Raise bpfMapSizeConntrack in FelixConfiguration (or keep bpfMapSizeConntrackScaling: DoubleIfFull)")
                    : null,
                map.Path);
        }
    }
}
