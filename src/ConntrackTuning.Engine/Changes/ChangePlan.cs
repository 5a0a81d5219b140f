using ConntrackTuning.Engine.Persistence;
using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Engine.Changes;

/// <summary>One configuration file of a change: its content now (null when absent) and after.</summary>
internal sealed record FileEdit(string Relative, string? Before, string After, string Purpose)
{
    internal bool Changes => !string.Equals(Before, After, StringComparison.Ordinal);
}

/// <summary>
/// How a setting is made to survive a reboot: the key its record names, the configuration edits that persist a
/// value (adding their warnings to the list given; null where nothing under etc/ can), and what the next boot
/// applies given proposed file contents (or the files as they are).
/// </summary>
internal sealed record PlanPersistence(
    string? Key,
    Func<long, List<string>, IReadOnlyList<FileEdit>>? Build,
    Func<IReadOnlyDictionary<string, string?>?, PersistedValue?> NextBoot)
{
    /// <summary>A sysctl in the sysctl files, read back at boot by the key or any of its aliases.</summary>
    internal static PlanPersistence Sysctl(ConntrackKernel kernel, string key, IReadOnlyList<string> aliases, bool force, bool bucketsOnly = false)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        SystemRoot root = kernel.SystemRoot;
        var setting = new SysctlSetting(key, aliases, "");
        string[] keys = [key, .. aliases];
        return new(key,
            (value, warnings) => PersistenceEdits.Sysctl(kernel, [setting with { Value = value.ToString(CultureInfo.InvariantCulture) }], force, warnings, bucketsOnly),
            proposed => BootConfig.LastSysctl(root, keys, proposed));
    }
}

/// <summary>
/// Everything a change will do, worked out from fresh reads before anything is written: the run-time file and
/// values, the new content of every configuration file (already parsed, so a broken file stops the change
/// before the kernel is touched), and the warnings.
/// </summary>
internal sealed class ChangePlan
{
    internal required ConntrackKernel Kernel { get; init; }

    internal required string Setting { get; init; }

    internal string? Key { get; init; }

    internal required ApplyMode Mode { get; init; }

    internal string? RuntimeRelative { get; init; }

    /// <summary>Other files of the same kernel variable, written too under a root that is not the live system (a fixture or image has no kernel to keep them in step).</summary>
    internal IReadOnlyList<string> RuntimeAliases { get; init; } = [];

    internal long? OldValue { get; init; }

    internal required long Requested { get; init; }

    /// <summary>The value expected after the change: the requested one, or a hash size rounded up as the kernel will.</summary>
    internal required long Expected { get; init; }

    internal bool RuntimeChanges { get; init; }

    internal IReadOnlyList<FileEdit> Files { get; init; } = [];

    /// <summary>Builds the configuration edits for the final value (the hash size read back from the kernel).</summary>
    internal Func<long, IReadOnlyList<FileEdit>>? BuildFiles { get; init; }

    /// <summary>Reads what the next boot applies, given the proposed file contents (or the files as they are).</summary>
    internal Func<IReadOnlyDictionary<string, string?>?, PersistedValue?>? NextBoot { get; init; }

