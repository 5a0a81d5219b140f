namespace ConntrackTuning.Engine.Namespaces;

/// <summary>A pod's Kubernetes namespace and name, as the node's own files show them (no API server is asked).</summary>
internal sealed record PodInfo(string Uid, string? Namespace, string? Name);

/// <summary>
/// Pod names from the node's files: kubelet's log folders /var/log/pods/NAMESPACE_NAME_UID (the CRI log layout
/// every runtime writes), and, where those are missing, the pod's hostname in kubelet's
/// /var/lib/kubelet/pods/UID/etc-hosts (its last line is "IP HOSTNAME", the pod's name unless spec.hostname
/// overrides it).
/// </summary>
internal static class PodDirectory
{
    public static IReadOnlyDictionary<string, PodInfo> Read(SystemRoot root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var pods = new Dictionary<string, PodInfo>(StringComparer.OrdinalIgnoreCase);
        foreach (string folder in root.DirectoryNames("var/log/pods"))
        {
            if (ParseLogFolder(folder) is { } pod)
            {
                pods.TryAdd(pod.Uid, pod);
            }
        }

        foreach (string uid in root.DirectoryNames("var/lib/kubelet/pods"))
        {
            if (!pods.ContainsKey(uid) && HostName(root.ReadLines($"var/lib/kubelet/pods/{uid}/etc-hosts")) is { } name)
            {
                pods[uid] = new PodInfo(uid, null, name);
            }
        }

        return pods;
    }

    /// <summary>"kube-system_coredns-5d78c9869d-abcde_0f5e…" to its parts: names and namespaces hold no '_', UIDs none either.</summary>
    internal static PodInfo? ParseLogFolder(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string[] parts = folder.Split('_');
        return parts.Length == 3 && parts[0].Length > 0 && parts[1].Length > 0 && parts[2].Length >= 16 ? new PodInfo(parts[2], parts[0], parts[1]) : null;
    }

    /// <summary>The hostname of kubelet's managed hosts file: the last "IP NAME" line after its header.</summary>
    internal static string? HostName(IEnumerable<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        bool managed = false;
        string? name = null;
        foreach (string raw in lines)
        {
            string line = raw.Trim();
            if (line.StartsWith("# Kubernetes-managed hosts file", StringComparison.Ordinal))
            {
                managed = true;
                continue;
            }

            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            string[] fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 2 && fields[1] is not ("localhost" or "ip6-localhost" or "ip6-loopback" or "localnet" or "ip6-localnet" or "ip6-mcastprefix" or "ip6-allnodes" or "ip6-allrouters"))
            {
                name = fields[1];
            }
        }

        return managed ? name : null;
    }
}
