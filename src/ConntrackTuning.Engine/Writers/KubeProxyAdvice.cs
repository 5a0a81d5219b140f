namespace ConntrackTuning.Engine.Writers;

/// <summary>
/// What kube-proxy's next start does to a value the user sets or has: the warnings of Set-ConntrackLimit and
/// Set-ConntrackTimeout, and the words of Test-ConntrackHealth's KubeProxy check. kube-proxy writes each sysctl
/// whenever it differs from what it wants (setIntSysCtl), so before kubernetes#142035 ("Don't set
/// nf_conntrack_max if it's already larger than needed", 1.37 backport) it lowers a larger max as well.
/// </summary>
internal static class KubeProxyAdvice
{
    /// <summary>The kube-proxy flag and config names of the sysctls it writes, by the setting names of the Set- plans.</summary>
    public static (string Kind, Func<KubeProxyPlan, long?> Wanted)? Of(string setting) => setting switch
    {
        "nf_conntrack_max" => ("max", p => p.Max),
        "nf_conntrack_tcp_timeout_established" => ("established", p => p.TcpEstablishedSeconds),
        "nf_conntrack_tcp_timeout_close_wait" => ("close_wait", p => p.TcpCloseWaitSeconds),
        _ => null,
    };

    /// <summary>Warnings for setting <paramref name="setting"/> to <paramref name="value"/> while kube-proxy runs here.</summary>
    public static IReadOnlyList<string> ForChange(SystemRoot root, string setting, long value)
    {
        ArgumentNullException.ThrowIfNull(root);
        var warnings = new List<string>();
        if (Of(setting) is not { } of)
        {
            return warnings;
        }

        foreach (KubeProxyPlan plan in KubeProxy.Find(root))
        {
            if (of.Wanted(plan) is { } wanted && wanted != value)
            {
                warnings.Add(Words(plan, setting, of.Kind, wanted, value));
            }
        }

        return warnings;
    }

    /// <summary>One sentence: who, what it will write, why, and the change that avoids it.</summary>
    public static string Words(KubeProxyPlan plan, string setting, string kind, long wanted, long value)
    {
        ArgumentNullException.ThrowIfNull(plan);
        string who = plan.Host == "kube-proxy" ? $"kube-proxy (process {plan.ProcessId})" : $"kube-proxy embedded in {plan.Host} (process {plan.ProcessId})";
        string why = kind == "max"
            ? $"maxPerCore {N(plan.MaxPerCore)} × {plan.Cpus} CPUs, at least min {N(plan.Min)}{(plan.MaxUncapped > KubeProxy.Cap ? $", capped at {N(KubeProxy.Cap)} from 1.36 ({N(plan.MaxUncapped!.Value)} before)" : "")}"
            : $"its {(kind == "established" ? "tcpEstablishedTimeout" : "tcpCloseWaitTimeout")}";
        string effect = wanted < value
            ? (kind == "max" ? $"lower it to {N(wanted)} (kube-proxy writes it whenever it differs; releases with kubernetes#142035 leave a larger max alone)" : $"lower it to {N(wanted)}")
            : $"raise it to {N(wanted)}";
        string hash = kind == "max" && plan.HashSize is { } h ? $", and the hash size to {N(h)} if it is smaller" : "";
        return $"{who} will {effect} at its next start ({why}){hash}, overriding {setting} = {N(value)}. To keep yours: {KubeProxy.Avoid(plan, kind)}.";
    }

    private static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
}
