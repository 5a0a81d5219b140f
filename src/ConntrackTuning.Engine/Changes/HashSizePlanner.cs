using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Persistence;
using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Engine.Changes;

/// <summary>
/// Plans a change of the hash size: the kernel's rounding and bound, the shape the era wants, and how the size
/// survives a reboot (the buckets sysctl, a module option, or the kernel command line).
/// </summary>
internal static class HashSizePlanner
{
    internal static ChangePlan Plan(ConntrackKernel kernel, long value, ApplyMode mode, bool force)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        SystemRoot root = kernel.SystemRoot;
        KernelEra era = kernel.EraRow;
        const string setting = "hashsize";
        long rounded = HashSizeMath.RoundHashSize(kernel, value);
        if (rounded > HashSizeMath.MaxHashSize)
        {
            throw new ConntrackException(ErrorIds.HashSizeOutOfRange, ErrorKind.InvalidArgument,
                $"A hash size of {value} rounds up to {rounded} buckets, over the kernel's bound of {HashSizeMath.MaxHashSize}. Nothing was changed.",
                value.ToString(CultureInfo.InvariantCulture), $"Choose at most {HashSizeMath.MaxHashSize - (HashSizeMath.MaxHashSize % 1024)} buckets.");
        }

        var warnings = new List<string>();
        ShapeWarning(era, value, warnings);
        ChangeChecks.RequireRootForLive(kernel, mode, setting);
        string? runtime = null;
        long? old = null;
        bool runtimeChanges = false;
        bool rounds = era.BucketRounding != BucketRounding.None;
        long expected = rounds ? rounded : value;
        if (mode != ApplyMode.PersistentOnly)
        {
            if (TrackerModule.HashFixedWhileLoaded(kernel))
            {
                throw new ConntrackException(ErrorIds.HashSizeNotResizable, ErrorKind.InvalidOperation,
                    $"The {era.TrackerName} hash of kernel {kernel.KernelRelease ?? era.Id} cannot be resized while it runs (era {era.Id}): the size is fixed when the module loads. Nothing was changed.",
                    kernel.Root, $"Use -PersistOnly to set it for the next load of {era.TrackerName} (options {era.TrackerName} hashsize={value}), then reload the module or reboot.");
            }

            // Where no file is writable, the refusal still names the file that holds the hash size, as the max's does.
            string? holder = kernel.HashSizeWriteRelative ?? kernel.HashSizeParameterFound ?? (kernel.BucketsPathsFound.Count > 0 ? kernel.BucketsPathsFound[0] : null);
            runtime = ChangeChecks.RequireRuntime(kernel, kernel.CanSetHashSize, kernel.HashSizeReadOnlyReason, holder, setting, hostOwned: true);
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

        return ChangePlan.Assemble(kernel, setting, mode, runtime,
            root.IsLive || runtime is null ? [] : kernel.BucketsPathsFound.Where(b => b != runtime).Take(1).ToArray(),
            old, value, mode == ApplyMode.PersistentOnly ? rounded : expected, runtimeChanges, RoundedAtBoot(kernel, HashPersistenceFor(kernel, force)), warnings);
    }

    private static void ShapeWarning(KernelEra era, long value, List<string> warnings)
    {
        if (era.HashShape == HashShape.Prime && !HashSizeMath.IsPrime(value))
        {
            warnings.Add($"{value} is not a prime. For kernels before 2.4.21 the seed's guide says: \"a prime number should be chosen for hashsize, ensuring that the hash table will be efficiently populated. Odd non-prime numbers or even numbers are strongly discouraged, as the hash distribution will be sub-optimal.\"");
        }
        else if (era.HashShape == HashShape.PowerOfTwo && !HashSizeMath.IsPowerOfTwo(value))
        {
            warnings.Add($"{value} is not a power of two. The seed's guide: since 2.4.21 conntrack \"uses jenkins2b hash algorithm which is happy with all sizes, but power of 2 works best.\"");
        }
    }

