namespace ConntrackTuning.Engine.Platform;

/// <summary>A sosreport's captured 'sysctl -a', standing in for the proc/sys it did not capture.</summary>
internal sealed partial class SystemRoot
{
    private static string? SysctlKeyOf(string relative)
    {
        relative = relative.TrimStart('/');
        return relative.StartsWith("proc/sys/", StringComparison.Ordinal) ? relative[9..].Replace('/', '.') : null;
    }

    private string? SnapshotValue(string relative) =>
        SysctlKeyOf(relative) is { } key && _sysctlSnapshot.Value is { } snapshot && snapshot.TryGetValue(key, out string? value)
            ? value
            : null;

    private List<string> SnapshotChildren(string relativeDirectory)
    {
        var children = new List<string>();
        if (SysctlKeyOf(relativeDirectory.TrimEnd('/') + "/") is not { } prefix || _sysctlSnapshot.Value is not { } snapshot)
        {
            return children;
        }

        foreach (string key in snapshot.Keys)
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal) && key.IndexOf('.', prefix.Length) < 0)
            {
                children.Add(key[prefix.Length..]);
            }
        }

        return children;
    }

    // A sosreport may hold proc/sys only as the output of 'sysctl -a' ("net.netfilter.nf_conntrack_max = 262144").
    // The live system never needs it: its proc/sys is real.
    private Dictionary<string, string>? LoadSysctlSnapshot()
    {
        string full = Full(SysctlSnapshotPath);
        if (IsLive || !File.Exists(HostPath(SysctlSnapshotPath)) || TryOpenRead(SysctlSnapshotPath, out _) is not { } stream)
        {
            return null;
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var reader = new StreamReader(stream);
            while (reader.ReadLine() is { } line)
            {
                int eq = line.IndexOf(" = ", StringComparison.Ordinal);
                if (eq > 0)
                {
                    values[line[..eq].Trim().Replace('/', '.')] = line[(eq + 3)..].Trim();
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Verbose($"Cannot read {full}: {e.Message}");
            return null;
        }

        Log.Verbose($"Read {full} ({values.Count} sysctl values stand in for proc/sys)");
        return values;
    }
}