    /// <summary>
    /// The plan of a change that is one sysctl (the max, a timeout, another tracker setting): its run-time file
    /// (null under -PersistOnly) and value there now, persisted in the sysctl files under the key and its aliases.
    /// The planners differ only in the checks they make before this; the warnings they gathered are reported with
    /// the plan's own.
    /// </summary>
    internal static ChangePlan ForSysctl(ConntrackKernel kernel, string setting, string key, IReadOnlyList<string> aliases, long value,
        ApplyMode mode, string? runtime, long? oldValue, bool force, List<string> warnings,
        IReadOnlyList<string>? runtimeAliases = null, string? protocol = null, string? state = null)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(aliases);
        return Assemble(kernel, setting, mode, runtime, runtimeAliases ?? [], oldValue, value, value, runtime is not null && oldValue != value,
            PlanPersistence.Sysctl(kernel, key, aliases, force), warnings, protocol, state);
    }

    /// <summary>
    /// The one assembly of a plan from what its planner worked out. A run-time-only change writes no configuration
    /// file; any other builds its files now for the expected value (so a broken file stops the change before the
    /// kernel is touched) and keeps the builder for the value the kernel really takes. The planner's warnings and
    /// those of the files are reported with the plan.
    /// </summary>
    internal static ChangePlan Assemble(ConntrackKernel kernel, string setting, ApplyMode mode, string? runtime, IReadOnlyList<string> runtimeAliases,
        long? oldValue, long requested, long expected, bool runtimeChanges, PlanPersistence persistence, List<string> warnings,
        string? protocol = null, string? state = null)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(persistence);
        ArgumentNullException.ThrowIfNull(warnings);
        Func<long, List<string>, IReadOnlyList<FileEdit>>? build = mode == ApplyMode.Runtime ? null : persistence.Build;
        var plan = new ChangePlan
        {
            Kernel = kernel,
            Setting = setting,
            Key = persistence.Key,
            Mode = mode,
            RuntimeRelative = runtime,
            RuntimeAliases = runtimeAliases,
            OldValue = oldValue,
            Requested = requested,
            Expected = expected,
            RuntimeChanges = runtimeChanges,
            Files = build is null ? [] : build(expected, warnings),
            // The rebuild comes after the plan was shown: its warnings were already given for the expected value.
            BuildFiles = build is null ? null : v => build(v, []),
            NextBoot = persistence.NextBoot,
            Protocol = protocol,
            State = state,
        };
        plan.Warn(warnings);
        return plan;
    }

    /// <summary>The warnings of this change, as its record (ConntrackChange.Warnings) lists them; filled only through <see cref="Warn"/>.</summary>
    internal IReadOnlyList<string> Warnings => _warnings;

    private readonly List<string> _warnings = [];

    /// <summary>
    /// The one path for a change's warnings: reported through the root's log (the cmdlet's WriteWarning, once per
    /// invocation however often the change is planned) and kept for the change's record.
    /// </summary>
    internal void Warn(string message)
    {
        _warnings.Add(message);
        Kernel.SystemRoot.Log.Warning(message);
    }

    internal void Warn(IEnumerable<string> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        foreach (string message in messages)
        {
            Warn(message);
        }
    }

    internal string? Protocol { get; init; }

    internal string? State { get; init; }

    internal bool Changes => RuntimeChanges || Files.Any(f => f.Changes);

    /// <summary>"nf_conntrack_max: 65536 -> 262144; write /etc/sysctl.d/90-conntrack-tuning.conf": the ShouldProcess text.</summary>
    internal string Description
    {
        get
        {
            SystemRoot root = Kernel.SystemRoot;
            var text = new StringBuilder(Setting).Append(": ");
            if (Mode == ApplyMode.PersistentOnly)
            {
                text.Append("persist ").Append(Expected.ToString(CultureInfo.InvariantCulture));
            }
            else
            {
                text.Append(OldValue?.ToString(CultureInfo.InvariantCulture) ?? "?").Append(" -> ").Append(Expected.ToString(CultureInfo.InvariantCulture));
                if (Expected != Requested)
                {
                    text.Append(CultureInfo.InvariantCulture, $" ({Requested} rounded up to whole pages, as the kernel does)");
                }

                if (!RuntimeChanges)
                {
                    text.Append(" (already set)");
                }
            }

            FileEdit[] changing = Files.Where(f => f.Changes).ToArray();
            if (changing.Length > 0)
            {
                text.Append("; write ").Append(string.Join(", ", changing.Select(f => root.Full(f.Relative))));
            }

            return text.ToString();
        }
    }

    internal string? Target => RuntimeRelative is { } r ? Kernel.SystemRoot.Full(r) : Files.Count > 0 && Files[0] is { } f ? Kernel.SystemRoot.Full(f.Relative) : Kernel.Root;

    /// <summary>Whether what the next boot applies equals the value asked for (a hash size counts when it rounds to the same buckets).</summary>
    internal bool KeptAtBoot(PersistedValue persisted)
    {
        ArgumentNullException.ThrowIfNull(persisted);
        return persisted.Number is { } n
            && (n == Requested || n == Expected || (Setting == "hashsize" && HashSizeMath.RoundHashSize(Kernel, n) == Expected));
    }

    /// <summary>What the next boot applies if the plan's files were written (for -WhatIf and Runtime-only changes).</summary>
    internal PersistedValue? ProposedNextBoot()
    {
        if (NextBoot is null)
        {
            return null;
        }

        var proposed = Files.Where(f => f.Changes).ToDictionary(f => f.Relative, f => (string?)f.After, StringComparer.Ordinal);
        return NextBoot(proposed.Count == 0 ? null : proposed);
    }
}
