using System.Text.RegularExpressions;

namespace ConntrackTuning.Engine.Namespaces;

/// <summary>What a process's cgroup path says about who started it.</summary>
/// <param name="Kind">Docker, Kubernetes, CriO, Podman, Nspawn, Lxc or Systemd (a plain service).</param>
/// <param name="Runtime">docker, containerd, cri-o, podman, systemd-nspawn, lxc; null for a plain service.</param>
/// <param name="ContainerId">The container id, or the machine or container name for nspawn and LXC.</param>
/// <param name="PodUid">The Kubernetes pod UID (dashes restored), when the path is under kubepods.</param>
internal sealed record CgroupOwner(string Kind, string? Runtime, string? ContainerId, string? PodUid);

/// <summary>
/// Reads the owner from the cgroup paths of /proc/PID/cgroup (v2 "0::/path", v1 "N:controllers:/path"). The
/// patterns are the ones the runtimes name their cgroups with, with the systemd driver and the cgroupfs driver:
/// docker-ID.scope, /docker/ID; kubepods-…-podUID.slice/cri-containerd-ID.scope and /kubepods/…/podUID/ID;
/// crio-ID.scope; libpod-ID.scope; machine-NAME.scope (systemd-nspawn); lxc.payload.NAME and /lxc/NAME.
/// </summary>
internal static partial class CgroupOwnerParser
{
    [GeneratedRegex(@"(?:^|/)kubepods(?:[.-][^/]*)?/(?:[^/]*/)*?(?:kubepods-(?:[^/]*-)?)?pod([0-9a-fA-F_-]{16,})(?:\.slice)?(?:/|$)")]
    private static partial Regex KubePod();

    [GeneratedRegex(@"(?:^|/)(?:cri-containerd|crio|docker|libpod)-([0-9a-f]{12,})\.scope(?:/|$)")]
    private static partial Regex ScopeId();

    [GeneratedRegex(@"pod[0-9a-fA-F_-]{16,}(?:\.slice)?/(?:cri-containerd-|crio-|docker-)?([0-9a-f]{12,})(?:\.scope)?(?:/|$)")]
    private static partial Regex KubeContainer();

    [GeneratedRegex(@"(?:^|/)docker/([0-9a-f]{12,})(?:/|$)")]
    private static partial Regex DockerCgroupfs();

    [GeneratedRegex(@"(?:^|/)libpod-conmon-[0-9a-f]+\.scope(?:/|$)")]
    private static partial Regex Conmon();

    [GeneratedRegex(@"(?:^|/)machine-([^/]+)\.scope(?:/|$)")]
    private static partial Regex Machine();

    [GeneratedRegex(@"(?:^|/)(?:lxc\.payload\.|lxc\.payload/|lxc/)([^/]+)(?:/|$)")]
    private static partial Regex Lxc();

    /// <summary>The owner named by any line of a /proc/PID/cgroup file, or null for a process of the host itself.</summary>
    public static CgroupOwner? Parse(IEnumerable<string> cgroupLines)
    {
        ArgumentNullException.ThrowIfNull(cgroupLines);
        CgroupOwner? best = null;
        foreach (string line in cgroupLines)
        {
            // hierarchy-id:controllers:path; the path may itself hold ':' (never in the runtimes' names).
            int second = line.IndexOf(':', line.IndexOf(':') + 1);
            if (second < 0)
            {
                continue;
            }

            if (ParsePath(line[(second + 1)..]) is { } owner && (best is null || Rank(owner) > Rank(best)))
            {
                best = owner;
            }
        }

        return best;
    }

    /// <summary>The owner one cgroup path names, or null.</summary>
    public static CgroupOwner? ParsePath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (KubePod().Match(path) is { Success: true } pod)
        {
            string uid = pod.Groups[1].Value.Replace('_', '-');
            string? id = KubeContainer().Match(path) is { Success: true } c ? c.Groups[1].Value : null;
            string? runtime = path.Contains("cri-containerd-", StringComparison.Ordinal) ? "containerd"
                : path.Contains("crio-", StringComparison.Ordinal) ? "cri-o"
                : path.Contains("docker-", StringComparison.Ordinal) ? "docker"
                : null;
            return new CgroupOwner("Kubernetes", runtime, id, uid);
        }

        if (Conmon().IsMatch(path))
        {
            // Podman's monitor runs in the host namespace beside the container; it does not own it.
            return null;
        }

        if (ScopeId().Match(path) is { Success: true } scope)
        {
            string prefix = path[..scope.Groups[1].Index];
            return prefix.EndsWith("crio-", StringComparison.Ordinal) ? new CgroupOwner("CriO", "cri-o", scope.Groups[1].Value, null)
                : prefix.EndsWith("libpod-", StringComparison.Ordinal) ? new CgroupOwner("Podman", "podman", scope.Groups[1].Value, null)
                : prefix.EndsWith("cri-containerd-", StringComparison.Ordinal) ? new CgroupOwner("Containerd", "containerd", scope.Groups[1].Value, null)
                : new CgroupOwner("Docker", "docker", scope.Groups[1].Value, null);
        }

        if (DockerCgroupfs().Match(path) is { Success: true } docker)
        {
            return new CgroupOwner("Docker", "docker", docker.Groups[1].Value, null);
        }

        if (Machine().Match(path) is { Success: true } machine)
        {
            // systemd escapes '-' in unit names as \x2d; podman's machines are libpod-*, already matched above.
            return new CgroupOwner("Nspawn", "systemd-nspawn", Unescape(machine.Groups[1].Value), null);
        }

        if (Lxc().Match(path) is { Success: true } lxc)
        {
            return new CgroupOwner("Lxc", "lxc", lxc.Groups[1].Value, null);
        }

        return null;
    }

    /// <summary>
    /// The runtime a container's parent process shows: containerd's shim (comm "containerd-shim", truncated from
    /// containerd-shim-runc-v2) serves containerd's CRI in its k8s.io namespace and Docker in "moby" (cri-dockerd);
    /// CRI-O's monitor is conmon. Null for any other process.
    /// </summary>
    internal static string? RuntimeOfShim(string comm, string[] argv)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ArgumentNullException.ThrowIfNull(argv);
        if (comm == "conmon")
        {
            return "cri-o";
        }

        if (!comm.StartsWith("containerd-shim", StringComparison.Ordinal))
        {
            return null;
        }

        int at = Array.IndexOf(argv, "-namespace");
        string? space = at >= 0 && at + 1 < argv.Length ? argv[at + 1] : null;
        return space == "moby" ? "docker" : "containerd";
    }

    // A pod with its container id beats one without; any container beats none.
    private static int Rank(CgroupOwner owner) => (owner.PodUid is null ? 0 : 2) + (owner.ContainerId is null ? 0 : 1);

    private static string Unescape(string unit)
    {
        if (!unit.Contains("\\x", StringComparison.Ordinal))
        {
            return unit;
        }

        var text = new System.Text.StringBuilder(unit.Length);
        for (int i = 0; i < unit.Length; i++)
        {
            if (unit[i] == '\\' && i + 3 < unit.Length && unit[i + 1] == 'x'
                && int.TryParse(unit.AsSpan(i + 2, 2), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out int code))
            {
                text.Append((char)code);
                i += 3;
            }
            else
            {
                text.Append(unit[i]);
            }
        }

        return text.ToString();
    }
}
