using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;
using static ConntrackTuning.Engine.Sizing.KernelDefaults;

namespace ConntrackTuning.Engine.Sizing;

/// <summary>
/// Resolves what a recommendation is sized from: each input the request leaves open comes from the probed kernel
/// under the root, or, when planning for a machine that is not there, is assumed and said so. Validates the request.
/// </summary>
internal static class SizingInputResolver
{
    private static readonly KernelVersion FirstConntrackKernel = new(2, 4, 0);

    /// <summary>
    /// Resolves every input. With a kernel (read from a root) each input the request leaves null comes from it;
    /// without one (planning for a machine that is not there) the request must give the memory and the kernel
    /// version, and the rest is assumed and said so. A kernel version that differs from the root's takes its
    /// era from the table, and then the root's measured entry size (which belongs to the root's kernel) is not
    /// used.
    /// </summary>
    public static SizingInputs Resolve(RecommendationRequest request, ConntrackKernel? kernel)
    {
        ArgumentNullException.ThrowIfNull(request);
        ValidateRequest(request);
        KernelVersion? planned = request.KernelVersion is { } text ? ParseVersion(text) : null;
        var context = new List<string>();

        if (kernel is null)
        {
            return ResolvePlanned(request, planned, context);
        }

        SystemRoot root = kernel.SystemRoot;
        bool sameKernel = planned is null || (kernel.Version is { } v && v == planned.Value);
        KernelEra era = sameKernel ? kernel.EraRow : EraTable.Find(EraTable.ExpectedTracker(planned!.Value), planned.Value);
        string? version = sameKernel ? kernel.KernelVersion : planned!.Value.ToString();

        long memory;
        string memorySource;
        if (request.MemoryBytes is { } givenMemory)
        {
            (memory, memorySource) = (givenMemory, "given");
        }
        else if (kernel.MemoryBytes is { } read)
        {
            string meminfo = root.Full("proc/meminfo");
            if (read <= 0)
            {
                throw new ConntrackException(ErrorIds.InvalidSizingInput, ErrorKind.InvalidData,
                    $"{meminfo} says MemTotal is {read} bytes; a sizing needs the machine's RAM.", meminfo,
                    "Give the machine's RAM with -MemoryBytes.");
            }

            (memory, memorySource) = (read, $"MemTotal in {meminfo}");
        }
        else
        {
            throw new ConntrackException(ErrorIds.MemorySizeUnknown, ErrorKind.ObjectNotFound,
                $"No MemTotal under {kernel.Root} (proc/meminfo is missing or has no MemTotal line), so there is no RAM to size the table from.",
                root.Full("proc/meminfo"), "Give the machine's RAM with -MemoryBytes, such as -MemoryBytes 16GB.");
        }

        int bits = request.PointerBits ?? kernel.PointerBits;
        string bitsSource = request.PointerBits is null ? kernel.PointerBitsSource ?? "the probe" : "given";
        (int pageSize, string pageSource) = request.PageSize is { } givenPage
            ? (givenPage, "given")
            : RootPageSize(root);

        EntrySize entry;
        if (request.EntrySize is { } givenEntry)
        {
            entry = new EntrySize(givenEntry, EntrySizeOrigin.Given, "given (-EntrySize)");
        }
        else if (sameKernel && bits == kernel.PointerBits && EntrySizeProbe.Measure(root, kernel.TrackerKind) is { } measured)
        {
            entry = measured;
        }
        else
        {
            entry = EntrySizeProbe.Estimate(era, bits);
            if (!sameKernel || bits != kernel.PointerBits)
            {
                context.Add($"The entry size under {kernel.Root} belongs to its own kernel ({kernel.KernelRelease ?? "unknown"}, {kernel.PointerBits}-bit), not the one planned, so the era's estimate is used.");
            }
        }

        long? currentMax = null, currentHash = null, currentCount = null;
        if (kernel.IsLoaded)
        {
            (currentMax, currentHash, currentCount) = LimitReader.ReadRunning(kernel);
        }
        else
        {
            context.Add(kernel.RootKind == "Image"
                ? $"{kernel.Root} is an image: no kernel runs there, so there is no current max, hash size or count to compare with; sized for its installed kernel {kernel.KernelRelease ?? "(none installed)"}."
                : $"Connection tracking is not loaded under {kernel.Root}: there is no current max, hash size or count to compare with.");
        }

        if (!sameKernel)
        {
            context.Add($"Planned for kernel {version} (era {era.Id}) instead of the {kernel.KernelRelease ?? "unknown"} kernel under {kernel.Root}; current values are that system's.");
        }

        if (!kernel.IsInitialNamespace)
        {
            context.Add("Read from inside a network namespace other than the host's: the max and hash size belong to the host, so apply the recommendation there.");
        }

        var inputs = new SizingInputs
        {
            MemoryBytes = memory,
            MemorySource = memorySource,
            PointerBits = bits,
            PointerBitsSource = bitsSource,
            PageSize = pageSize,
            PageSizeSource = pageSource,
            Era = era,
            KernelVersion = version,
            EntrySize = entry,
            ReservedMemoryBytes = request.ReservedMemoryBytes ?? Recommender.DefaultReservedMemoryBytes,
            EntriesPerBucket = request.EntriesPerBucket,
            CurrentMax = currentMax,
            CurrentHashSize = currentHash,
            CurrentCount = currentCount,
            Namespaces = NamespaceCensus.Take(root, kernel.TrackerKind),
            // Old kernels sized from num_physpages, which MemTotal understates; their start-up line says what they chose.
            StartupLine = sameKernel && era.SizesFromAllPhysicalPages && kernel.IsLoaded ? StartupLine.Find(root, kernel.Tracker) : null,
            IsInitialNamespace = kernel.IsInitialNamespace,
            Root = kernel.Root,
        };
        return inputs with { Context = [.. Recommender.Describe(inputs), .. context] };
    }

