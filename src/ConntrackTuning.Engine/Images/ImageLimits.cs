using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;
using ConntrackTuning.Engine.Persistence;
using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Engine.Images;

/// <summary>
/// Get-ConntrackLimit on an image: what its next boot will apply, and where each value comes from. No running
/// values (there is no kernel). A sysctl.d key for a tracker that loads after systemd-sysctl is skipped at boot,
/// so the value it sets is reported as lost and the kernel's own applies instead.
/// </summary>
internal static class ImageLimits
{
    /// <summary>The RAM sizes DefaultRule shows the default for when -MemoryBytes is not given.</summary>
    private static readonly long[] ExampleGiB = [1, 4, 16];

    public static ConntrackLimit Read(ConntrackKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        SystemRoot root = kernel.SystemRoot;
        if (kernel.KernelRelease is null)
        {
            throw new ConntrackException(ErrorIds.NoRunningKernel, ErrorKind.ObjectNotFound,
                $"The root '{kernel.Root}' is an image with no kernel installed (lib/modules and usr/lib/modules hold no release) and no proc/ folder: there is no running kernel, and no installed one whose next boot could be predicted.",
                kernel.Root,
                "Point -Root at a sosreport or another capture that includes /proc, or at an image with its kernel installed; to configure the image, use Set-ConntrackLimit, Set-ConntrackHashSize or Set-ConntrackTimeout with -PersistOnly.");
        }

        KernelEra era = kernel.EraRow;
        string tracker = era.TrackerName;
        (bool? early, string earlySource) = NextBoot.LoadedBeforeSysctl(kernel);
        bool sysctlApplies = early != false;

        Dictionary<string, PersistedValue> sysctl = BootConfig.AllSysctl(root);
        (PersistedValue? maxLine, PersistedValue? buckets) = BootConfig.TableSizeLines(sysctl, era);
        PersistedValue? loadTime = TrackerModule.IsLoadable(kernel) != false ? BootConfig.LastModuleOption(root, tracker, "hashsize") : null;
        long? atLoad = BootConfig.NumberOrWarn(root, loadTime);
        long? roundedAtLoad = atLoad is { } a ? HashSizeMath.RoundHashSize(kernel, a) : null;

        int bits = KernelDefaults.PointerBits(kernel);
        KernelDefault? kd = kernel.MemoryBytes is { } memory && !era.SizesFromAllPhysicalPages
            ? KernelDefaults.Compute(memory, bits, era, atLoad)
            : null;
        string defaultWords = kernel.MemoryBytes is not null
            ? DefaultSource(kernel)
            : "the kernel's default, which depends on the RAM the image boots with (see DefaultRule)";

        var skipped = new List<string>();
        long? max = null, hash = null;
        string? maxSource = null, hashSource = null;
        if (BootConfig.NumberOrWarn(root, buckets) is { } b && sysctlApplies)
        {
            (hash, hashSource) = (HashSizeMath.RoundHashSize(kernel, b), buckets!.Source);
        }
        else if (roundedAtLoad is { } r)
        {
            (hash, hashSource) = (r, $"{loadTime!.Source} (options {tracker} hashsize={atLoad}, applied when the module loads)");
        }
        else
        {
            (hash, hashSource) = (kd?.HashSize, defaultWords);
        }

        if (BootConfig.NumberOrWarn(root, maxLine) is { } persistedMax && sysctlApplies)
        {
            (max, maxSource) = (persistedMax, maxLine!.Source);
        }
        else if (roundedAtLoad is { } r)
        {
            (max, maxSource) = (8 * r, $"8 x hashsize {r} ({loadTime!.Source}): the kernel's rule when no sysctl sets the max");
        }
        else
        {
            (max, maxSource) = (kd?.Max, defaultWords);
        }

        if (!sysctlApplies)
        {
            skipped.AddRange(NextBoot.TrackerSysctlLines(root).Select(l => $"{l.Key} = {l.Value} ({l.Source})"));
        }

        return new ConntrackLimit
        {
            Tracker = kernel.Tracker,
            KernelRelease = kernel.KernelRelease,
            RootKind = kernel.RootKind,
            IsInitialNamespace = true,
            MemoryBytes = kernel.MemoryBytes,
            PersistedMax = sysctlApplies ? BootConfig.NumberOrWarn(root, maxLine) ?? (roundedAtLoad is { } pm ? 8 * pm : null) : roundedAtLoad is { } lm ? 8 * lm : null,
            PersistedMaxSource = sysctlApplies && maxLine is not null ? maxLine.Source : roundedAtLoad is not null ? loadTime!.Source : null,
            PersistedHashSize = sysctlApplies && BootConfig.NumberOrWarn(root, buckets) is { } pb ? HashSizeMath.RoundHashSize(kernel, pb) : roundedAtLoad,
            PersistedHashSizeSource = sysctlApplies && buckets is not null ? buckets.Source : loadTime?.Source,
            NextBootMax = max,
            NextBootMaxSource = maxSource,
            NextBootHashSize = hash,
            NextBootHashSizeSource = hashSource,
            EntriesPerBucket = TableRatios.EntriesPerBucket(max, hash),
            LoadedBeforeSysctl = early,
            LoadedBeforeSysctlSource = earlySource,
            SkippedAtBoot = skipped,
            DefaultRule = kd is not null ? string.Join(" ", kd.Steps) : DefaultRule(era, bits, atLoad),
            Root = kernel.Root,
        };
    }

    /// <summary>How the default depends on RAM, shown by what it gives at a few sizes, when the RAM is not given.</summary>
    internal static string DefaultRule(KernelEra era, int bits, long? atLoad)
    {
        if (era.SizesFromAllPhysicalPages)
        {
            return $"Kernels of era {era.Id} size the table from every physical page, a little more than MemTotal; give -MemoryBytes for an estimate.";
        }

        var examples = ExampleGiB.Select(g =>
        {
            KernelDefault d = KernelDefaults.Compute(g << 30, bits, era, atLoad);
            return $"{g} GiB: max {d.Max.ToString(CultureInfo.InvariantCulture)}, hash size {d.HashSize.ToString(CultureInfo.InvariantCulture)}";
        });
        return $"The kernel sizes the table from the RAM it boots with (era {era.Id}); {string.Join("; ", examples)}. Give -MemoryBytes (the RAM the image will run with, as MemTotal counts it) for the exact value.";
    }

    /// <summary>Where a next-boot value that nothing persists comes from: the kernel's own sizing for the root's RAM.</summary>
    internal static string DefaultSource(ConntrackKernel kernel) =>
        $"the kernel's default for {Mib(kernel.MemoryBytes ?? 0)} MiB of RAM ({kernel.MemoryBytesSource ?? "given"})";

    private static string Mib(long bytes) => (bytes / 1048576.0).ToString("0.#", CultureInfo.InvariantCulture);
}