    /// <summary>
    /// The kernel rounds a hash size given at boot as it rounds one written at run time, so the record's
    /// NextBootValue is the rounded one, as Get-ConntrackLimit's PersistedHashSize is (the source still names the line).
    /// </summary>
    private static PlanPersistence RoundedAtBoot(ConntrackKernel kernel, PlanPersistence persistence) => persistence with
    {
        NextBoot = proposed => persistence.NextBoot(proposed) switch
        {
            { Number: { } n } line => line with { Value = HashSizeMath.RoundHashSize(kernel, n).ToString(CultureInfo.InvariantCulture) },
            var other => other,
        },
    };

    private static PlanPersistence HashPersistenceFor(ConntrackKernel kernel, bool force)
    {
        SystemRoot root = kernel.SystemRoot;
        string module = kernel.EraRow.TrackerName;
        string method = TrackerModule.DecideHashPersistence(kernel, out bool assumedModule);
        if (method == "BucketsSysctl")
        {
            return PlanPersistence.Sysctl(kernel, EraTable.BucketsSysctlKey, [], force, bucketsOnly: true);
        }

        if (method is "KernelCommandLine" or "CompileTime")
        {
            // Built in: nothing under etc/ is read early enough; only the boot loader can pass it (from 2.6).
            return new(module + ".hashsize", (_, _) => throw NeedsCommandLine(kernel), _ => BootConfig.CommandLineParameter(root, module, "hashsize"));
        }

        if (assumedModule)
        {
            root.Log.Verbose($"Whether {module} is a module or built in cannot be told from the files under {root.Path}; the hash size is persisted as a module option, which applies only if it is a module.");
        }

        return new(module + ".hashsize", (v, warnings) => ModprobeEdits(kernel, v, force, warnings), proposed =>
            BootConfig.CommandLineParameter(root, module, "hashsize") ?? BootConfig.LastModuleOption(root, module, "hashsize", proposed));
    }

    private static ConntrackException NeedsCommandLine(ConntrackKernel kernel)
    {
        KernelEra era = kernel.EraRow;
        string module = era.TrackerName;
        if (era.HashPersistence == HashPersistence.LoadTimeOnly)
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
            : kernel.EraRow.HashPersistence == HashPersistence.LoadTimeOnly ? "etc/modules.conf"
            : BootConfig.OwnModprobeFile;
        bool own = target == BootConfig.OwnModprobeFile;
        _ = root.ResolveReplaceTarget(target);
        string? before = root.ReadConfigFile(target, out bool quote);
        string text = value.ToString(CultureInfo.InvariantCulture);
        string after = ModprobeFile.Set(before, module, "hashsize", text, root.Full(target), own && before is null ? BootConfig.OwnHeader("modprobe options") : null, quote);
        var proposed = new Dictionary<string, string?> { [target] = after };
        PersistedValue? last = BootConfig.LastModuleOption(root, module, "hashsize", proposed);
        PersistedValue? cmdline = BootConfig.CommandLineParameter(root, module, "hashsize");
        PersistedValue? winner = cmdline ?? last;
        // Compared as the kernel will round it: another file's hashsize=100000 gives the same 100352 buckets as ours.
        long? winnerBuckets = winner?.Number is { } n ? HashSizeMath.RoundHashSize(kernel, n) : null;
        if (winner is not null && winnerBuckets != HashSizeMath.RoundHashSize(kernel, value))
        {
            PersistenceEdits.Overridden(root, winner, $"{module} hashsize", text, force, warnings, winnerBuckets?.ToString(CultureInfo.InvariantCulture));
        }

        if (BootConfig.LastSysctl(root, kernel.EraRow.MaxPaths.Select(p => EraTable.SysctlKey(p)!).ToArray()) is null)
        {
            warnings.Add($"When {module} loads with hashsize={text}, the kernel also sets its max to 8 x {text} = {8 * value}, since no sysctl file persists the max. Persist the max too (Set-ConntrackLimit -Max N -Persist) to choose it yourself.");
        }

        return [new FileEdit(target, before, after, $"options {module} hashsize=N, applied when the module loads")];
    }
}
