using ConntrackTuning.Engine.Kernel;

namespace ConntrackTuning.Engine.Images;

/// <summary>
/// The kernel of an image: not a running one (there is none) but the one installed, which the image boots.
/// Several installed: the newest, unless -KernelRelease picks another; the choice and where it was read are kept.
/// </summary>
internal static class ImageProbe
{
    public static ConntrackKernel Probe(SystemRoot root, string? release, long? memoryBytes)
    {
        ArgumentNullException.ThrowIfNull(root);
        var installed = InstalledKernels.Find(root);
        InstalledKernel? chosen = InstalledKernels.Choose(installed, release, root.Path);
        KernelVersion? version = chosen?.Version;
        Tracker tracker = version is { } v ? EraTable.ExpectedTracker(v) : Tracker.NfConntrack;
        if (tracker == Tracker.IpConntrack && chosen is not null)
        {
            chosen = InstalledKernels.Find(root, "ip_conntrack").First(k => k.Release == chosen.Release);
        }

        KernelEra era = version is { } known ? EraTable.Find(tracker, known) : EraTable.Newest(tracker);
        string why = $"{root.Path} is an image: no kernel runs behind it, so nothing can change at run time. Use -PersistOnly to write the configuration its next boot applies.";
        var kernel = new ConntrackKernel(root, era, version, tracker)
        {
            RootKind = RootKinds.Image,
            KernelRelease = chosen?.Release,
            KernelReleaseSource = chosen is null ? null : $"{root.Full(chosen.ModulesFolder)} ({Choice(installed.Count, release)})",
            InstalledKernelReleases = installed.Select(k => k.Release).ToArray(),
            ModuleState = chosen?.TrackerState ?? "Unknown",
            ModuleStateSource = chosen?.TrackerStateSource,
            HasProcfs = chosen?.Procfs,
            MemoryBytes = memoryBytes,
            MemoryBytesSource = memoryBytes is null ? null : "-MemoryBytes (the RAM the image will boot with)",
            MaxSysctlKey = era.MaxSysctlKey,
            MaxReadOnlyReason = why,
            HashSizeReadOnlyReason = why,
            TimeoutsReadOnlyReason = why,
        };
        (kernel.PointerBits, kernel.PointerBitsSource) = chosen?.PointerBits is int bits
            ? (bits, chosen.ConfigFile is { } config ? root.Full(config) : $"kernel release {chosen.Release}")
            : (64, "assumed (nothing in the image tells)");
        root.Log.Verbose(chosen is null
            ? $"No kernel is installed under {root.Path} (lib/modules, usr/lib/modules): the era is the newest {EraTable.TrackerName(tracker)} one."
            : $"Image: kernel {chosen.Release} ({Choice(installed.Count, release)}), {EraTable.TrackerName(tracker)} {chosen.TrackerState} ({chosen.TrackerStateSource ?? "no module list or config says how"}), era {era.Id}.");
        kernel.HashSizePersistence = TrackerModule.DecideHashPersistence(kernel, out _);
        return kernel;
    }

    private static string Choice(int count, string? release) =>
        release is not null ? "chosen with -KernelRelease"
        : count > 1 ? $"the newest of {count} installed kernels"
        : "the only installed kernel";
}
