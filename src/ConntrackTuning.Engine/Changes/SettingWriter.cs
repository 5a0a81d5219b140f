using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using ConntrackTuning.Engine.Persistence;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;
using ConntrackTuning.Engine.Platform;
using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Engine.Changes;

/// <summary>Which layers a Set-Conntrack* command changes.</summary>
public enum ApplyMode
{
    /// <summary>The running kernel only (lost at the next boot or module reload).</summary>
    Runtime,

    /// <summary>The running kernel, then the configuration the next boot applies (-Persist).</summary>
    RuntimeAndPersistent,

    /// <summary>Only the configuration, for building images or kernels that cannot change at run time (-PersistOnly).</summary>
    PersistentOnly,
}

/// <summary>One configuration file of a change: its content now (null when absent) and after.</summary>
internal sealed record FileEdit(string Relative, string? Before, string After, string Purpose)
{
    internal bool Changes => !string.Equals(Before, After, StringComparison.Ordinal);
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

    internal List<string> Warnings { get; } = [];

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
}

/// <summary>
/// Plans and applies changes to max, hash size and timeouts, with their persistence. Planning reads and checks
/// everything and writes nothing; applying takes the root's lock, plans again from fresh reads, writes the kernel
/// first and the configuration second, and undoes the kernel write (and every file already replaced) if a later
/// step fails, so a change is either whole or absent.
/// </summary>
internal static class SettingWriter
{
    /// <summary>The kernel's bound on a hash size (INT_MAX / 8), checked after rounding (commit b541ba7d1f5a).</summary>
    internal const long MaxHashSize = 268_435_455;

    internal static readonly TimeSpan DefaultLockTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Test hook (PSResourceGet's InternalHooks pattern): called before each configuration file is replaced, so a
    /// test can make a late step fail and check that the earlier ones are undone. It gets the absolute path, so a
    /// test reacts only to its own root while other tests run in parallel. Null in production.
    /// </summary>
    internal static Action<string>? BeforeFileWrite { get; set; }

    /// <summary>
    /// Test hook: called with the absolute path of the run-time file right after it was written and before it is
    /// read back, so a test can stand in for a kernel that rounds a value differently than predicted. Null in production.
    /// </summary>
    internal static Action<string>? AfterRuntimeWrite { get; set; }

    private const string BucketsKey = "net.netfilter.nf_conntrack_buckets";

    // ---- max -------------------------------------------------------------------------------------------------

    internal static ChangePlan PlanMax(ConntrackKernel kernel, long max, ApplyMode mode, bool force)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        SystemRoot root = kernel.SystemRoot;
        string setting = kernel.EraRow.TrackerName + "_max";
        RequireRootForLive(kernel, mode, setting);
        string? runtime = null;
        long? old = null;
        if (mode != ApplyMode.PersistentOnly)
        {
            runtime = RequireRuntime(kernel, kernel.CanSetMax, kernel.MaxReadOnlyReason, kernel.MaxPathsFound.Count > 0 ? kernel.MaxPathsFound[0] : null, setting, hostOwned: true);
            old = root.TryReadInt64(runtime);
            // On 2.4 there is no count file: the entries of the table file are counted, as Get-ConntrackLimit does.
            (long? count, _) = LimitReader.ReadCount(kernel, root);
            if (count is { } n && max < n && !force)
            {
                throw new ConntrackException(ErrorIds.MaxBelowCount, ErrorKind.InvalidOperation,
                    $"The table holds {n} entries now; a max of {max} would make the kernel drop every new connection until {n - max} entries expire. Nothing was changed.",
                    root.Full(runtime), $"Choose a max above {n} (Get-ConntrackRecommendation suggests one), or add -Force if dropping new connections is what you want.");
            }
        }

        var warnings = new List<string>();
        CheckMemory(kernel, max, force, warnings);

        string primaryKey = kernel.MaxSysctlKey;
        string[] aliases = kernel.EraRow.MaxPaths.Select(p => EraTable.SysctlKey(p)!).Where(k => k != primaryKey).ToArray();
        var sysctl = new SysctlSetting(primaryKey, aliases, max.ToString(CultureInfo.InvariantCulture));
        IReadOnlyList<FileEdit> files = mode == ApplyMode.Runtime ? [] : SysctlEdits(kernel, [sysctl], force, warnings);
        string[] keys = [primaryKey, .. aliases];
        var plan = new ChangePlan
        {
            Kernel = kernel,
            Setting = setting,
            Key = primaryKey,
            Mode = mode,
            RuntimeRelative = runtime,
            RuntimeAliases = root.IsLive || runtime is null ? [] : kernel.MaxPathsFound.Skip(1).ToArray(),
            OldValue = old,
            Requested = max,
            Expected = max,
            RuntimeChanges = runtime is not null && old != max,
            Files = files,
            BuildFiles = mode == ApplyMode.Runtime ? null : v => SysctlEdits(kernel, [sysctl with { Value = v.ToString(CultureInfo.InvariantCulture) }], force, []),
            NextBoot = proposed => BootConfig.LastSysctl(root, keys, proposed),
        };
        plan.Warnings.AddRange(warnings);
        return plan;
    }

