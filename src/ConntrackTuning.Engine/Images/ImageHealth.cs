using ConntrackTuning.Engine.Health;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Engine.Images;

/// <summary>
/// Test-ConntrackHealth on an image: the checks that make sense without a kernel. The boot-order trap, sysctl
/// files that override each other, a persisted max below the kernel's own default for the RAM given, and the
/// TCP established timeout the boot applies; each with the command that fixes it, aimed at the image (-Root,
/// -PersistOnly). Usage, counters and the kernel log need a kernel that ran, so they are not checked.
/// </summary>
internal static class ImageHealth
{
    public static IEnumerable<ConntrackHealthFinding> Run(ConntrackKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        foreach ((string check, HealthSeverity severity, string message, string? fix, string? evidence) in Checks(kernel))
        {
            // An image has no network namespace of its own: the finding names none.
            yield return new HealthResult(severity, message, fix, evidence).ToFinding(check, kernel);
        }
    }

    private static IEnumerable<(string, HealthSeverity, string, string?, string?)> Checks(ConntrackKernel kernel)
    {
        string root = Quote(kernel.Root);
        if (kernel.KernelRelease is null)
        {
            yield return ("Image", HealthSeverity.Info,
                $"{kernel.Root} is an image with no kernel installed (lib/modules, usr/lib/modules): only the configuration can be checked.",
                null, null);
        }
        else
        {
            yield return ("Image", HealthSeverity.Info,
                $"{kernel.Root} is an image: it boots kernel {kernel.KernelRelease}, which has {kernel.Tracker} {(kernel.ModuleState == "BuiltIn" ? "built in" : kernel.ModuleState == "Module" ? "as a loadable module" : $"({kernel.ModuleState})")}. No kernel runs behind it, so usage, counters and the kernel log are not checked.",
                null, $"{kernel.KernelReleaseSource}; {kernel.ModuleStateSource ?? "no module list or config tells how the tracker is built"}");
        }

        if (kernel.KernelRelease is null)
        {
            yield break;
        }

        ConntrackLimit limit = ImageLimits.Read(kernel);
        IReadOnlyList<SysctlLine> lines = NextBoot.TrackerSysctlLines(kernel.SystemRoot);

        // The boot-order trap.
        if (lines.Count > 0)
        {
            string keys = string.Join(", ", lines.Select(l => l.Key).Distinct(StringComparer.Ordinal).Take(4));
            string files = string.Join(", ", lines.Select(l => l.Source).Distinct(StringComparer.Ordinal));
            if (limit.LoadedBeforeSysctl == false)
            {
                long? wanted = limit.SkippedAtBoot.Count > 0 ? LastNumber(lines, kernel.MaxSysctlKey) : null;
                yield return ("BootOrder", HealthSeverity.Warning,
                    $"{keys} (in {files}) will be skipped at boot ({limit.LoadedBeforeSysctlSource}): the keys do not exist yet when systemd-sysctl applies the files, which ignores them without an error, and the table comes up with {(limit.NextBootMax is { } m ? $"max {N(m)}" : "the kernel's default max")} instead.",
                    wanted is { } w ? $"Set-ConntrackLimit -Root {root} -Max {N(w)} -PersistOnly" : $"Add {kernel.Tracker} to {kernel.Root}/etc/modules-load.d/conntrack-tuning.conf",
                    files);
            }
            else if (limit.LoadedBeforeSysctl == true)
            {
                yield return ("BootOrder", HealthSeverity.Ok, $"{kernel.Tracker} exists before systemd-sysctl applies {keys}.", null, limit.LoadedBeforeSysctlSource);
            }
        }

        // Files that override each other: the later assignment wins, and the earlier one silently does nothing.
        foreach (IGrouping<string, SysctlLine> key in lines.GroupBy(l => l.Key, StringComparer.Ordinal))
        {
            var values = key.OrderBy(l => l.Sequence).ToList();
            SysctlLine winner = values[^1];
            var losers = values.Where(l => l.Value != winner.Value && l.Relative != winner.Relative).ToList();
            if (losers.Count == 0)
            {
                continue;
            }

            SysctlLine loser = losers[^1];
            yield return ("Overrides", HealthSeverity.Warning,
                $"{key.Key} is set to {loser.Value} in {loser.Source} but to {winner.Value} in {winner.Source}, which is applied later and wins: the boot applies {winner.Value}.",
                $"(Get-Content '{kernel.Root}/{winner.Relative}') -notmatch '^\\s*{System.Text.RegularExpressions.Regex.Escape(key.Key)}\\s*=' | Set-Content '{kernel.Root}/{winner.Relative}'",
                string.Join("; ", values.Select(l => $"{l.Value} at {l.Source}")));
        }

        // A persisted max below what the kernel would choose for the RAM shrinks the table.
        if (kernel.MemoryBytes is { } memory && !kernel.EraRow.SizesFromAllPhysicalPages)
        {
            KernelDefault kd = KernelDefaults.Compute(memory, KernelDefaults.PointerBits(kernel), kernel.EraRow);
            if (limit.NextBootMax is { } next && next < kd.Max && limit.NextBootMaxSource != null && !limit.NextBootMaxSource.StartsWith("the kernel's default", StringComparison.Ordinal))
            {
                yield return ("KernelDefault", HealthSeverity.Warning,
                    $"The next boot applies max {N(next)} ({limit.NextBootMaxSource}), below the {N(kd.Max)} the kernel itself would choose for {N(memory / 1048576)} MiB of RAM: the tuning shrinks the table.",
                    $"Set-ConntrackLimit -Root {root} -Max {N(kd.Max)} -PersistOnly", limit.NextBootMaxSource);
            }
            else
            {
                yield return ("KernelDefault", HealthSeverity.Ok, $"The next boot's max, {(limit.NextBootMax is { } n ? N(n) : "unknown")}, is no smaller than the kernel's default of {N(kd.Max)} for {N(memory / 1048576)} MiB.", null, limit.NextBootMaxSource);
            }
        }
        else
        {
            yield return ("KernelDefault", HealthSeverity.Info,
                $"Without -MemoryBytes the kernel's default is not known: {limit.DefaultRule}", null, null);
        }

        // The established timeout the boot applies: the persisted one when the keys stick, else the kernel's 5 days.
        string establishedKey = kernel.EraRow.TimeoutDirectory is { } dir && kernel.EraRow.TimeoutPrefix is { } prefix
            ? EraTable.SysctlKey($"{dir}/{prefix}tcp_timeout_established")!
            : "net.netfilter.nf_conntrack_tcp_timeout_established";
        SysctlLine? established = lines.LastOrDefault(l => l.Key == establishedKey);
        bool sticks = limit.LoadedBeforeSysctl != false;
        long seconds = established is not null && sticks && long.TryParse(established.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long s) ? s : EraTable.TcpEstablishedDefaultSeconds;
        string fix = $"Set-ConntrackTimeout -Root {root} -Protocol tcp -State established -Seconds {Remedy.TcpEstablishedSeconds.ToString(CultureInfo.InvariantCulture)} -PersistOnly";
        yield return seconds < EraTable.TcpEstablishedDefaultSeconds
            ? ("TcpEstablishedTimeout", HealthSeverity.Ok, $"The boot keeps established TCP entries {N(seconds)} s after the last packet.", null, established?.Source)
            : ("TcpEstablishedTimeout", HealthSeverity.Info,
                $"The boot keeps established TCP entries {N(seconds)} s (5 days, the kernel default{(established is not null && !sticks ? $"; {established.Source} is skipped at boot" : "")}), so connections that died without a FIN or RST stay in the table for days.",
                fix, established?.Source ?? "no sysctl file sets it");
    }

    private static long? LastNumber(IReadOnlyList<SysctlLine> lines, string key) =>
        lines.LastOrDefault(l => l.Key == key) is { } line && long.TryParse(line.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : null;

    private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Quote(string path) => "'" + path.Replace("'", "''", StringComparison.Ordinal) + "'";
}
