using ConntrackTuning.Engine.Persistence;

namespace ConntrackTuning.Engine.Writers;

/// <summary>
/// Everything that writes the conntrack sysctls on this system, in the order it writes them, so the last layer
/// is the value that holds: the kernel's default, systemd-sysctl at boot (the sysctl.d files the module already
/// reads), TuneD's [sysctl] section of the active profile at its start (after which TuneD re-applies the sysctl
/// files unless reapply_sysctl = 0 in /etc/tuned/tuned-main.conf), and kube-proxy at its start.
/// </summary>
internal static class WriterLayers
{
    /// <summary>The sysctl keys the layers are read for, and the kube-proxy setting that writes each.</summary>
    internal static readonly (string Key, string? KubeProxy)[] Keys =
    [
        ("net.netfilter.nf_conntrack_max", "max"),
        ("net.nf_conntrack_max", "max"),
        ("net.netfilter.nf_conntrack_buckets", "hash"),
        ("net.netfilter.nf_conntrack_tcp_timeout_established", "established"),
        ("net.netfilter.nf_conntrack_tcp_timeout_close_wait", "close_wait"),
    ];

    public static List<ConntrackWriterLayer> Read(SystemRoot root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var layers = new List<ConntrackWriterLayer>();
        Dictionary<string, PersistedValue> sysctl = BootConfig.AllSysctl(root);
        List<(string Profile, string File, string Key, string Value)> tuned = TunedSysctl(root);
        bool reapply = TunedReappliesSysctl(root);
        IReadOnlyList<KubeProxyPlan> proxies = KubeProxy.Find(root);
        foreach ((string key, string? kp) in Keys)
        {
            var forKey = new List<ConntrackWriterLayer>();
            var sysctlLayer = sysctl.TryGetValue(SysctlFile.NormalizeKey(key), out PersistedValue? p)
                ? new ConntrackWriterLayer { Setting = key, Writer = "sysctl", When = "boot (systemd-sysctl)", Value = p.Value, Source = $"{p.File}:{p.Line.ToString(System.Globalization.CultureInfo.InvariantCulture)}" }
                : null;
            ConntrackWriterLayer? tunedLayer = tuned.Where(t => Same(t.Key, key)).Select(t => new ConntrackWriterLayer
            {
                Setting = key, Writer = "TuneD", When = $"tuned start (profile {t.Profile})", Value = t.Value, Source = t.File,
            }).LastOrDefault();

            // TuneD applies its own values, then (by default) the sysctl files again: those then win.
            if (tunedLayer is not null && reapply)
            {
                forKey.Add(tunedLayer);
                if (sysctlLayer is not null)
                {
                    forKey.Add(sysctlLayer with { When = "boot (systemd-sysctl), and again after TuneD (reapply_sysctl)" });
                }
            }
            else
            {
                if (sysctlLayer is not null)
                {
                    forKey.Add(sysctlLayer);
                }

                if (tunedLayer is not null)
                {
                    forKey.Add(tunedLayer);
                }
            }

            foreach (KubeProxyPlan plan in proxies)
            {
                long? wanted = kp switch
                {
                    "max" => plan.Max,
                    "hash" => plan.HashSize,
                    "established" => plan.TcpEstablishedSeconds,
                    "close_wait" => plan.TcpCloseWaitSeconds,
                    _ => null,
                };
                if (wanted is { } w)
                {
                    forKey.Add(new ConntrackWriterLayer
                    {
                        Setting = key, Writer = "kube-proxy", When = kp == "hash" ? "kube-proxy start (only when the current hash size is smaller)" : "kube-proxy start",
                        Value = w.ToString(System.Globalization.CultureInfo.InvariantCulture), Source = $"/proc/{plan.ProcessId}/cmdline",
                    });
                }
            }

            for (int i = 0; i < forKey.Count; i++)
            {
                layers.Add(forKey[i] with { Order = i + 1, Wins = i == forKey.Count - 1 });
            }
        }

        return layers;
    }

    private static bool Same(string a, string b) => SysctlFile.NormalizeKey(a) == SysctlFile.NormalizeKey(b);

    /// <summary>
    /// The [sysctl] lines of the active TuneD profiles (etc/tuned/active_profile, several names apply in order),
    /// each profile after the ones its [main] include= names; /etc/tuned/NAME overrides /usr/lib/tuned/NAME.
    /// </summary>
    internal static List<(string Profile, string File, string Key, string Value)> TunedSysctl(SystemRoot root)
    {
        var result = new List<(string, string, string, string)>();
        string? active = root.TryReadText("etc/tuned/active_profile")?.Trim();
        if (string.IsNullOrEmpty(active))
        {
            return result;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string profile in active.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            AddProfile(root, profile, result, seen, 0);
        }

        return result;
    }

    private static void AddProfile(SystemRoot root, string profile, List<(string, string, string, string)> result, HashSet<string> seen, int depth)
    {
        if (depth > 8 || !seen.Add(profile))
        {
            return;
        }

        string? file = new[] { $"etc/tuned/{profile}/tuned.conf", $"etc/tuned/profiles/{profile}/tuned.conf", $"usr/lib/tuned/{profile}/tuned.conf", $"usr/lib/tuned/profiles/{profile}/tuned.conf" }
            .FirstOrDefault(root.FileExists);
        if (file is null)
        {
            root.Log.Verbose($"TuneD profile '{profile}' has no tuned.conf under {root.Full("etc/tuned")} or {root.Full("usr/lib/tuned")}.");
            return;
        }

        string section = "";
        var own = new List<(string, string, string, string)>();
        foreach (string raw in root.ReadLines(file))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';')
            {
                continue;
            }

            if (line[0] == '[' && line.EndsWith(']'))
            {
                section = line[1..^1].Trim();
                continue;
            }

            int eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }

            string key = line[..eq].Trim();
            string value = line[(eq + 1)..].Trim();
            if (section == "main" && key == "include")
            {
                foreach (string parent in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    AddProfile(root, parent, result, seen, depth + 1);
                }
            }
            else if (section == "sysctl")
            {
                own.Add((profile, root.Full(file), key.Replace('/', '.'), value));
            }
        }

        result.AddRange(own);
    }

    /// <summary>tuned-main.conf's reapply_sysctl (default 1): TuneD applies the system's sysctl files again after its own.</summary>
    internal static bool TunedReappliesSysctl(SystemRoot root)
    {
        foreach (string raw in root.ReadLines("etc/tuned/tuned-main.conf"))
        {
            string line = raw.Trim();
            if (line.StartsWith("reapply_sysctl", StringComparison.Ordinal) && line.Contains('=', StringComparison.Ordinal))
            {
                string v = line[(line.IndexOf('=', StringComparison.Ordinal) + 1)..].Trim();
                return v is not ("0" or "false" or "no" or "False");
            }
        }

        return true;
    }
}