    private static void CheckMemory(ConntrackKernel kernel, long max, bool force, List<string> warnings)
    {
        if (kernel.MemoryBytes is not { } memory)
        {
            kernel.SystemRoot.Log.Verbose("MemTotal is unknown under this root, so the memory a full table needs is not checked.");
            return;
        }

        KernelEra era = kernel.EraRow;
        int bits = kernel.PointerBits == 32 ? 32 : 64;
        // The entry size the machine states (its slab cache, or the tracker's start-up line), else the era's estimate:
        // the same figure Get-ConntrackRecommendation uses. The hash table is added at its current size.
        EntrySize size = EntrySizeProbe.Measure(kernel.SystemRoot, kernel.TrackerKind) ?? EntrySizeProbe.Estimate(era, bits);
        long entry = size.Bytes;
        long buckets = CurrentHashSize(kernel) ?? 0;
        long needed = checked((max * entry) + (buckets * KernelDefaults.BucketSize(era, bits)));
        string mib(long bytes) => (bytes / (1024.0 * 1024)).ToString("0", CultureInfo.InvariantCulture) + " MiB";
        if (needed > memory && !force)
        {
            throw new ConntrackException(ErrorIds.MaxExceedsMemory, ErrorKind.LimitsExceeded,
                $"A full table of {max} entries needs about {mib(needed)} of kernel memory ({entry} bytes per entry, {size.Source}), more than the {mib(memory)} this machine has. Nothing was changed.",
                max.ToString(CultureInfo.InvariantCulture),
                "Choose a smaller max (Get-ConntrackRecommendation sizes one for this RAM), or add -Force if you know the entries are smaller.");
        }

        string message = $"A full table of {max} entries needs about {mib(needed)} of non-swappable kernel memory ({entry} bytes per entry, {size.Source}), {100.0 * needed / memory:0}% of the {mib(memory)} this machine has; every network namespace that tracks connections can fill a table of its own up to max.";
        if (needed > memory / 2)
        {
            warnings.Add(message);
        }
        else
        {
            kernel.SystemRoot.Log.Verbose(message);
        }
    }

    private static long? CurrentHashSize(ConntrackKernel kernel)
    {
        SystemRoot root = kernel.SystemRoot;
        if (kernel.HashSizeParameterFound is { } p && root.TryReadInt64(p) is { } param)
        {
            return param;
        }

        return kernel.BucketsPathsFound.Count > 0 ? root.TryReadInt64(kernel.BucketsPathsFound[0]) : null;
    }

    // ---- hash size -------------------------------------------------------------------------------------------

    /// <summary>The running table's hash size cannot change until the module loads again (2.4 and early 2.6 eras).</summary>
    internal static bool HashFixedWhileLoaded(ConntrackKernel kernel) =>
        kernel.EraRow.HashResize == HashResize.None && !kernel.CanSetHashSize && kernel.IsLoaded;

