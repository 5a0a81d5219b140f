using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Commands;

/// <summary>
/// Get-ConntrackRecommendation: how big CONNTRACK_MAX and HASHSIZE should be for the RAM, kernel era and
/// measured entry size, per profile, with the memory it costs and the arithmetic in words.
/// </summary>
[Cmdlet(VerbsCommon.Get, "ConntrackRecommendation")]
[OutputType(typeof(ConntrackRecommendation))]
public sealed class GetConntrackRecommendationCommand : ConntrackImageCmdlet
{
    private const string All = "All";

    /// <summary>KernelDefault, Guide, FirewallOnly, Balanced (the default), or All; several may be given.</summary>
    [Parameter(Position = 0)]
    [ValidateSet(nameof(RecommendationProfile.KernelDefault), nameof(RecommendationProfile.Guide),
        nameof(RecommendationProfile.FirewallOnly), nameof(RecommendationProfile.Balanced), All)]
    public string[] Profile { get; set; } = [nameof(RecommendationProfile.Balanced)];

    /// <summary>The RAM to size for, in bytes; MemTotal of the root when omitted.</summary>
    [Parameter]
    [ValidateMemoryBytes]
    public long? MemoryBytes { get; set; }

    /// <summary>32 or 64; the root's kernel when omitted.</summary>
    [Parameter]
    [ValidateSet("32", "64")]
    public int? PointerBits { get; set; }

    /// <summary>The kernel to size for, as uname -r prints it; the root's kernel when omitted.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? KernelVersion { get; set; }

    /// <summary>Bytes per conntrack entry; measured from the slab, the start-up line or estimated when omitted.</summary>
    [Parameter]
    [ValidateRange(1, 65536)]
    public long? EntrySize { get; set; }

    /// <summary>The memory FirewallOnly keeps for everything else; 128 MiB when omitted.</summary>
    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long? ReservedMemoryBytes { get; set; }

    /// <summary>Max / HashSize for every profile but KernelDefault: 1 to 8.</summary>
    [Parameter]
    [ValidateRange(1, 8)]
    public int? EntriesPerBucket { get; set; }

    /// <summary>The kernel's page size in bytes; this machine's, or 4096 for another root, when omitted.</summary>
    [Parameter]
    [ValidateRange(4096, 1048576)]
    public int? PageSize { get; set; }

    protected override void ProcessRecord() => Run(() =>
    {
        var request = new RecommendationRequest
        {
            MemoryBytes = MemoryBytes,
            PointerBits = PointerBits,
            KernelVersion = KernelVersion,
            EntrySize = EntrySize,
            ReservedMemoryBytes = ReservedMemoryBytes,
            EntriesPerBucket = EntriesPerBucket,
            PageSize = PageSize,
        };

        // Memory and a kernel version without -Root describe a machine that is not here: read nothing, so this
        // machine's count or slab cannot leak into a plan for another.
        bool planning = !MyInvocation.BoundParameters.ContainsKey(nameof(Root)) && MemoryBytes is not null && KernelVersion is not null;
        if (planning)
        {
            WriteVerbose("Planning without a machine: -MemoryBytes and -KernelVersion are given and -Root is not, so nothing is read.");
        }

        SizingInputs inputs = SizingInputResolver.Resolve(request, planning ? null : ProbeKernel());
        var results = new List<ConntrackRecommendation>();
        foreach (RecommendationProfile profile in SelectedProfiles())
        {
            // One profile failing (FirewallOnly with a reserve above the RAM) must not cost the others.
            Run(() =>
            {
                ConntrackRecommendation r = Recommender.Recommend(inputs, profile, this);
                WriteVerbose($"{r.Profile}: max {r.Max}, hash size {r.HashSize}, {r.EstimatedMemoryBytes / 1048576.0:0.#} MiB per full table.");
                results.Add(r);
            });
        }

        Recommender.WarnOnce(inputs, results, this);
        WriteObject(results, enumerateCollection: true);
    });

    private IEnumerable<RecommendationProfile> SelectedProfiles()
    {
        IEnumerable<RecommendationProfile> chosen = Profile.Any(p => string.Equals(p, All, StringComparison.OrdinalIgnoreCase))
            ? Recommender.AllProfiles
            : Profile.Select(p => Enum.Parse<RecommendationProfile>(p, ignoreCase: true));
        return chosen.Distinct();
    }
}
