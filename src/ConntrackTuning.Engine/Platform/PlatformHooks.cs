namespace ConntrackTuning.Engine.Platform;

/// <summary>
/// The file layer's test seam. A fixture tree is a copy of a system whose proc/ and sys/ files the tests treat as a
/// kernel (a Set- command "applies" a value by rewriting them). A root a user names is never that: a root other than
/// the running system gets no run-time write. The tests name their fixture copies in the environment variable
/// CONNTRACK_TUNING_TEST_KERNEL_ROOTS (path prefixes, separated by ':'), which child processes inherit; it is unset
/// in normal use, and only the user who runs the command can set it.
/// </summary>
internal static class PlatformHooks
{
    internal const string KernelRootsVariable = "CONNTRACK_TUNING_TEST_KERNEL_ROOTS";

    /// <summary>Whether a root (an absolute path) lies under one of the prefixes the tests named.</summary>
    internal static bool SimulatesKernel(string root)
    {
        string? prefixes = Environment.GetEnvironmentVariable(KernelRootsVariable);
        if (string.IsNullOrEmpty(prefixes))
        {
            return false;
        }

        foreach (string prefix in prefixes.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            if (prefix.Length > 1 && root.StartsWith(prefix, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
