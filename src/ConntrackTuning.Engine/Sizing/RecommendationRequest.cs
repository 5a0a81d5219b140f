using ConntrackTuning.Engine.Kernel;
using static ConntrackTuning.Engine.Sizing.KernelDefaults;

namespace ConntrackTuning.Engine.Sizing;

/// <summary>The sizing profiles Get-ConntrackRecommendation offers.</summary>
internal enum RecommendationProfile
{
    /// <summary>What the kernel picks by itself when nothing is set.</summary>
    KernelDefault,

    /// <summary>The seed guide's formula, RAM / 16384 / (pointer bits / 32), without the caps for big machines.</summary>
    Guide,

    /// <summary>The seed's firewall-only box: everything but a reserve goes to conntrack.</summary>
    FirewallOnly,

    /// <summary>This module's rule for a general-purpose server that must not drop connections.</summary>
    Balanced,
}

/// <summary>
/// What the caller gives to plan for another machine; every null is read from the root (or assumed when
/// planning without one).
/// </summary>
internal sealed record RecommendationRequest
{
    public long? MemoryBytes { get; init; }

    public int? PointerBits { get; init; }

    /// <summary>A release as uname -r prints it, or a bare version.</summary>
    public string? KernelVersion { get; init; }

    public long? EntrySize { get; init; }

    public long? ReservedMemoryBytes { get; init; }

    public int? EntriesPerBucket { get; init; }

    public int? PageSize { get; init; }
}

/// <summary>Every input of the sizing, resolved, with where each came from.</summary>
internal sealed record SizingInputs
{
    public required long MemoryBytes { get; init; }

    public required string MemorySource { get; init; }

    public required int PointerBits { get; init; }

    public required string PointerBitsSource { get; init; }

    public required int PageSize { get; init; }

    public required string PageSizeSource { get; init; }

    public required KernelEra Era { get; init; }

    public string? KernelVersion { get; init; }

    public required EntrySize EntrySize { get; init; }

    public long ReservedMemoryBytes { get; init; } = Recommender.DefaultReservedMemoryBytes;

    public int? EntriesPerBucket { get; init; }

    public long? CurrentMax { get; init; }

    public long? CurrentHashSize { get; init; }

    public long? CurrentCount { get; init; }

    public NamespaceCensus? Namespaces { get; init; }

    /// <summary>The tracker's start-up line under the root, on kernels old enough to print one; null otherwise.</summary>
    public StartupLine? StartupLine { get; init; }

    /// <summary>False when the root was read from inside a container's network namespace.</summary>
    public bool IsInitialNamespace { get; init; } = true;

    /// <summary>The root read, or null when planning without a machine.</summary>
    public string? Root { get; init; }

    /// <summary>Context every profile's reasons start with: where the inputs came from.</summary>
    public IReadOnlyList<string> Context { get; init; } = [];
}