    private static SizingInputs ResolvePlanned(RecommendationRequest request, KernelVersion? planned, List<string> context)
    {
        if (request.MemoryBytes is not { } memory)
        {
            throw new ConntrackException(ErrorIds.MemorySizeUnknown, ErrorKind.InvalidArgument,
                "Planning without a machine needs the RAM to size for.", null,
                "Give -MemoryBytes (and -KernelVersion), or give -Root to read a system.");
        }

        if (planned is not { } version)
        {
            throw new ConntrackException(ErrorIds.InvalidKernelVersion, ErrorKind.InvalidArgument,
                "Planning without a machine needs the kernel version to size for.", null,
                "Give -KernelVersion as 'uname -r' prints it (such as 5.15.0-91-generic), or give -Root to read a system.");
        }

        KernelEra era = EraTable.Find(EraTable.ExpectedTracker(version), version);
        (int bits, string bitsSource) = request.PointerBits is { } givenBits
            ? (givenBits, "given")
            : request.KernelVersion is { } release && MachineProbe.PointerBitsFromRelease(release) is int fromRelease
                ? (fromRelease, $"kernel release {release}")
                : (64, "assumed; give -PointerBits 32 for a 32-bit kernel");
        context.Add("Planned without a machine: nothing was read, so there is no current max, hash size or count to compare with.");
        var inputs = new SizingInputs
        {
            MemoryBytes = memory,
            MemorySource = "given",
            PointerBits = bits,
            PointerBitsSource = bitsSource,
            PageSize = request.PageSize ?? DefaultPageSize,
            PageSizeSource = request.PageSize is null ? "assumed; give -PageSize for kernels with larger pages" : "given",
            Era = era,
            KernelVersion = version.ToString(),
            EntrySize = request.EntrySize is { } e
                ? new EntrySize(e, EntrySizeOrigin.Given, "given (-EntrySize)")
                : EntrySizeProbe.Estimate(era, bits),
            ReservedMemoryBytes = request.ReservedMemoryBytes ?? Recommender.DefaultReservedMemoryBytes,
            EntriesPerBucket = request.EntriesPerBucket,
            Root = null,
        };
        return inputs with { Context = [.. Recommender.Describe(inputs), .. context] };
    }

    private static KernelVersion ParseVersion(string text)
    {
        KernelVersion version = ConntrackTuning.Engine.Kernel.KernelVersion.Parse(text);
        if (version < FirstConntrackKernel)
        {
            throw new ConntrackException(ErrorIds.InvalidKernelVersion, ErrorKind.InvalidArgument,
                $"Kernel {version} predates connection tracking, which arrived with netfilter in 2.4.", text,
                "Give a kernel version from 2.4.0 on.");
        }

        return version;
    }

    private static void ValidateRequest(RecommendationRequest r)
    {
        if (r.MemoryBytes is { } m)
        {
            ValidateMemory(m);
        }

        if (r.PointerBits is { } b)
        {
            ValidatePointerBits(b);
        }

        if (r.PageSize is { } p)
        {
            ValidatePageSize(p);
        }

        if (r.EntrySize is { } e && (e <= 0 || e > EntrySizeProbe.MaxPlausibleEntrySize))
        {
            throw Invalid($"An entry size of {e} bytes was given; conntrack entries take from about 100 to a few hundred bytes.", e,
                $"Give the bytes per entry between 1 and {F(EntrySizeProbe.MaxPlausibleEntrySize)} (the slab's objsize), or omit it to measure it.");
        }

        if (r.ReservedMemoryBytes is <= 0)
        {
            throw Invalid($"A reserve of {r.ReservedMemoryBytes} bytes was given; the reserve is the memory kept for everything but conntrack and must be more than 0.",
                r.ReservedMemoryBytes.Value, "Give the reserve in bytes, such as 128MB (the seed's figure for a console firewall).");
        }

        if (r.EntriesPerBucket is { } epb && (epb < 1 || epb > ClassicEntriesPerBucket))
        {
            throw Invalid($"{epb} entries per bucket was given; the seed recommends 1 and the kernel's historical default is {ClassicEntriesPerBucket}.", epb,
                $"Give a whole number from 1 to {ClassicEntriesPerBucket}.");
        }
    }
}
