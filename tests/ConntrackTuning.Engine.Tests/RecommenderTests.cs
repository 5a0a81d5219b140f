using System;
using System.IO;
using Xunit;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Platform;
using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Engine.Tests;

public class RecommenderTests
{
    private const long MiB = 1L << 20;
    private const long GiB = 1L << 30;

    /// <summary>This development machine's MemTotal (KERNEL-FACTS §0): 24684084 kB.</summary>
    private const long ThisMachine = 24684084L * 1024;

    private static SizingInputs Plan(long memory, string version, int? bits = null, long? entry = null, long? reserve = null, int? epb = null) =>
        SizingInputResolver.Resolve(new RecommendationRequest
        {
            MemoryBytes = memory, KernelVersion = version, PointerBits = bits, EntrySize = entry, ReservedMemoryBytes = reserve, EntriesPerBucket = epb,
        }, null);

    private static ConntrackRecommendation Run(SizingInputs inputs, RecommendationProfile profile, RecordingLog? log = null) =>
        Recommender.Recommend(inputs, profile, log ?? new RecordingLog());

    private static void AssertSize(ConntrackRecommendation r, long max, long hash)
    {
        Assert.True(r.Max == max && r.HashSize == hash,
            $"{r.Profile}: expected {max}/{hash}, got {r.Max}/{r.HashSize}.\n{string.Join("\n", r.Reasons)}");
        Assert.Equal((r.Max * r.EntrySize) + (r.HashSize * r.BucketSize), r.EstimatedMemoryBytes);
        Assert.Equal(Math.Round((double)r.Max / r.HashSize, 2), r.EntriesPerBucket);
    }

    // The seed: a 32-bit PC with 512 MB defaults to 32768 max and 4096 buckets, which the guide's formula gives too.
    [Theory]
    [InlineData(RecommendationProfile.KernelDefault)]
    [InlineData(RecommendationProfile.Guide)]
    public void Gives_the_seeds_32_bit_512_MB_default(object profile)
    {
        ConntrackRecommendation r = Run(Plan(512 * MiB, "2.6.5", 32), (RecommendationProfile)profile);
        AssertSize(r, 32768, 4096);
        Assert.Equal(8, r.EntriesPerBucket);
        Assert.Equal(32768, r.KernelDefaultMax);
        Assert.Equal(4096, r.KernelDefaultHashSize);
    }

    [Theory]
    [InlineData(RecommendationProfile.KernelDefault)]
    [InlineData(RecommendationProfile.Guide)]
    public void Gives_its_64_bit_counterpart(object profile) =>
        AssertSize(Run(Plan(512 * MiB, "2.6.5", 64), (RecommendationProfile)profile), 16384, 2048);

    [Fact]
    public void Gives_the_seeds_firewall_only_box_exactly()
    {
        // "(512 - 128) * 1024^2 / 308 =~ 1307315 ... we can set CONNTRACK_MAX and HASHSIZE to 1048576 (2^20)".
        ConntrackRecommendation r = Run(Plan(512 * MiB, "2.6.5", 32), RecommendationProfile.FirewallOnly);
        AssertSize(r, 1048576, 1048576);
        Assert.Equal(300, r.EntrySize);
        Assert.Equal(8, r.BucketSize);
        Assert.Equal(1048576L * 308, r.EstimatedMemoryBytes);
        Assert.Contains(r.Reasons, s => s.Contains("402,653,184 / 308 = 1,307,315", StringComparison.Ordinal));
        Assert.Contains(r.Reasons, s => s.Contains("largest power of two not above 1,307,315: 1,048,576", StringComparison.Ordinal));
        Assert.StartsWith("estimate for ip_conntrack era 2.6-ip_conntrack on 32-bit", r.EntrySizeSource, StringComparison.Ordinal);
    }

