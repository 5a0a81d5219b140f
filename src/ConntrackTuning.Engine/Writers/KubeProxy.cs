using System.Text.RegularExpressions;

namespace ConntrackTuning.Engine.Writers;

/// <summary>
/// A kube-proxy found on the node and what it will write at its next start, computed the way
/// pkg/proxy/conntrack/sysctls.go does: max = maxPerCore × CPUs, at least min, capped at 1,048,576 (1.36 and
/// later); the hash size max/4 when the current one is smaller; its TCP established and close-wait timeouts.
/// Zero for any of them means kube-proxy leaves that setting alone.
/// </summary>
internal sealed record KubeProxyPlan
{
    public required int ProcessId { get; init; }

    /// <summary>kube-proxy, or k3s/rke2 when it runs embedded (k3s server/agent --kube-proxy-arg).</summary>
    public required string Host { get; init; }

    public required string CommandLine { get; init; }

    public string? ConfigFile { get; init; }

    public long MaxPerCore { get; init; } = KubeProxy.DefaultMaxPerCore;

    public long Min { get; init; } = KubeProxy.DefaultMin;

    public long? TcpEstablishedSeconds { get; init; } = KubeProxy.DefaultEstablished;

    public long? TcpCloseWaitSeconds { get; init; } = KubeProxy.DefaultCloseWait;

    public int Cpus { get; init; }

    /// <summary>What kube-proxy up to 1.35 writes: maxPerCore × CPUs, at least min; null when maxPerCore is 0.</summary>
    public long? MaxUncapped => MaxPerCore == 0 ? null : Math.Max(MaxPerCore * Cpus, Min);

    /// <summary>What kube-proxy 1.36 and later writes: the same, capped at 1,048,576.</summary>
    public long? Max => MaxUncapped is { } m ? Math.Min(m, KubeProxy.Cap) : null;

    /// <summary>The hash size it writes when the current one is smaller than max/4.</summary>
    public long? HashSize => Max is { } m ? m / 4 : null;

    /// <summary>Where each value came from: flag, configuration file or default.</summary>
    public IReadOnlyList<string> Basis { get; init; } = [];
}

/// <summary>Finds kube-proxy (on its own, or embedded in k3s) from /proc/PID/cmdline and its configuration file.</summary>
internal static partial class KubeProxy
{
    public const long DefaultMaxPerCore = 32768;
    public const long DefaultMin = 131072;
    public const long DefaultEstablished = 86400;
    public const long DefaultCloseWait = 3600;

    /// <summary>"Cap the value to 1M to avoid excessive memory usage on high-core machines" (1.36).</summary>
    public const long Cap = 1_048_576;

