using ConntrackTuning.Engine.Persistence;
using ConntrackTuning.Engine.Settings;

namespace ConntrackTuning.Engine.Changes;

/// <summary>
/// Plans a change of one of the tracker's other sysctls (tcp_be_liberal, acct, expect_max, ...): the run-time
/// file and the sysctl files that persist it, with the same checks, records and undo as the max and the timeouts.
/// </summary>
internal static class SettingPlanner
{
    internal static ChangePlan Plan(ConntrackKernel kernel, string name, long value, ApplyMode mode, bool force)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        EraSettingFile s = SettingReader.Find(kernel, name);
        if (value < s.Row.Min || value > s.Row.Max)
        {
            throw new ConntrackException(ErrorIds.SettingValueInvalid, ErrorKind.InvalidArgument,
                string.Create(CultureInfo.InvariantCulture, $"{s.Name} takes values from {s.Row.Min} to {s.Row.Max}, not {value}. Nothing was changed."),
                value.ToString(CultureInfo.InvariantCulture),
                $"Give a value from {s.Row.Min.ToString(CultureInfo.InvariantCulture)} to {s.Row.Max.ToString(CultureInfo.InvariantCulture)}: {s.Row.Meaning}");
        }

        SystemRoot root = kernel.SystemRoot;
        ChangeChecks.RequireRootForLive(kernel, mode, s.Name);
        string? runtime = null;
        long? old = null;
        if (mode != ApplyMode.PersistentOnly)
        {
            (bool can, string? reason) = SettingReader.Writable(kernel, s);
            runtime = ChangeChecks.RequireRuntime(kernel, can, reason, s.Relative, s.Name, hostOwned: !s.Row.PerNamespace);
            old = root.TryReadInt64(runtime);
        }

        var warnings = new List<string>();
        if (mode != ApplyMode.Runtime && !kernel.IsInitialNamespace && s.Row.PerNamespace)
        {
            warnings.Add($"This is not the initial network namespace: {s.Name} is per namespace, and the sysctl files persisted here are applied at boot to the namespace systemd-sysctl runs in (the host's), not to this one.");
        }

        return ChangePlan.ForSysctl(kernel, s.Name, s.Key, [], value, mode, runtime, old, force, warnings);
    }
}