    [Fact]
    public void Gives_the_firewall_only_box_on_64_bit()
    {
        // Pointers double: a 16-byte list_head, and the era's 400-byte estimate: 402653184 / 416 = 967916.
        ConntrackRecommendation estimated = Run(Plan(512 * MiB, "2.6.5", 64), RecommendationProfile.FirewallOnly);
        AssertSize(estimated, 524288, 524288);
        Assert.Contains(estimated.Reasons, s => s.Contains("402,653,184 / 416 = 967,916", StringComparison.Ordinal));

        // With the seed's 300-byte entry: 402653184 / 316 = 1274219, still 2^20.
        ConntrackRecommendation given = Run(Plan(512 * MiB, "2.6.5", 64, entry: 300), RecommendationProfile.FirewallOnly);
        AssertSize(given, 1048576, 1048576);
        Assert.Equal("given (-EntrySize)", given.EntrySizeSource);
    }

    [Fact]
    public void Lifts_the_caps_in_the_Guide_profile()
    {
        // 64 GiB on 64-bit: the guide's formula gives 2097152 where the kernel stops at 262144.
        SizingInputs inputs = Plan(64 * GiB, "6.1.0");
        AssertSize(Run(inputs, RecommendationProfile.Guide), 2097152, 262144);
        AssertSize(Run(inputs, RecommendationProfile.KernelDefault), 262144, 262144);
    }

    [Fact]
    public void Rounds_the_guides_hash_up_so_no_bucket_holds_more_than_asked()
    {
        // This machine: 25276502016 / 16384 / 2 = 771377; / 8 = 96423 -> 131072 (5.89 per bucket, not 11.8).
        ConntrackRecommendation r = Run(Plan(ThisMachine, "6.18.44"), RecommendationProfile.Guide);
        AssertSize(r, 771377, 131072);
        Assert.True(r.EntriesPerBucket <= 8);
    }

