using ConntrackTuning.Engine.Limits;

namespace ConntrackTuning.Engine.Changes;

/// <summary>The checks every planned change makes first: root for the live system, a loaded tracker, a writable file the host does not own.</summary>
internal static class ChangeChecks
{
    internal static void RequireRootForLive(ConntrackKernel kernel, ApplyMode mode, string setting)
    {
        if (kernel.SystemRoot.IsLive && !ProcessIdentity.IsRoot)
        {
            throw new ConntrackException(ErrorIds.RootRequired, ErrorKind.PermissionDenied,
                $"Changing {setting} {(mode == ApplyMode.PersistentOnly ? "in the persistent configuration" : "on this machine")} requires root. Nothing was changed.",
                setting, "Run pwsh elevated (sudo pwsh), or give -Root a copy of the system you may write to.");
        }
    }

    internal static string RequireRuntime(ConntrackKernel kernel, bool can, string? reason, string? relative, string setting, bool hostOwned)
    {
        if (!kernel.IsLoaded)
        {
            throw LimitReader.NotLoaded(kernel);
        }

        if (can && relative is not null)
        {
            return relative;
        }

        SystemRoot root = kernel.SystemRoot;
        string target = relative is null ? setting : root.Full(relative);
        if (hostOwned && !kernel.IsInitialNamespace)
        {
            throw HostOwned(kernel, setting, target);
        }

        throw new ConntrackException(ErrorIds.SettingReadOnly, ErrorKind.PermissionDenied,
            $"{setting} cannot be changed here: {reason ?? "its file is read-only"} Nothing was changed.", target,
            "Use -PersistOnly to change only the configuration the next boot applies, or run where the setting is writable.");
    }

    internal static ConntrackException HostOwned(ConntrackKernel kernel, string setting, string target) =>
        new(ErrorIds.HostOwnedSetting, ErrorKind.PermissionDenied,
            $"This is not the initial network namespace (a container or 'unshare -n'): {setting} is global, read-only here and belongs to the host. Nothing was changed.",
            target, "Run the command on the host (or in its initial network namespace); timeouts, in contrast, can be set per namespace with Set-ConntrackTimeout.");

}
