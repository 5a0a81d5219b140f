using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;
using ConntrackTuning.Engine.Persistence;

namespace ConntrackTuning.Engine.Changes;

/// <summary>Plans a change of one timeout: the run-time file of this namespace and the sysctl files that persist it.</summary>
internal static class TimeoutPlanner
{
    internal static ChangePlan Plan(ConntrackKernel kernel, string protocol, string? state, long seconds, ApplyMode mode, bool force)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(protocol);
        SystemRoot root = kernel.SystemRoot;
        state = string.IsNullOrEmpty(state) ? null : state;
        TimeoutSysctl timeout = FindTimeout(kernel, protocol, state, mode);
        string setting = kernel.EraRow.TimeoutPrefix + timeout.Name;
        ChangeChecks.RequireRootForLive(kernel, mode, setting);
        string? runtime = null;
        long? old = null;
        if (mode != ApplyMode.PersistentOnly)
        {
            // The probe judged the folder by its first timeout file; this one is judged by its own mode, and a
            // refusal names this file, not the first one (frag6 or dccp, which the user never asked for).
            bool fileWritable = root.IsWritable(timeout.Relative, out string? reason);
            bool can = kernel.CanSetTimeouts && fileWritable;
            if (!can && fileWritable)
            {
                reason = kernel.TimeoutsReadOnlyReason;
            }
            runtime = ChangeChecks.RequireRuntime(kernel, can, reason, timeout.Relative, setting, hostOwned: false);
            old = root.TryReadInt64(runtime);
        }

        var warnings = new List<string>();
        if (mode != ApplyMode.Runtime && !kernel.IsInitialNamespace)
        {
            warnings.Add($"This is not the initial network namespace: timeouts are per namespace, and the sysctl files persisted here are applied at boot to the namespace systemd-sysctl runs in (the host's), not to this one.");
        }

        IReadOnlyList<string> aliases = TimeoutReader.AliasKeys(kernel, timeout);
        return ChangePlan.ForSysctl(kernel, setting, timeout.Key, aliases, seconds, mode, runtime, old, force, warnings,
            protocol: timeout.Protocol, state: timeout.State);
    }

    private static TimeoutSysctl FindTimeout(ConntrackKernel kernel, string protocol, string? state, ApplyMode mode)
    {
        string name = protocol.ToLowerInvariant() + "_timeout" + (state is null ? "" : "_" + state.ToLowerInvariant());
        IReadOnlyList<TimeoutSysctl> list;
        try
        {
            list = TimeoutReader.List(kernel);
        }
        catch (ConntrackException) when (mode == ApplyMode.PersistentOnly && kernel.EraRow.TimeoutDirectory is { } directory)
        {
            // An image has no running kernel to list: a timeout the era table knows is enough to write its key, and
            // a name it does not know is refused with the era table's names (not with "add -PersistOnly").
            list = [.. EraTable.TimeoutDefaults.Select(d => d.Name).Distinct()
                .Select(n => TimeoutReader.FromName(n, directory + "/" + kernel.EraRow.TimeoutPrefix + n)!)];
        }

        return list.FirstOrDefault(t => t.Name == name) ?? throw new ConntrackException(ErrorIds.TimeoutNotFound, ErrorKind.ObjectNotFound,
            $"Kernel {kernel.KernelRelease ?? kernel.Era} has no {protocol}{(state is null ? "" : " " + state)} timeout ({kernel.EraRow.TimeoutPrefix}{name}). It has: {string.Join(", ", list.Select(t => t.State is null ? t.Protocol : t.Protocol + " " + t.State))}.",
            kernel.Paths.TimeoutDirectory is { } d ? d + "/" + kernel.EraRow.TimeoutPrefix + name : name,
            "Run Get-ConntrackTimeout to list the timeouts of this kernel (Tab completes -Protocol and -State from them).");
    }
}