    [Theory]
    [InlineData(RecommendationProfile.Guide, 1, 32768, 32768)]
    [InlineData(RecommendationProfile.Guide, 4, 32768, 8192)]
    [InlineData(RecommendationProfile.FirewallOnly, 8, 1048576, 131072)]   // 402653184 / (8 x 300 + 8) = 167214 -> 131072
    [InlineData(RecommendationProfile.FirewallOnly, 2, 1048576, 524288)]   // / 608 = 662258 -> 524288
    [InlineData(RecommendationProfile.Balanced, 8, 32768, 4096)]           // share 27235 too small; kernel default 32768 / 8
    [InlineData(RecommendationProfile.KernelDefault, 1, 32768, 4096)]      // what the kernel does; not overridden
    public void Lets_EntriesPerBucket_set_the_ratio(object profile, int epb, long max, long hash)
    {
        ConntrackRecommendation r = Run(Plan(512 * MiB, "2.6.5", 32, epb: epb), (RecommendationProfile)profile);
        AssertSize(r, max, hash);
        if ((RecommendationProfile)profile == RecommendationProfile.KernelDefault)
        {
            Assert.Contains(r.Reasons, s => s.Contains("-EntriesPerBucket 1 does not apply", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Recommends_primes_before_2_4_21()
    {
        SizingInputs inputs = Plan(512 * MiB, "2.4.10", 32);
        Assert.Equal("2.4-additive", inputs.Era.Id);
        AssertSize(Run(inputs, RecommendationProfile.Guide), 32768, 4099);               // smallest prime >= 4096
        AssertSize(Run(inputs, RecommendationProfile.FirewallOnly), 1307311, 1307311);   // largest prime <= 1307315
        AssertSize(Run(inputs, RecommendationProfile.Balanced), 32771, 32771);           // smallest prime >= the default 32768
        AssertSize(Run(inputs, RecommendationProfile.KernelDefault), 32768, 4096);       // the kernel itself never chose primes
        Assert.Contains(Run(inputs, RecommendationProfile.FirewallOnly).Reasons, s => s.Contains("additive", StringComparison.Ordinal));
    }

    [Fact]
    public void Recommends_powers_of_two_from_2_4_21()
    {
        SizingInputs inputs = Plan(512 * MiB, "2.4.21", 32);
        AssertSize(Run(inputs, RecommendationProfile.FirewallOnly), 1048576, 1048576);
    }

    [Fact]
    public void Sizes_Balanced_from_a_64th_of_RAM()
    {
        // 25276502016 / 64 = 394945344 bytes; / (256 + 8) = 1496005 -> 1048576, well above the default 262144.
        ConntrackRecommendation r = Run(Plan(ThisMachine, "6.18.44", entry: 256), RecommendationProfile.Balanced);
        AssertSize(r, 1048576, 1048576);
        Assert.True(r.EstimatedMemoryBytes <= ThisMachine / 64);
        Assert.Contains(r.Reasons, s => s.Contains("394,945,344 bytes; / (1 x 256 + 8) = 1,496,005 buckets", StringComparison.Ordinal));
    }

    [Fact]
    public void Keeps_Balanced_at_least_at_the_kernel_default()
    {
        // 512 MB on 2.6.5 32-bit: the share holds 27235 entries, below the kernel's own 32768.
        ConntrackRecommendation r = Run(Plan(512 * MiB, "2.6.5", 32), RecommendationProfile.Balanced);
        AssertSize(r, 32768, 32768);
        Assert.Contains(r.Reasons, s => s.Contains("the kernel's own default max 32,768", StringComparison.Ordinal));
    }

    [Fact]
    public void Keeps_Balanced_at_least_at_twice_the_current_count()
    {
        SizingInputs inputs = Plan(ThisMachine, "6.18.44", entry: 256) with { CurrentCount = 900000, CurrentMax = 1000000 };
        ConntrackRecommendation r = Run(inputs, RecommendationProfile.Balanced);
        AssertSize(r, 2097152, 2097152);
        Assert.Contains(r.Reasons, s => s.Contains("twice the current count, 2 x 900,000 = 1,800,000", StringComparison.Ordinal));
    }

    [Fact]
    public void Uses_EntriesPerBucket_in_the_Balanced_share()
    {
        // 394945344 / (2 x 256 + 8) = 759510 -> 524288 buckets, max 1048576.
        AssertSize(Run(Plan(ThisMachine, "6.18.44", entry: 256, epb: 2), RecommendationProfile.Balanced), 1048576, 524288);
    }

    [Fact]
    public void Warns_when_Balanced_would_lower_the_current_max()
    {
        var log = new RecordingLog();
        SizingInputs inputs = Plan(ThisMachine, "6.18.44", entry: 256) with { CurrentMax = 4000000, CurrentCount = 10 };
        ConntrackRecommendation r = Run(inputs, RecommendationProfile.Balanced, log);
        AssertSize(r, 1048576, 1048576);
        Assert.Contains(log.Warnings, w => w.Contains("below the current max 4,000,000", StringComparison.Ordinal));
        Assert.Contains(r.Reasons, s => s.StartsWith("Warning: Balanced", StringComparison.Ordinal));
    }

    [Fact]
    public void Warns_when_a_profile_is_below_the_current_count()
    {
        var log = new RecordingLog();
        SizingInputs inputs = Plan(512 * MiB, "6.1.0") with { CurrentCount = 100000 };
        ConntrackRecommendation kd = Run(inputs, RecommendationProfile.KernelDefault, log);
        AssertSize(kd, 4096, 4096);
        Assert.Contains(log.Warnings, w => w.StartsWith("KernelDefault: max 4,096 is below the 100,000 entries", StringComparison.Ordinal));
        ConntrackRecommendation balanced = Run(inputs, RecommendationProfile.Balanced, log);
        Assert.True(balanced.Max >= 200000);
        Assert.Single(log.Warnings);
    }

    [Fact]
    public void Bounds_the_hash_size_by_the_kernels_limit_with_a_warning()
    {
        var log = new RecordingLog();
        SizingInputs inputs = Plan(1L << 50, "6.1.0", entry: 256);
        ConntrackRecommendation fw = Run(inputs, RecommendationProfile.FirewallOnly, log);
        AssertSize(fw, 134217728, 134217728);
        Assert.Contains(log.Warnings, w => w.Contains("over the kernel's bound of 268,435,455", StringComparison.Ordinal));

        // The guide's max is 2^35 here, over the int sysctl; its hash 2^32, over the bound.
        ConntrackRecommendation guide = Run(inputs, RecommendationProfile.Guide, log);
        AssertSize(guide, int.MaxValue, 134217728);
        Assert.Contains(guide.Reasons, s => s.Contains("largest value the max sysctl takes", StringComparison.Ordinal));
    }

    [Fact]
    public void Rounds_a_small_recommended_hash_to_what_the_kernel_allocates()
    {
        // 32 MiB, 32-bit 6.x: the guide's 2048 / 8 = 256 buckets, but a page holds 1024 four-byte heads.
        ConntrackRecommendation r = Run(Plan(32 * MiB, "6.1.0", 32), RecommendationProfile.Guide);
        AssertSize(r, 2048, 1024);
        Assert.Contains(r.Reasons, s => s.Contains("read back is 1,024", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(512 * MiB, 512 * MiB)]
    [InlineData(100 * MiB, 128 * MiB)]
    [InlineData(512 * MiB, (512 * MiB) - 100)]
    public void Refuses_a_reserve_that_leaves_no_table(long memory, long reserve)
    {
        SizingInputs inputs = Plan(memory, "6.1.0", reserve: reserve);
        ConntrackException e = Assert.Throws<ConntrackException>(() => Run(inputs, RecommendationProfile.FirewallOnly));
        Assert.Equal(ErrorIds.ReserveExceedsMemory, e.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("-ReservedMemoryBytes", e.RecommendedAction, StringComparison.Ordinal);

        // The other profiles do not depend on the reserve.
        Assert.True(Run(inputs, RecommendationProfile.Balanced).Max > 0);
    }

    // RecommendationRequest is internal, so the rows are objects to the public theory.
    public static TheoryData<object> BadRequests => new()
    {
        new RecommendationRequest { MemoryBytes = 0, KernelVersion = "6.1" },
        new RecommendationRequest { MemoryBytes = -1, KernelVersion = "6.1" },
        new RecommendationRequest { MemoryBytes = GiB, KernelVersion = "6.1", EntrySize = 0 },
        new RecommendationRequest { MemoryBytes = GiB, KernelVersion = "6.1", EntrySize = -5 },
        new RecommendationRequest { MemoryBytes = GiB, KernelVersion = "6.1", EntrySize = 70000 },
        new RecommendationRequest { MemoryBytes = GiB, KernelVersion = "6.1", ReservedMemoryBytes = 0 },
        new RecommendationRequest { MemoryBytes = GiB, KernelVersion = "6.1", ReservedMemoryBytes = -1 },
        new RecommendationRequest { MemoryBytes = GiB, KernelVersion = "6.1", EntriesPerBucket = 0 },
        new RecommendationRequest { MemoryBytes = GiB, KernelVersion = "6.1", EntriesPerBucket = 9 },
        new RecommendationRequest { MemoryBytes = GiB, KernelVersion = "6.1", PointerBits = 16 },
        new RecommendationRequest { MemoryBytes = GiB, KernelVersion = "6.1", PointerBits = 128 },
        new RecommendationRequest { MemoryBytes = GiB, KernelVersion = "6.1", PageSize = 1000 },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public void Rejects_zero_negative_and_impossible_sizes(object request)
    {
        ConntrackException e = Assert.Throws<ConntrackException>(() => SizingInputResolver.Resolve((RecommendationRequest)request, null));
        Assert.Equal(ErrorIds.InvalidSizingInput, e.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.NotNull(e.Target);
        Assert.NotNull(e.RecommendedAction);
    }

    [Theory]
    [InlineData("banana")]
    [InlineData("6")]
    [InlineData("2.2.20")]
    [InlineData("1.0")]
    public void Rejects_a_kernel_version_it_cannot_use(string version)
    {
        ConntrackException e = Assert.Throws<ConntrackException>(() => Plan(GiB, version));
        Assert.Equal(ErrorIds.InvalidKernelVersion, e.ErrorId);
        Assert.Equal(version, e.Target);
    }

    [Fact]
    public void Needs_memory_and_a_version_to_plan_without_a_machine()
    {
        Assert.Equal(ErrorIds.MemorySizeUnknown,
            Assert.Throws<ConntrackException>(() => SizingInputResolver.Resolve(new RecommendationRequest { KernelVersion = "6.1" }, null)).ErrorId);
        Assert.Equal(ErrorIds.InvalidKernelVersion,
            Assert.Throws<ConntrackException>(() => SizingInputResolver.Resolve(new RecommendationRequest { MemoryBytes = GiB }, null)).ErrorId);
    }

    [Theory]
    [InlineData("3.10.0-1160.el7.x86_64", 64, "kernel release")]
    [InlineData("2.6.18-419.el5PAE", 32, "kernel release")]
    [InlineData("4.19.0-6-686-pae", 32, "kernel release")]
    [InlineData("2.6.18-419.el5", 64, "assumed")]
    public void Takes_pointer_bits_from_the_release_when_planning(string release, int bits, string source)
    {
        SizingInputs inputs = Plan(GiB, release);
        Assert.Equal(bits, inputs.PointerBits);
        Assert.StartsWith(source, inputs.PointerBitsSource, StringComparison.Ordinal);
        Assert.Null(inputs.Root);
        Assert.Null(inputs.CurrentMax);
    }

    [Fact]
    public void Gives_every_profile_for_every_era_row()
    {
        foreach (KernelEra era in EraTable.Eras)
        {
            foreach (int bits in new[] { 32, 64 })
            {
                // 2.6.15 to 2.6.21 had both trackers, so the row is set directly rather than found by version.
                SizingInputs inputs = Plan(2 * GiB, era.From.ToString(), bits) with { Era = era, EntrySize = EntrySizeProbe.Estimate(era, bits) };
                foreach (RecommendationProfile profile in Recommender.AllProfiles)
                {
                    ConntrackRecommendation r = Run(inputs, profile);
                    Assert.InRange(r.Max, 128, int.MaxValue);
                    Assert.InRange(r.HashSize, 16, HashSizeMath.MaxHashSize);
                    Assert.Equal((r.Max * r.EntrySize) + (r.HashSize * r.BucketSize), r.EstimatedMemoryBytes);
                    Assert.Equal(profile.ToString(), r.Profile);
                    Assert.Equal(era.Id, r.Era);
                    if (profile != RecommendationProfile.KernelDefault && era.HashShape == HashShape.PowerOfTwo)
                    {
                        Assert.Equal(0, r.HashSize & (r.HashSize - 1));
                    }

                    if (profile != RecommendationProfile.KernelDefault && era.HashShape == HashShape.Prime)
                    {
                        Assert.True(HashSizeMath.IsPrime(r.HashSize), $"{era.Id} {profile}: {r.HashSize} is not prime");
                    }
                }
            }
        }
    }

    [Fact]
    public void Warns_once_that_old_kernels_cannot_resize_the_hash()
    {
        var log = new RecordingLog();
        SizingInputs old = Plan(512 * MiB, "2.6.5", 32);
        Recommender.WarnOnce(old, [Run(old, RecommendationProfile.Balanced)], log);
        Assert.Single(log.Warnings);
        Assert.Contains("cannot change the hash size at run time", log.Warnings[0], StringComparison.Ordinal);

        var quiet = new RecordingLog();
        SizingInputs modern = Plan(512 * MiB, "6.1.0");
        Recommender.WarnOnce(modern, [Run(modern, RecommendationProfile.Balanced)], quiet);
        Assert.Empty(quiet.Warnings);
    }
}

/// <summary>Recommendations read from a root: defaults, the order of entry-size sources, namespaces.</summary>
public class RecommenderRootTests
{
    private static SizingInputs Resolve(FixtureTree tree, RecommendationRequest? request = null, RecordingLog? log = null)
    {
        SystemRoot root = tree.Open(log);
        return SizingInputResolver.Resolve(request ?? new RecommendationRequest(), KernelProbe.Probe(root));
    }

    [Fact]
    public void Reads_every_input_from_the_root()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        SizingInputs inputs = Resolve(tree);
        Assert.Equal(24683620L * 1024, inputs.MemoryBytes);
        Assert.Equal($"MemTotal in {tree.File("proc/meminfo")}", inputs.MemorySource);
        Assert.Equal(64, inputs.PointerBits);
        Assert.Equal("6.18.44", inputs.KernelVersion);
        Assert.Equal("5.15-nf_conntrack", inputs.Era.Id);
        Assert.Equal(262144, inputs.CurrentMax);
        Assert.Equal(262144, inputs.CurrentHashSize);
        Assert.Equal(0, inputs.CurrentCount);
        Assert.Equal(tree.Path, inputs.Root);
        Assert.Equal(EntrySizeOrigin.Estimate, inputs.EntrySize.Origin);
        Assert.Equal(256, inputs.EntrySize.Bytes);
        Assert.Equal(4096, inputs.PageSize);
        Assert.StartsWith("assumed", inputs.PageSizeSource, StringComparison.Ordinal);

        ConntrackRecommendation kd = Recommender.Recommend(inputs, RecommendationProfile.KernelDefault, new RecordingLog());
        Assert.Equal(262144, kd.Max);
        Assert.Equal(kd.CurrentMax, kd.Max);
        Assert.Equal(kd.CurrentHashSize, kd.HashSize);
    }

    [Fact]
    public void Prefers_the_sysfs_slab_slot_size()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("sys/kernel/slab/nf_conntrack/slab_size", "256\n");
        tree.Write("sys/kernel/slab/nf_conntrack/object_size", "248\n");
        tree.Write("proc/slabinfo", "slabinfo - version: 2.1\nnf_conntrack         160    224    999   16    1 : tunables    0    0    0 : slabdata     14     14      0\n");
        EntrySize e = Resolve(tree).EntrySize;
        Assert.Equal(256, e.Bytes);
        Assert.Equal(EntrySizeOrigin.Slab, e.Origin);
        Assert.Equal($"{tree.File("sys/kernel/slab/nf_conntrack/slab_size")}, the slot of a 248-byte object (object_size)", e.Source);
    }

    [Fact]
    public void Falls_back_to_object_size_alone()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("sys/kernel/slab/nf_conntrack/object_size", "248\n");
        EntrySize e = Resolve(tree).EntrySize;
        Assert.Equal(248, e.Bytes);
        Assert.Equal(tree.File("sys/kernel/slab/nf_conntrack/object_size"), e.Source);
    }

    [Fact]
    public void Reads_the_per_namespace_cache_row_of_slabinfo_and_skips_expectations()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("proc/slabinfo",
            "slabinfo - version: 2.1\n" +
            "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n" +
            "nf_conntrack_expect      0      0    240   17    1 : tunables    0    0    0 : slabdata      0      0      0\n" +
            "nf_conntrack_ffff9990dcb49480    969    969    320   51    4 : tunables    0    0    0 : slabdata     19     19      0\n");
        EntrySize e = Resolve(tree).EntrySize;
        Assert.Equal(320, e.Bytes);
        Assert.Equal(EntrySizeOrigin.Slab, e.Origin);
        Assert.Equal($"{tree.File("proc/slabinfo")}: objsize of cache nf_conntrack_ffff9990dcb49480", e.Source);
    }

    [Fact]
    public void Ignores_slab_files_that_hold_no_size()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        var log = new RecordingLog();
        tree.Write("sys/kernel/slab/nf_conntrack/slab_size", "garbage\n");
        EntrySize e = Resolve(tree, log: log).EntrySize;
        Assert.Equal(EntrySizeOrigin.Estimate, e.Origin);
        Assert.Contains(log.Verbose, v => v.Contains("not an entry size", StringComparison.Ordinal));
    }

    [Fact]
    public void Reads_bytes_per_conntrack_from_an_ip_conntrack_start_up_line()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        MakeRhel5(tree);
        SizingInputs inputs = Resolve(tree);
        Assert.Equal("2.6.14-ip_conntrack", inputs.Era.Id);
        Assert.Equal(32, inputs.PointerBits);
        Assert.Equal(228, inputs.EntrySize.Bytes);
        Assert.Equal(EntrySizeOrigin.StartupLine, inputs.EntrySize.Origin);
        Assert.Contains("228 bytes per conntrack", inputs.EntrySize.Source, StringComparison.Ordinal);
        Assert.StartsWith(tree.File("var/log/messages"), inputs.EntrySize.Source, StringComparison.Ordinal);

        // A slab listing outranks the boot line.
        tree.Write("proc/slabinfo", "slabinfo - version: 2.1\nip_conntrack         12     30    256   15    1 : tunables  120   60    8 : slabdata      2      2      0\n");
        Assert.Equal(256, Resolve(tree).EntrySize.Bytes);
    }

    [Fact]
    public void Uses_the_estimate_when_planning_another_kernel_or_width_on_a_root()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("sys/kernel/slab/nf_conntrack/slab_size", "256\n");

        SizingInputs other = Resolve(tree, new RecommendationRequest { KernelVersion = "3.10.0-1160.el7.x86_64" });
        Assert.Equal("2.6.27-nf_conntrack", other.Era.Id);
        Assert.Equal(EntrySizeOrigin.Estimate, other.EntrySize.Origin);
        Assert.Equal(320, other.EntrySize.Bytes);
        Assert.Equal("3.10.0", other.KernelVersion);
        Assert.Equal(262144, other.CurrentMax);
        Assert.Contains(other.Context, s => s.Contains("instead of the 6.18.44-fc-v669 kernel", StringComparison.Ordinal));

        SizingInputs narrow = Resolve(tree, new RecommendationRequest { PointerBits = 32 });
        Assert.Equal(EntrySizeOrigin.Estimate, narrow.EntrySize.Origin);
        Assert.Equal(184, narrow.EntrySize.Bytes);

        SizingInputs same = Resolve(tree, new RecommendationRequest { KernelVersion = "6.18.44" });
        Assert.Equal(EntrySizeOrigin.Slab, same.EntrySize.Origin);

        SizingInputs given = Resolve(tree, new RecommendationRequest { EntrySize = 300, MemoryBytes = 512L << 20 });
        Assert.Equal(EntrySizeOrigin.Given, given.EntrySize.Origin);
        Assert.Equal(512L << 20, given.MemoryBytes);
        Assert.Equal("given", given.MemorySource);
    }

    [Fact]
    public void Recommends_for_a_root_where_conntrack_is_not_loaded()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Delete("proc/sys/net/netfilter");
        tree.Delete("proc/sys/net/nf_conntrack_max");
        tree.Delete("sys/module/nf_conntrack");
        tree.Delete("proc/net/stat/nf_conntrack");
        SizingInputs inputs = Resolve(tree);
        Assert.Null(inputs.CurrentMax);
        Assert.Null(inputs.CurrentCount);
        Assert.Contains(inputs.Context, s => s.Contains("not loaded", StringComparison.Ordinal));
        ConntrackRecommendation r = Recommender.Recommend(inputs, RecommendationProfile.Balanced, new RecordingLog());
        Assert.Equal(1048576, r.Max);
    }

    [Fact]
    public void Says_MemorySizeUnknown_without_MemTotal_and_InvalidSizingInput_for_a_zero_one()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Delete("proc/meminfo");
        ConntrackException missing = Assert.Throws<ConntrackException>(() => Resolve(tree));
        Assert.Equal(ErrorIds.MemorySizeUnknown, missing.ErrorId);
        Assert.Equal(tree.File("proc/meminfo"), missing.Target);
        Assert.Equal(256L << 20, Resolve(tree, new RecommendationRequest { MemoryBytes = 256L << 20 }).MemoryBytes);

        tree.Write("proc/meminfo", "MemTotal:              0 kB\n");
        ConntrackException zero = Assert.Throws<ConntrackException>(() => Resolve(tree));
        Assert.Equal(ErrorIds.InvalidSizingInput, zero.ErrorId);
        Assert.Equal(ErrorKind.InvalidData, zero.Kind);
    }

