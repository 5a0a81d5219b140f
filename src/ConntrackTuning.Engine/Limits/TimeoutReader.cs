using System.Text.RegularExpressions;
using ConntrackTuning.Engine.Persistence;
using ConntrackTuning.Engine.Kernel;

namespace ConntrackTuning.Engine.Limits;

/// <summary>One timeout sysctl the running kernel has, found by listing its folder.</summary>
/// <param name="Name">The name after the tracker prefix: tcp_timeout_established, udp_timeout.</param>
/// <param name="Relative">Root-relative path of the value file.</param>
internal sealed record TimeoutSysctl(string Name, string Protocol, string? State, string Relative)
{
    internal string Key => EraTable.SysctlKey(Relative)!;
}

/// <summary>
/// The timeouts a kernel really has. The set changes with the version and the configuration (DCCP went in 6.17,
/// SCTP lost heartbeat_acked, GRE came as a module), so the folder is listed rather than a list assumed.
/// </summary>
internal static partial class TimeoutReader
{
    // <protocol>_timeout or <protocol>_timeout_<state>; the protocol is one word (tcp, icmpv6, frag6).
    [GeneratedRegex("^(?<protocol>[a-z0-9]+)_timeout(?:_(?<state>[a-z0-9_]+))?$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();

    internal static IReadOnlyList<TimeoutSysctl> List(ConntrackKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        SystemRoot root = kernel.SystemRoot;
        if (!kernel.IsLoaded)
        {
            throw LimitReader.NotLoaded(kernel);
        }

        if (kernel.TimeoutDirectoryFound is not { } directory || kernel.EraRow.TimeoutPrefix is not { } prefix)
        {
            throw NotAvailable(kernel);
        }

        var list = new List<TimeoutSysctl>();
        foreach (string file in root.FileNames(directory))
        {
            if (!file.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            if (FromName(file[prefix.Length..], directory + "/" + file) is { } timeout)
            {
                list.Add(timeout);
            }
        }

        if (list.Count == 0)
        {
            throw NotAvailable(kernel);
        }

        return list;
    }

    /// <summary>The timeout a name after the tracker prefix (tcp_timeout_established) stands for; null when it names no timeout.</summary>
    internal static TimeoutSysctl? FromName(string name, string relative)
    {
        Match m = NamePattern().Match(name);
        return m.Success
            ? new TimeoutSysctl(name, m.Groups["protocol"].Value, m.Groups["state"].Success ? m.Groups["state"].Value : null, relative)
            : null;
    }

    internal static ConntrackException NotAvailable(ConntrackKernel kernel) => new(ErrorIds.TimeoutsNotAvailable, ErrorKind.ObjectNotFound,
        kernel.TimeoutsReadOnlyReason ?? $"Kernel {kernel.KernelRelease} has no conntrack timeout sysctls.",
        kernel.EraRow.TimeoutDirectory is { } d ? kernel.SystemRoot.Full(d) : kernel.Root,
        kernel.EraRow.TimeoutDirectory is null
            ? "Before 2.4.23 the timeouts are compile-time constants: only a kernel rebuild changes them."
            : "Check that the tracker is loaded and that the root holds proc/sys.");

    /// <summary>Other names of the same timeout: the ip_conntrack compatibility names nf_conntrack kept up to 4.8.</summary>
    internal static IReadOnlyList<string> AliasKeys(ConntrackKernel kernel, TimeoutSysctl timeout)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(timeout);
        return kernel.TrackerKind == Tracker.NfConntrack ? ["net.ipv4.netfilter.ip_conntrack_" + timeout.Name] : [];
    }

    /// <summary>Every timeout with its running value, known default and persisted value.</summary>
    public static IReadOnlyList<ConntrackTimeout> Read(ConntrackKernel kernel)
    {
        IReadOnlyList<TimeoutSysctl> list = List(kernel);
        SystemRoot root = kernel.SystemRoot;
        Dictionary<string, PersistedValue> persisted = BootConfig.AllSysctl(root);
        string? networkNamespace = Namespaces.NamespaceContext.CurrentInode;
        return list.Select(t =>
        {
            PersistedValue? p = BootConfig.LastOf(persisted, [t.Key, .. AliasKeys(kernel, t)]);
            return new ConntrackTimeout
            {
                Protocol = t.Protocol,
                State = t.State,
                Seconds = root.TryReadInt64(t.Relative),
                Default = EraTable.FindTimeoutDefault(t.Name, kernel.Version)?.Seconds,
                PersistedSeconds = p?.Number,
                PersistedSource = p?.Source,
                Key = t.Key,
                Path = root.Full(t.Relative),
                Root = kernel.Root,
                NetworkNamespace = networkNamespace,
            };
        }).ToList();
    }
}