    public static IReadOnlyList<KubeProxyPlan> Find(SystemRoot root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var found = new List<KubeProxyPlan>();
        int cpus = Cpus(root);
        foreach (string dir in root.DirectoryNames("proc"))
        {
            if (!int.TryParse(dir, NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                continue;
            }

            string? raw = root.TryReadText($"proc/{dir}/cmdline");
            if (string.IsNullOrEmpty(raw))
            {
                continue;
            }

            string[] argv = raw.TrimEnd('\0').Split('\0');
            if (Parse(root, pid, argv, cpus) is { } plan)
            {
                found.Add(plan);
            }
        }

        return found;
    }

    /// <summary>The plan of one command line, or null when it is not kube-proxy.</summary>
    internal static KubeProxyPlan? Parse(SystemRoot root, int pid, string[] argv, int cpus)
    {
        ArgumentNullException.ThrowIfNull(argv);
        if (argv.Length == 0)
        {
            return null;
        }

        string exe = System.IO.Path.GetFileName(argv[0]);
        List<string> args;
        string host;
        if (exe == "kube-proxy" || (exe == "hyperkube" && argv.Length > 1 && argv[1] == "kube-proxy"))
        {
            host = "kube-proxy";
            args = [.. argv.Skip(exe == "hyperkube" ? 2 : 1)];
        }
        else if ((exe is "k3s" or "rke2") && argv.Length > 1 && argv[1] is "server" or "agent")
        {
            // The embedded proxy takes its flags as --kube-proxy-arg=NAME=VALUE (repeatable).
            host = exe;
            args = [];
            for (int i = 2; i < argv.Length; i++)
            {
                string? value = argv[i].StartsWith("--kube-proxy-arg=", StringComparison.Ordinal) ? argv[i][17..]
                    : argv[i] == "--kube-proxy-arg" && i + 1 < argv.Length ? argv[++i] : null;
                if (value is not null)
                {
                    args.Add("--" + value.TrimStart('-'));
                }
            }

            foreach (string value in ConfigYamlList(root, $"etc/rancher/{exe}/config.yaml", "kube-proxy-arg"))
            {
                args.Insert(0, "--" + value.TrimStart('-'));
            }
        }
        else
        {
            return null;
        }

        Dictionary<string, string> flags = Flags(args);
        var basis = new List<string>();
        long maxPerCore = DefaultMaxPerCore, min = DefaultMin;
        long? established = DefaultEstablished, closeWait = DefaultCloseWait;
        string? configFile = flags.GetValueOrDefault("config");
        if (configFile is not null && ReadConfig(root, configFile) is { } conf)
        {
            // Values from the file first; flags given on the command line win over it.
            Apply(conf, "maxPerCore", ref maxPerCore, basis, configFile);
            Apply(conf, "min", ref min, basis, configFile);
            ApplyDuration(conf, "tcpEstablishedTimeout", ref established, basis, configFile);
            ApplyDuration(conf, "tcpCloseWaitTimeout", ref closeWait, basis, configFile);
        }

        Apply(flags, "conntrack-max-per-core", ref maxPerCore, basis, "flag");
        Apply(flags, "conntrack-min", ref min, basis, "flag");
        ApplyDuration(flags, "conntrack-tcp-timeout-established", ref established, basis, "flag");
        ApplyDuration(flags, "conntrack-tcp-timeout-close-wait", ref closeWait, basis, "flag");
        return new KubeProxyPlan
        {
            ProcessId = pid,
            Host = host,
            CommandLine = string.Join(' ', argv),
            ConfigFile = configFile,
            MaxPerCore = maxPerCore,
            Min = min,
            TcpEstablishedSeconds = established == 0 ? null : established,
            TcpCloseWaitSeconds = closeWait == 0 ? null : closeWait,
            Cpus = cpus,
            Basis = basis,
        };
    }

    /// <summary>--name=value and --name value, by name without the dashes.</summary>
    private static Dictionary<string, string> Flags(List<string> args)
    {
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                continue;
            }

            string a = args[i][2..];
            int eq = a.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                flags[a[..eq]] = a[(eq + 1)..];
            }
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                flags[a] = args[++i];
            }
        }

        return flags;
    }

    private static void Apply(Dictionary<string, string> values, string key, ref long target, List<string> basis, string from)
    {
        if (values.TryGetValue(key, out string? text) && long.TryParse(text.Trim().Trim('"'), NumberStyles.None, CultureInfo.InvariantCulture, out long v))
        {
            target = v;
            basis.Add($"{key}={v.ToString(CultureInfo.InvariantCulture)} ({from})");
        }
    }

    private static void ApplyDuration(Dictionary<string, string> values, string key, ref long? target, List<string> basis, string from)
    {
        if (values.TryGetValue(key, out string? text) && ParseDuration(text.Trim().Trim('"')) is { } seconds)
        {
            target = seconds;
            basis.Add($"{key}={text.Trim()} ({from})");
        }
    }

    [GeneratedRegex(@"^(?:(\d+(?:\.\d+)?)(h|m|s|ms|us|ns))+$")]
    private static partial Regex GoDuration();

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(h|ms|us|ns|m|s)")]
    private static partial Regex GoDurationPart();

    /// <summary>A Go duration ("24h0m0s", "1h", "90s", "0") in whole seconds.</summary>
    internal static long? ParseDuration(string text)
    {
        if (text == "0")
        {
            return 0;
        }

        if (!GoDuration().IsMatch(text))
        {
            return null;
        }

        double seconds = 0;
        foreach (Match m in GoDurationPart().Matches(text))
        {
            double v = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            seconds += m.Groups[2].Value switch { "h" => v * 3600, "m" => v * 60, "s" => v, "ms" => v / 1e3, "us" => v / 1e6, _ => v / 1e9 };
        }

        return (long)seconds;
    }

    /// <summary>
    /// The conntrack section of a KubeProxyConfiguration (conntrack: at the top, or under linux: in newer
    /// versions): its scalar children by name. A small reader of the indentation, not a YAML library.
    /// </summary>
    internal static Dictionary<string, string>? ReadConfig(SystemRoot root, string file)
    {
        string relative = file.TrimStart('/');
        if (!root.FileExists(relative))
        {
            root.Log.Verbose($"kube-proxy's --config {file} is not readable under {root.Path}.");
            return null;
        }

        return ConntrackSection(root.ReadLines(relative));
    }

    internal static Dictionary<string, string> ConntrackSection(IEnumerable<string> lines)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        int sectionIndent = -1;
        foreach (string raw in lines)
        {
            string line = raw.Split('#', 2)[0].TrimEnd();
            if (line.Trim().Length == 0)
            {
                continue;
            }

            int indent = line.Length - line.TrimStart().Length;
            string t = line.Trim();
            if (sectionIndent < 0)
            {
                if (t == "conntrack:")
                {
                    sectionIndent = indent;
                }

                continue;
            }

            if (indent <= sectionIndent)
            {
                sectionIndent = t == "conntrack:" ? indent : -1;
                continue;
            }

            int colon = t.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && colon < t.Length - 1)
            {
                values[t[..colon].Trim()] = t[(colon + 1)..].Trim();
            }
        }

        return values;
    }

    /// <summary>The items of a top-level YAML list ("key:" then "- item" lines, or key: [a, b]).</summary>
    private static IEnumerable<string> ConfigYamlList(SystemRoot root, string relative, string key)
    {
        bool inList = false;
        foreach (string raw in root.ReadLines(relative))
        {
            string t = raw.Trim();
            if (t.StartsWith(key + ":", StringComparison.Ordinal))
            {
                string rest = t[(key.Length + 1)..].Trim();
                if (rest.StartsWith('[') && rest.EndsWith(']'))
                {
                    foreach (string item in rest[1..^1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        yield return item.Trim('"', '\'');
                    }
                }

                inList = rest.Length == 0;
                continue;
            }

            if (inList && t.StartsWith("- ", StringComparison.Ordinal))
            {
                yield return t[2..].Trim().Trim('"', '\'');
            }
            else if (inList && t.Length > 0)
            {
                inList = false;
            }
        }
    }

    /// <summary>Online CPUs (sys/devices/system/cpu/online, "0-3,6"), as cadvisor counts them; else this process's count.</summary>
    internal static int Cpus(SystemRoot root)
    {
        string? online = root.TryReadText("sys/devices/system/cpu/online")?.Trim();
        int n = 0;
        foreach (string part in (online ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] range = part.Split('-');
            if (range.Length == 2 && int.TryParse(range[0], CultureInfo.InvariantCulture, out int a) && int.TryParse(range[1], CultureInfo.InvariantCulture, out int b))
            {
                n += b - a + 1;
            }
            else if (int.TryParse(part, CultureInfo.InvariantCulture, out _))
            {
                n++;
            }
        }

        return n > 0 ? n : Environment.ProcessorCount;
    }

    /// <summary>The kube-proxy change that makes it leave a setting alone (0 = leave as is).</summary>
    public static string Avoid(KubeProxyPlan plan, string setting)
    {
        ArgumentNullException.ThrowIfNull(plan);
        string flag = setting switch
        {
            "max" => "--conntrack-max-per-core=0 (KubeProxyConfiguration conntrack.maxPerCore: 0)",
            "established" => "--conntrack-tcp-timeout-established=0 (conntrack.tcpEstablishedTimeout: 0s)",
            _ => "--conntrack-tcp-timeout-close-wait=0 (conntrack.tcpCloseWaitTimeout: 0s)",
        };
        return plan.Host == "kube-proxy"
            ? $"Start kube-proxy with {flag}, or set it to the value you want"
            : $"Give {plan.Host} --kube-proxy-arg={flag.Split(' ')[0].TrimStart('-')} (or kube-proxy-arg in /etc/rancher/{plan.Host}/config.yaml)";
    }
}