    [Fact]
    public void Counts_network_namespaces_from_process_links()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        const string header = "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n";
        Link(tree, "proc/1/ns/net", "net:[4026531833]");
        Link(tree, "proc/77/ns/net", "net:[4026531833]");
        Link(tree, "proc/300/ns/net", "net:[4026532177]");
        Link(tree, "proc/301/ns/net", "net:[4026532300]");
        tree.Write("proc/1/net/stat/nf_conntrack", header + "00000000  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n");
        tree.Write("proc/300/net/stat/nf_conntrack", header + "0000012c  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n");
        tree.Write("proc/301/net/stat/nf_conntrack", header + "00000000  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n");
        SizingInputs inputs = Resolve(tree);
        Assert.Equal(new NamespaceCensus(3, 1), inputs.Namespaces);

        var log = new RecordingLog();
        ConntrackRecommendation r = Recommender.Recommend(inputs, RecommendationProfile.KernelDefault, log);
        Recommender.WarnOnce(inputs, [r], log);
        Assert.Contains(log.Warnings, w => w.StartsWith("3 network namespaces have processes here, 1 of them holding entries now", StringComparison.Ordinal));
        Assert.Contains(r.Reasons, s => s.Contains($"3 x {r.EstimatedMemoryBytes:N0} = {3 * r.EstimatedMemoryBytes:N0} bytes", StringComparison.Ordinal));