    /// <summary>The hash size the kernel ends up with for a request: from 2.6.24 rounded up to whole pages of bucket heads.</summary>
    internal static long RoundHashSize(ConntrackKernel kernel, long value)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        // PAGE_SIZE / sizeof(bucket head): 512 on 64-bit and 1024 on 32-bit with 4 KiB pages (KernelDefaults holds the
        // rule for the recommendation too). On the running kernel the page size is this process's, as
        // Get-ConntrackRecommendation takes it, so a 64 KiB-page arm64 host is predicted right; under a root nothing
        // states it and 4 KiB is assumed. Either way the value read back is what counts.
        int pageSize = kernel.SystemRoot.IsLive ? Environment.SystemPageSize : KernelDefaults.DefaultPageSize;
        return KernelDefaults.AllocatedBuckets(value, kernel.EraRow, kernel.PointerBits == 32 ? 32 : 64, pageSize);
    }

    internal static ChangePlan PlanHashSize(ConntrackKernel kernel, long value, ApplyMode mode, bool force)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        SystemRoot root = kernel.SystemRoot;
        KernelEra era = kernel.EraRow;
        const string setting = "hashsize";
        long rounded = RoundHashSize(kernel, value);
        if (rounded > MaxHashSize)
        {
            throw new ConntrackException(ErrorIds.HashSizeOutOfRange, ErrorKind.InvalidArgument,
                $"A hash size of {value} rounds up to {rounded} buckets, over the kernel's bound of {MaxHashSize}. Nothing was changed.",
                value.ToString(CultureInfo.InvariantCulture), $"Choose at most {MaxHashSize - (MaxHashSize % 1024)} buckets.");
        }

        var warnings = new List<string>();
        ShapeWarning(era, value, warnings);
        RequireRootForLive(kernel, mode, setting);
        string? runtime = null;
        long? old = null;
        bool runtimeChanges = false;
        bool rounds = era.BucketRounding != BucketRounding.None;
        long expected = rounds ? rounded : value;
        if (mode != ApplyMode.PersistentOnly)
        {
            if (HashFixedWhileLoaded(kernel))
            {
                throw new ConntrackException(ErrorIds.HashSizeNotResizable, ErrorKind.InvalidOperation,
                    $"The {era.TrackerName} hash of kernel {kernel.KernelRelease ?? era.Id} cannot be resized while it runs (era {era.Id}): the size is fixed when the module loads. Nothing was changed.",
                    kernel.Root, $"Use -PersistOnly to set it for the next load of {era.TrackerName} (options {era.TrackerName} hashsize={value}), then reload the module or reboot.");
            }

            runtime = RequireRuntime(kernel, kernel.CanSetHashSize, kernel.HashSizeReadOnlyReason, kernel.HashSizeWriteRelative, setting, hostOwned: true);
            old = root.TryReadInt64(runtime);
            runtimeChanges = old != value && !(rounds && old == rounded);
            // A fixture or image has no kernel to round: the value written is the value read back.
            if (!root.IsLive)
            {
                expected = runtimeChanges ? value : old ?? value;
            }
            else if (!runtimeChanges && old is { } current)
            {
                expected = current;
            }
        }

        (string? key, Func<long, IReadOnlyList<FileEdit>>? build, Func<IReadOnlyDictionary<string, string?>?, PersistedValue?> nextBoot) =
            HashPersistenceFor(kernel, force, warnings);
        IReadOnlyList<FileEdit> files = mode == ApplyMode.Runtime || build is null ? [] : build(mode == ApplyMode.PersistentOnly ? rounded : expected);
        var plan = new ChangePlan
        {
            Kernel = kernel,
            Setting = setting,
            Key = key,
            Mode = mode,
            RuntimeRelative = runtime,
            RuntimeAliases = root.IsLive || runtime is null ? [] : kernel.BucketsPathsFound.Where(b => b != runtime).Take(1).ToArray(),
            OldValue = old,
            Requested = value,
            Expected = mode == ApplyMode.PersistentOnly ? rounded : expected,
            RuntimeChanges = runtimeChanges,
            Files = files,
            BuildFiles = mode == ApplyMode.Runtime ? null : build,
            NextBoot = nextBoot,
        };
        plan.Warnings.AddRange(warnings);
        return plan;
    }

    private static void ShapeWarning(KernelEra era, long value, List<string> warnings)
    {
        if (era.HashShape == HashShape.Prime && !IsPrime(value))
        {
            warnings.Add($"{value} is not a prime. For kernels before 2.4.21 the seed's guide says: \"a prime number should be chosen for hashsize, ensuring that the hash table will be efficiently populated. Odd non-prime numbers or even numbers are strongly discouraged, as the hash distribution will be sub-optimal.\"");
        }
        else if (era.HashShape == HashShape.PowerOfTwo && (value & (value - 1)) != 0)
        {
            warnings.Add($"{value} is not a power of two. The seed's guide: since 2.4.21 conntrack \"uses jenkins2b hash algorithm which is happy with all sizes, but power of 2 works best.\"");
        }
    }

    internal static bool IsPrime(long n)
    {
        if (n < 2)
        {
            return false;
        }

        for (long d = 2; d * d <= n; d++)
        {
            if (n % d == 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Whether the tracker is a loadable module: known from the probe, or for an unloaded tracker from the module
    /// files of the root's kernels. Null when nothing tells.
    /// </summary>
    internal static bool? IsLoadableModule(ConntrackKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        if (kernel.ModuleState == "Module")
        {
            return true;
        }

        if (kernel.ModuleState == "BuiltIn")
        {
            return false;
        }

        SystemRoot root = kernel.SystemRoot;
        string name = kernel.EraRow.TrackerName;
        IEnumerable<string> releases = kernel.KernelRelease is { } r ? [r] : root.DirectoryNames("lib/modules");
        foreach (string release in releases)
        {
            if (root.ReadLines($"lib/modules/{release}/modules.builtin").Any(l => l.EndsWith("/" + name + ".ko", StringComparison.Ordinal)))
            {
                return false;
            }

            if (root.ReadLines($"lib/modules/{release}/modules.dep").Any(l => l.Contains("/" + name + ".ko", StringComparison.Ordinal) || l.Contains("/" + name + ".o", StringComparison.Ordinal)))
            {
                return true;
            }
        }

        return null;
    }

    /// <summary>
    /// How a hash size set now can survive a reboot on this kernel: the era row's ways, narrowed by whether the
    /// tracker is a module (KERNEL-FACTS §5.1). The one place this is decided; Get-ConntrackKernel shows it.
    /// </summary>
    internal static string DecideHashPersistence(ConntrackKernel kernel, out bool assumedModule)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        KernelEra era = kernel.EraRow;
        bool? loadable = IsLoadableModule(kernel);
        assumedModule = loadable is null;
        if (loadable != false)
        {
            return "ModuleOption";
        }

        if (era.HashPersistence == ConntrackTuning.Engine.Kernel.HashPersistence.ModuleOptionBucketsSysctlOrBootParameter
            && (!kernel.IsLoaded || kernel.BucketsPathsFound.Contains("proc/sys/net/netfilter/nf_conntrack_buckets")))
        {
            return "BucketsSysctl";
        }

        return era.HashPersistence == ConntrackTuning.Engine.Kernel.HashPersistence.LoadTimeOnly ? "CompileTime" : "KernelCommandLine";
    }

    private static (string? Key, Func<long, IReadOnlyList<FileEdit>>? Build, Func<IReadOnlyDictionary<string, string?>?, PersistedValue?> NextBoot)
        HashPersistenceFor(ConntrackKernel kernel, bool force, List<string> warnings)
    {
        SystemRoot root = kernel.SystemRoot;
        string module = kernel.EraRow.TrackerName;
        string method = DecideHashPersistence(kernel, out bool assumedModule);
        if (method == "BucketsSysctl")
        {
            var setting = new SysctlSetting(BucketsKey, [], "");
            return (BucketsKey,
                v => SysctlEdits(kernel, [setting with { Value = v.ToString(CultureInfo.InvariantCulture) }], force, warnings, bucketsOnly: true),
                proposed => BootConfig.LastSysctl(root, [BucketsKey], proposed));
        }

        if (method is "KernelCommandLine" or "CompileTime")
        {
            // Built in: nothing under etc/ is read early enough; only the boot loader can pass it (from 2.6).
            return (module + ".hashsize", _ => throw NeedsCommandLine(kernel), _ => BootConfig.CommandLineParameter(root, module, "hashsize"));
        }

        if (assumedModule)
        {
            root.Log.Verbose($"Whether {module} is a module or built in cannot be told from the files under {root.Path}; the hash size is persisted as a module option, which applies only if it is a module.");
        }

        return (module + ".hashsize", v => ModprobeEdits(kernel, v, force, warnings), proposed =>
            BootConfig.CommandLineParameter(root, module, "hashsize") ?? BootConfig.LastModuleOption(root, module, "hashsize", proposed));
    }

    private static ConntrackException NeedsCommandLine(ConntrackKernel kernel)
    {
        KernelEra era = kernel.EraRow;
        string module = era.TrackerName;
        if (era.HashPersistence == ConntrackTuning.Engine.Kernel.HashPersistence.LoadTimeOnly)
        {
            return new ConntrackException(ErrorIds.HashSizeNeedsKernelCommandLine, ErrorKind.InvalidOperation,
                $"{module} is built into this 2.4 kernel: its hash size is fixed when the kernel is compiled, and nothing under etc/ can change it. Nothing was changed.",
                kernel.Root, $"Rebuild the kernel with {module} as a module and use -PersistOnly (options {module} hashsize=N), or leave the hash size as it is.");
        }

        return new ConntrackException(ErrorIds.HashSizeNeedsKernelCommandLine, ErrorKind.InvalidOperation,
            $"{module} is built into kernel {kernel.KernelRelease ?? era.Id}, which before 4.8 reads a hash size only from the kernel command line: modprobe.d does not apply to built-in code and the buckets sysctl is read-only. Nothing was changed.",
            kernel.Root,
            $"Add {module}.hashsize=N to the kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub or grub2-mkconfig -o /boot/grub2/grub.cfg), or run without -Persist to change only the running kernel.");
    }

    private static IReadOnlyList<FileEdit> ModprobeEdits(ConntrackKernel kernel, long value, bool force, List<string> warnings)
    {
        SystemRoot root = kernel.SystemRoot;
        string module = kernel.EraRow.TrackerName;
        string target = root.DirectoryExists("etc/modprobe.d") ? BootConfig.OwnModprobeFile
            : root.Exists("etc/modprobe.conf") ? "etc/modprobe.conf"
            : root.Exists("etc/modules.conf") ? "etc/modules.conf"
            // 2.4 reads its options with modutils, from /etc/modules.conf; modprobe.d came with module-init-tools (2.6).
            : kernel.EraRow.HashPersistence == ConntrackTuning.Engine.Kernel.HashPersistence.LoadTimeOnly ? "etc/modules.conf"
            : BootConfig.OwnModprobeFile;
        bool own = target == BootConfig.OwnModprobeFile;
        _ = root.ResolveReplaceTarget(target);
        string? before = root.ReadConfigFile(target);
        string text = value.ToString(CultureInfo.InvariantCulture);
        string after = ModprobeFile.Set(before, module, "hashsize", text, root.Full(target), own && before is null ? BootConfig.OwnHeader("modprobe options") : null);
        var proposed = new Dictionary<string, string?> { [target] = after };
        PersistedValue? last = BootConfig.LastModuleOption(root, module, "hashsize", proposed);
        PersistedValue? cmdline = BootConfig.CommandLineParameter(root, module, "hashsize");
        PersistedValue? winner = cmdline ?? last;
        if (winner is not null && winner.Value != text)
        {
            Overridden(root, winner, $"{module} hashsize", text, force, warnings);
        }

        if (BootConfig.LastSysctl(root, kernel.EraRow.MaxPaths.Select(p => EraTable.SysctlKey(p)!).ToArray()) is null)
        {
            warnings.Add($"When {module} loads with hashsize={text}, the kernel also sets its max to 8 x {text} = {8 * value}, since no sysctl file persists the max. Persist the max too (Set-ConntrackLimit -Max N -Persist) to choose it yourself.");
        }

        return [new FileEdit(target, before, after, $"options {module} hashsize=N, applied when the module loads")];
    }

    // ---- timeouts --------------------------------------------------------------------------------------------

    internal static ChangePlan PlanTimeout(ConntrackKernel kernel, string protocol, string? state, long seconds, ApplyMode mode, bool force)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(protocol);
        SystemRoot root = kernel.SystemRoot;
        state = string.IsNullOrEmpty(state) ? null : state;
        TimeoutSysctl timeout = FindTimeout(kernel, protocol, state, mode);
        string setting = kernel.EraRow.TimeoutPrefix + timeout.Name;
        RequireRootForLive(kernel, mode, setting);
        string? runtime = null;
        long? old = null;
        if (mode != ApplyMode.PersistentOnly)
        {
            // The probe judged the folder by its first timeout file; this one is judged by its own mode.
            string? reason = kernel.TimeoutsReadOnlyReason;
            bool can = kernel.CanSetTimeouts && root.IsWritable(timeout.Relative, out reason);
            runtime = RequireRuntime(kernel, can, reason, timeout.Relative, setting, hostOwned: false);
            old = root.TryReadInt64(runtime);
        }

        var warnings = new List<string>();
        if (mode != ApplyMode.Runtime && !kernel.IsInitialNamespace)
        {
            warnings.Add($"This is not the initial network namespace: timeouts are per namespace, and the sysctl files persisted here are applied at boot to the namespace systemd-sysctl runs in (the host's), not to this one.");
        }

        IReadOnlyList<string> aliases = TimeoutReader.AliasKeys(kernel, timeout);
        var sysctl = new SysctlSetting(timeout.Key, aliases, seconds.ToString(CultureInfo.InvariantCulture));
        string[] keys = [timeout.Key, .. aliases];
        var plan = new ChangePlan
        {
            Kernel = kernel,
            Setting = setting,
            Key = timeout.Key,
            Mode = mode,
            RuntimeRelative = runtime,
            OldValue = old,
            Requested = seconds,
            Expected = seconds,
            RuntimeChanges = runtime is not null && old != seconds,
            Files = mode == ApplyMode.Runtime ? [] : SysctlEdits(kernel, [sysctl], force, warnings),
            BuildFiles = mode == ApplyMode.Runtime ? null : v => SysctlEdits(kernel, [sysctl with { Value = v.ToString(CultureInfo.InvariantCulture) }], force, []),
            NextBoot = proposed => BootConfig.LastSysctl(root, keys, proposed),
            Protocol = timeout.Protocol,
            State = timeout.State,
        };
        plan.Warnings.AddRange(warnings);
        return plan;
    }

    private static TimeoutSysctl FindTimeout(ConntrackKernel kernel, string protocol, string? state, ApplyMode mode)
    {
        string name = protocol.ToLowerInvariant() + "_timeout" + (state is null ? "" : "_" + state.ToLowerInvariant());
        IReadOnlyList<TimeoutSysctl> list;
        try
        {
            list = TimeoutReader.List(kernel);
        }
        catch (ConntrackException) when (mode == ApplyMode.PersistentOnly && kernel.EraRow.TimeoutDirectory is { } directory
            && EraTable.TimeoutDefaults.Any(d => d.Name == name))
        {
            // An image has no running kernel to list: a timeout the era table knows is enough to write its key.
            return new TimeoutSysctl(name, protocol.ToLowerInvariant(), state?.ToLowerInvariant(), directory + "/" + kernel.EraRow.TimeoutPrefix + name);
        }

        return list.FirstOrDefault(t => t.Name == name) ?? throw new ConntrackException(ErrorIds.TimeoutNotFound, ErrorKind.ObjectNotFound,
            $"Kernel {kernel.KernelRelease ?? kernel.Era} has no {protocol}{(state is null ? "" : " " + state)} timeout ({kernel.EraRow.TimeoutPrefix}{name}). It has: {string.Join(", ", list.Select(t => t.State is null ? t.Protocol : t.Protocol + " " + t.State))}.",
            kernel.Paths.TimeoutDirectory is { } d ? d + "/" + kernel.EraRow.TimeoutPrefix + name : name,
            "Run Get-ConntrackTimeout to list the timeouts of this kernel (Tab completes -Protocol and -State from them).");
    }

    // ---- sysctl persistence ----------------------------------------------------------------------------------

    /// <summary>
    /// The file sysctl settings go to: the module's own file in etc/sysctl.d, or on systems without sysctl.d
    /// (old distributions) etc/sysctl.conf, updated in place.
    /// </summary>
    internal static (string Relative, bool Own) SysctlTarget(ConntrackKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        SystemRoot root = kernel.SystemRoot;
        if (root.DirectoryExists("etc/sysctl.d"))
        {
            return (BootConfig.OwnSysctlFile, true);
        }

        if (root.Exists(BootConfig.SysctlConf) || kernel.TrackerKind == Tracker.IpConntrack)
        {
            return (BootConfig.SysctlConf, false);
        }

        return (BootConfig.OwnSysctlFile, true);
    }

    private static List<FileEdit> SysctlEdits(ConntrackKernel kernel, IReadOnlyList<SysctlSetting> settings, bool force, List<string> warnings, bool bucketsOnly = false)
    {
        SystemRoot root = kernel.SystemRoot;
        (string target, bool own) = SysctlTarget(kernel);
        _ = root.ResolveReplaceTarget(target);
        string? before = root.ReadConfigFile(target);
        string after = SysctlFile.Set(before, settings, root.Full(target), own && before is null ? BootConfig.OwnHeader("sysctl settings") : null);
        var edits = new List<FileEdit> { new(target, before, after, "sysctl settings applied at boot") };

        var proposed = new Dictionary<string, string?> { [target] = after };
        foreach (SysctlSetting setting in settings)
        {
            PersistedValue? last = BootConfig.LastSysctl(root, [setting.Key, .. setting.Aliases], proposed);
            if (last is not null && last.Value != setting.Value)
            {
                Overridden(root, last, setting.Key, setting.Value, force, warnings);
            }
        }

        string module = kernel.EraRow.TrackerName;
        bool? loadable = bucketsOnly ? false : IsLoadableModule(kernel);
        if (own && loadable != false)
        {
            // ECOSYSTEM.md §2.1: systemd-sysctl runs before a firewall rule loads the module, finds no net.netfilter
            // keys yet and skips them without failing. systemd-modules-load runs first, so listing the module there
            // makes the keys exist in time.
            _ = root.ResolveReplaceTarget(BootConfig.OwnModulesLoadFile);
            string? listBefore = root.ReadConfigFile(BootConfig.OwnModulesLoadFile);
            string listAfter = ModulesLoadFile.Ensure(listBefore, module, root.Full(BootConfig.OwnModulesLoadFile), listBefore is null ? BootConfig.OwnHeader("modules loaded at boot") : null);
            edits.Add(new FileEdit(BootConfig.OwnModulesLoadFile, listBefore, listAfter, $"loads {module} before systemd-sysctl applies the keys"));
            root.Log.Verbose($"{module} is {(loadable == true ? "a loadable module" : "possibly a loadable module")}: systemd-sysctl applies {BootConfig.OwnSysctlFile} early at boot, before a firewall rule loads {module}, and silently skips keys that do not exist yet. Listing {module} in {root.Full(BootConfig.OwnModulesLoadFile)} makes systemd-modules-load (which runs first) load it in time.");
        }
        else if (!own && loadable == true)
        {
            warnings.Add($"{module} is a loadable module and this system applies {root.Full(target)} at boot, possibly before the firewall loads {module}; the keys are then skipped. Make sure {module} is loaded before sysctl runs (for example 'modprobe {module}' in /etc/rc.modules), and check after a reboot with Get-ConntrackLimit.");
        }

        return edits;
    }

    private static void Overridden(SystemRoot root, PersistedValue winner, string what, string value, bool force, List<string> warnings)
    {
        string message = $"{winner.Source} sets {what} to {winner.Value}, and it is applied after the module's own setting of {value}, so the next boot would apply {winner.Value}.";
        if (!force)
        {
            throw new ConntrackException(ErrorIds.PersistenceOverridden, ErrorKind.InvalidOperation, message + " Nothing was changed.",
                winner.File, $"Remove or change that line of {winner.File} (the module never rewrites other files), or add -Force to write the setting anyway.");
        }

        warnings.Add(message);
        root.Log.Verbose("-Force: writing the setting although it is overridden.");
    }

    // ---- checks shared by every setting ----------------------------------------------------------------------

    private static void RequireRootForLive(ConntrackKernel kernel, ApplyMode mode, string setting)
    {
        if (kernel.SystemRoot.IsLive && !ProcessIdentity.IsRoot)
        {
            throw new ConntrackException(ErrorIds.RootRequired, ErrorKind.PermissionDenied,
                $"Changing {setting} {(mode == ApplyMode.PersistentOnly ? "in the persistent configuration" : "on this machine")} requires root. Nothing was changed.",
                setting, "Run pwsh elevated (sudo pwsh), or give -Root a copy of the system you may write to.");
        }
    }

    private static string RequireRuntime(ConntrackKernel kernel, bool can, string? reason, string? relative, string setting, bool hostOwned)
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

    private static ConntrackException HostOwned(ConntrackKernel kernel, string setting, string target) =>
        new(ErrorIds.HostOwnedSetting, ErrorKind.PermissionDenied,
            $"This is not the initial network namespace (a container or 'unshare -n'): {setting} is global, read-only here and belongs to the host. Nothing was changed.",
            target, "Run the command on the host (or in its initial network namespace); timeouts, in contrast, can be set per namespace with Set-ConntrackTimeout.");

    // ---- applying --------------------------------------------------------------------------------------------

    /// <summary>
    /// Applies a change under the root's lock. The plan is made again from fresh reads once the lock is held, so
    /// a second invocation that finished meanwhile is seen (and a rerun of the same change does nothing).
    /// </summary>
    internal static ConntrackChange Apply(SystemRoot root, Func<ChangePlan> planner, TimeSpan lockTimeout)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(planner);
        using IDisposable writeLock = root.AcquireWriteLock(lockTimeout);
        ChangePlan plan = planner();
        if (!plan.Changes)
        {
            root.Log.Verbose($"{plan.Setting} is already {plan.Expected} everywhere asked; nothing to do.");
            return Record(plan, applied: true, plan.OldValue ?? plan.Expected, plan.Files, plan.NextBoot?.Invoke(null));
        }

        long newValue = plan.Expected;
        bool runtimeWritten = false;
        bool runtimeChanged = plan.RuntimeChanges;
        if (plan.RuntimeChanges)
        {
            WriteRuntime(plan, plan.Requested);
            runtimeWritten = true;
            AfterRuntimeWrite?.Invoke(root.Full(plan.RuntimeRelative!));
            long? back = root.TryReadInt64(plan.RuntimeRelative!);
            newValue = back ?? plan.Expected;
            if (back is { } b && b != plan.Expected)
            {
                plan.Warnings.Add($"{root.Full(plan.RuntimeRelative!)} reads back {b} after {plan.Requested} was written (expected {plan.Expected}); {b} is what the kernel uses, and what is persisted.");
            }

            // A kernel that rounds further than predicted (bigger pages) may land on the value it already had: then
            // nothing changed, and the record must say so, or every rerun (an Ansible play) reports a change.
            if (back is { } same && same == plan.OldValue)
            {
                runtimeChanged = false;
            }
        }

        IReadOnlyList<FileEdit> files = plan.Files;
        var written = new List<FileEdit>();
        // Folders a write creates (etc/sysctl.d in an image, etc/modules-load.d), noted before the write so that a
        // write failing after it made them is undone too.
        var createdFolders = new List<string>();
        try
        {
            if (plan.BuildFiles is not null && plan.Mode != ApplyMode.PersistentOnly && newValue != plan.Expected)
            {
                files = plan.BuildFiles(newValue);
            }

            foreach (FileEdit edit in files.Where(f => f.Changes))
            {
                BeforeFileWrite?.Invoke(root.Full(edit.Relative));
                createdFolders.AddRange(root.MissingFolders(edit.Relative));
                root.WriteConfigFileAtomic(edit.Relative, edit.After);
                written.Add(edit);
            }
        }
        catch (Exception e) when (e is ConntrackException or System.IO.IOException or UnauthorizedAccessException)
        {
            string undone = Undo(plan, written, runtimeWritten, createdFolders);
            ConntrackException inner = e as ConntrackException ?? new ConntrackException(ErrorIds.FileWriteFailed, ErrorKind.WriteError, e.Message, null, null, e);
            throw new ConntrackException(inner.ErrorId, inner.Kind, inner.Message + " " + undone, inner.Target, inner.RecommendedAction, e);
        }

        return Record(plan, applied: true, newValue, files, plan.NextBoot?.Invoke(null), runtimeChanged);
    }

    private static string Undo(ChangePlan plan, List<FileEdit> written, bool runtimeWritten, List<string> createdFolders)
    {
        SystemRoot root = plan.Kernel.SystemRoot;
        var failures = new List<string>();
        foreach (FileEdit edit in Enumerable.Reverse(written))
        {
            try
            {
                if (edit.Before is null)
                {
                    root.RemoveConfigFile(edit.Relative);
                }
                else
                {
                    root.WriteConfigFileAtomic(edit.Relative, edit.Before);
                }
            }
            catch (Exception e) when (e is ConntrackException or System.IO.IOException or UnauthorizedAccessException)
            {
                failures.Add($"{root.Full(edit.Relative)} ({e.Message})");
            }
        }

        // Deepest first, so etc/sysctl.d goes before the etc it was created in.
        foreach (string folder in createdFolders.Distinct(StringComparer.Ordinal).OrderByDescending(f => f.Count(c => c == '/')))
        {
            try
            {
                root.RemoveCreatedFolder(folder);
            }
            catch (Exception e) when (e is System.IO.IOException or UnauthorizedAccessException)
            {
                failures.Add($"{root.Full(folder)} ({e.Message})");
            }
        }

        if (runtimeWritten && plan.OldValue is { } old)
        {
            try
            {
                WriteRuntime(plan, old);
            }
            catch (ConntrackException e)
            {
                failures.Add($"{root.Full(plan.RuntimeRelative!)} ({e.Message})");
            }
        }

        return failures.Count == 0
            ? $"Everything written before the failure was undone{(runtimeWritten ? $": {plan.Setting} is back to {plan.OldValue}" : "")}."
            : "Undoing the earlier steps failed for: " + string.Join("; ", failures) + ". Check these by hand.";
    }

    private static void WriteRuntime(ChangePlan plan, long value)
    {
        SystemRoot root = plan.Kernel.SystemRoot;
        string text = value.ToString(CultureInfo.InvariantCulture) + "\n";
        int errno = root.TryWriteValueFile(plan.RuntimeRelative!, text);
        if (errno != 0)
        {
            throw RuntimeWriteFailed(plan, value, errno);
        }

        foreach (string alias in plan.RuntimeAliases)
        {
            // Only under a root that is not the live kernel: the alias files of a fixture or image are kept in step by hand.
            if (root.TryWriteValueFile(alias, text) == 0)
            {
                root.Log.Verbose($"Also wrote {root.Full(alias)}: under a root that is not the running kernel, nothing else keeps the alias in step.");
            }
        }
    }

    internal static ConntrackException RuntimeWriteFailed(ChangePlan plan, long value, int errno)
    {
        ConntrackKernel kernel = plan.Kernel;
        SystemRoot root = kernel.SystemRoot;
        string full = root.Full(plan.RuntimeRelative!);
        string why = Errno.Message(errno);
        return errno switch
        {
            Errno.EACCES or Errno.EPERM when root.IsLive && !ProcessIdentity.IsRoot => new ConntrackException(ErrorIds.RootRequired, ErrorKind.PermissionDenied,
                $"Writing {full} requires root ({why}). Nothing was changed.", full, "Run pwsh elevated (sudo pwsh)."),
            Errno.EACCES or Errno.EPERM or Errno.EOPNOTSUPP when !kernel.IsInitialNamespace || errno == Errno.EOPNOTSUPP => HostOwned(kernel, plan.Setting, full),
            Errno.EACCES or Errno.EPERM or Errno.EROFS => new ConntrackException(ErrorIds.SettingReadOnly, ErrorKind.PermissionDenied,
                $"The kernel refused the write to {full}: {why}{(errno == Errno.EROFS ? " (/proc/sys or /sys is mounted read-only, as in most containers)" : "")}. Nothing was changed.",
                full, "Run the command on the host, or use -PersistOnly to change only the configuration."),
            Errno.EINVAL or Errno.ERANGE or Errno.ENOMEM => new ConntrackException(ErrorIds.ValueRejectedByKernel,
                errno == Errno.ENOMEM ? ErrorKind.LimitsExceeded : ErrorKind.InvalidArgument,
                $"The kernel refused {value} for {plan.Setting} ({why}){(errno == Errno.ENOMEM ? ": it could not allocate a table that big" : "")}. Nothing was changed.",
                full, errno == Errno.ENOMEM ? "Choose a smaller value." : "Choose a value the kernel accepts (timeouts: at most 2147483647 / HZ seconds)."),
            _ => new ConntrackException(ErrorIds.FileWriteFailed, ErrorKind.WriteError,
                $"Writing {value} to {full} failed: {why}. Nothing was changed.", full, "Check that the tracker is still loaded and the file is writable."),
        };
    }

    /// <summary>The change record for a plan: applied, or under -WhatIf what would be.</summary>
    internal static ConntrackChange Record(ChangePlan plan, bool applied, long? newValue, IReadOnlyList<FileEdit> files, PersistedValue? nextBoot, bool? runtimeChanged = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(files);
        bool runtime = runtimeChanged ?? plan.RuntimeChanges;
        bool persistence = files.Any(f => f.Changes);
        SystemRoot root = plan.Kernel.SystemRoot;
        string? display(string? latin1) => latin1 is null ? null : Encoding.UTF8.GetString(SystemRoot.ConfigEncoding.GetBytes(latin1));
        return new ConntrackChange
        {
            Setting = plan.Setting,
            Key = plan.Key,
            Path = plan.RuntimeRelative is { } r ? root.Full(r) : null,
            OldValue = plan.OldValue,
            NewValue = newValue,
            RequestedValue = plan.Requested,
            Changed = runtime || persistence,
            RuntimeChanged = runtime,
            PersistenceChanged = persistence,
            Applied = applied,
            Mode = plan.Mode.ToString(),
            PersistedTo = plan.Mode == ApplyMode.Runtime ? [] : files.Select(f => root.Full(f.Relative)).ToArray(),
            Files = files.Select(f => new ConntrackFileChange
            {
                Path = root.Full(f.Relative),
                Action = !f.Changes ? "None" : f.Before is null ? "Create" : "Update",
                Before = display(f.Before),
                After = display(f.After),
                Purpose = f.Purpose,
            }).ToArray(),
            NextBootValue = nextBoot?.Number,
            NextBootSource = nextBoot?.Source,
            Protocol = plan.Protocol,
            State = plan.State,
            Warnings = plan.Warnings.ToArray(),
            Root = plan.Kernel.Root,
        };
    }

    /// <summary>Whether what the next boot applies equals the value asked for (a hash size counts when it rounds to the same buckets).</summary>
    internal static bool KeptAtBoot(ChangePlan plan, PersistedValue persisted)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(persisted);
        return persisted.Number is { } n
            && (n == plan.Requested || n == plan.Expected || (plan.Setting == "hashsize" && RoundHashSize(plan.Kernel, n) == plan.Expected));
    }

    /// <summary>What the next boot applies if the plan's files were written (for -WhatIf and Runtime-only changes).</summary>
    internal static PersistedValue? ProposedNextBoot(ChangePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.NextBoot is null)
        {
            return null;
        }

        var proposed = plan.Files.Where(f => f.Changes).ToDictionary(f => f.Relative, f => (string?)f.After, StringComparer.Ordinal);
        return plan.NextBoot(proposed.Count == 0 ? null : proposed);
    }
}