        // Without a readable statistics file the namespaces are counted, their use is not.
        tree.Delete("proc/301/net/stat/nf_conntrack");
        Assert.Equal(new NamespaceCensus(3, null), Resolve(tree).Namespaces);
    }

    [Fact]
    public void Counts_no_namespaces_where_no_process_links_are()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        SizingInputs inputs = Resolve(tree);
        Assert.Null(inputs.Namespaces);
        ConntrackRecommendation r = Recommender.Recommend(inputs, RecommendationProfile.Balanced, new RecordingLog());
        Assert.Contains(r.Reasons, s => s.Contains("multiply the memory by their number", StringComparison.Ordinal));
    }

    private static void Link(FixtureTree tree, string relative, string target)
    {
        string full = tree.File(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.CreateSymbolicLink(full, target);
    }

    /// <summary>Turns the 6.18 tree into a 32-bit RHEL 5 (2.6.18, ip_conntrack) that logged its start-up line.</summary>
    private static void MakeRhel5(FixtureTree tree)
    {
        foreach (string gone in new[] { "proc/sys/net/netfilter", "proc/sys/net/nf_conntrack_max", "sys/module/nf_conntrack", "proc/net/stat/nf_conntrack", "proc/version" })
        {
            tree.Delete(gone);
        }

        tree.Write("proc/sys/kernel/osrelease", "2.6.18-419.el5\n");
        tree.Write("proc/sys/kernel/arch", "i686\n");
        tree.Write("proc/meminfo", "MemTotal:      2074208 kB\n");
        tree.Write("proc/sys/net/ipv4/netfilter/ip_conntrack_max", "65536\n");
        tree.Write("proc/sys/net/ipv4/netfilter/ip_conntrack_count", "12\n");
        tree.Write("proc/sys/net/ipv4/netfilter/ip_conntrack_buckets", "8192\n");
        tree.Write("var/log/messages",
            "Nov 20 10:00:00 web01 kernel: ip_tables: (C) 2000-2006 Netfilter Core Team\n" +
            "Nov 20 10:00:00 web01 kernel: ip_conntrack version 2.4 (8192 buckets, 65536 max) - 228 bytes per conntrack\n");
    }
}
