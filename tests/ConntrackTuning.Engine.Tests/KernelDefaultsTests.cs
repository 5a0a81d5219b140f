using System.Linq;
using Xunit;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Engine.Tests;

public class KernelDefaultsTests
{
    private const long MiB = 1L << 20;
    private const long GiB = 1L << 30;

    private static KernelEra Era(string version) => EraTable.Find(EraTable.ExpectedTracker(V(version)), V(version));

    private static KernelVersion V(string version) => KernelVersion.Parse(version);

    // KERNEL-FACTS §3.1, every cell: 64-bit, 4 KiB pages. Each column is checked on two kernels of its era, and
    // the list column on both trackers. A nominal "4 GiB" VM sees about 3.8 GiB; "just over" is one page more.
    [Theory]
    [InlineData(512 * MiB, 2048, 16384, 4096, 16384, 4096, 16384, 4096, 4096)]
    [InlineData(4080218112L, 8192, 65536, 16384, 65536, 16384, 65536, 65536, 65536)]
    [InlineData(4 * GiB, 8192, 65536, 16384, 65536, 16384, 65536, 65536, 65536)]
    [InlineData((4 * GiB) + 4096, 8192, 65536, 16384, 65536, 65536, 262144, 262144, 262144)]
    [InlineData(64 * GiB, 8192, 65536, 16384, 65536, 65536, 262144, 262144, 262144)]
    public void Gives_the_worked_table_of_kernel_facts_for_every_era(long ram,
        long listBuckets, long listMax, long hlistBuckets, long hlistMax, long tieredBuckets, long tieredMax, long sanitizedBuckets, long sanitizedMax)
    {
        foreach (string v in new[] { "2.4.27", "2.6.18", "2.6.22" })
        {
            AssertDefault(ram, 64, v, listBuckets, listMax);
        }

        foreach (string v in new[] { "2.6.24", "3.10.0" })
        {
            AssertDefault(ram, 64, v, hlistBuckets, hlistMax);
        }

        foreach (string v in new[] { "4.4.0", "4.19.0" })
        {
            AssertDefault(ram, 64, v, tieredBuckets, tieredMax);
        }

        foreach (string v in new[] { "5.15.0", "6.18.44" })
        {
            AssertDefault(ram, 64, v, sanitizedBuckets, sanitizedMax);
        }
    }

    [Fact]
    public void Gives_this_machines_default_from_its_MemTotal()
    {
        // KERNEL-FACTS §3.1 last row: MemTotal 24684084 kB, live 262144 buckets and max.
        AssertDefault(24684084L * 1024, 64, "6.18.44", 262144, 262144);
    }

    // The seed: "a 32 bits PC with 512MB of RAM can handle ... 32768 ... by default" and "4096 buckets"; on
    // 64-bit the pointer is twice as big, so half of each.
    [Theory]
    [InlineData(32, 4096, 32768)]
    [InlineData(64, 2048, 16384)]
    public void Gives_the_seeds_512_MB_default(int bits, long buckets, long max) => AssertDefault(512 * MiB, bits, "2.6.5", buckets, max);

    // Strict '>' on page counts: exactly 1 GiB, or 1 GiB plus less than a page, is not "over 1 GiB".
    [Theory]
    [InlineData(GiB, 4096, 32768)]
    [InlineData(GiB + 4095, 4096, 32768)]
    [InlineData(GiB + 4096, 8192, 65536)]
    public void Compares_pages_strictly_at_the_1_GiB_cap(long ram, long buckets, long max) => AssertDefault(ram, 64, "2.6.22", buckets, max);

    // 500 MiB: 524288000 / 16384 / 8 = 4000 hlist heads (2000 list heads), not a multiple of a page of heads.
    [Theory]
    [InlineData("2.6.22", 64, 2000, 16000)]     // no rounding before 2.6.24
    [InlineData("2.6.24", 64, 4096, 16384)]     // rounded up to 512, max from the rounded count
    [InlineData("2.6.32", 64, 4096, 16000)]     // rounded per namespace, max from the unrounded count
    [InlineData("3.10.0", 64, 4096, 16000)]
    [InlineData("4.4.0", 64, 4096, 16000)]
    [InlineData("4.7.4", 64, 4096, 16384)]      // one shared table again: max from the rounded count
    [InlineData("4.19.0", 64, 4096, 16384)]
    [InlineData("5.15.0", 64, 4096, 4096)]
    [InlineData("5.15.0", 32, 8192, 8192)]      // 8000 heads of 4 bytes round up to a multiple of 1024
    [InlineData("3.10.0", 32, 8192, 32000)]
    public void Rounds_buckets_to_a_page_of_heads_from_2_6_24(string version, int bits, long buckets, long max) =>
        AssertDefault(500 * MiB, bits, version, buckets, max);

    [Fact]
    public void Rounds_to_the_page_size_given()
    {
        // 64 KiB pages hold 8192 hlist heads: 4000 rounds up to 8192.
        KernelDefault d = KernelDefaults.Compute(500 * MiB, 64, Era("6.1.0"), pageSize: 65536);
        Assert.Equal(8192, d.HashSize);
        Assert.Equal(8192, d.Max);
    }

    // Floors: 2 MiB of RAM gives 8 list heads or 16 hlist heads on 64-bit.
    [Theory]
    [InlineData("2.4.0", 8, 64)]          // 2.4.0: no floor at all
    [InlineData("2.4.27", 16, 128)]       // the seed: "not inferior to 128" (16 buckets)
    [InlineData("2.6.24", 512, 2048)]     // floor 32, then a page of heads
    [InlineData("3.10.0", 512, 128)]      // floor 32 x 4 before the per-namespace rounding
    [InlineData("5.15.0", 1024, 1024)]    // floor 1024
    public void Applies_each_eras_floor(string version, long buckets, long max) => AssertDefault(2 * MiB, 64, version, buckets, max);

    [Fact]
    public void Has_no_cap_in_2_4_0()
    {
        AssertDefault(5 * GiB, 64, "2.4.0", 20480, 163840);
    }

    [Fact]
    public void Wraps_a_32_bit_kernels_byte_count_at_4_GiB()
    {
        // num_physpages << PAGE_SHIFT is an unsigned long: 5 GiB reads as 1 GiB on a 32-bit 2.4.0 (no cap hides it).
        KernelDefault d = KernelDefaults.Compute(5 * GiB, 32, Era("2.4.0"));
        Assert.Equal(8192, d.HashSize);
        Assert.Equal(65536, d.Max);
        Assert.Contains(d.Steps, s => s.Contains("wraps at 4 GiB", System.StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("5.15.0", 32, 65536, 65536)]     // the 262144 tier is for 64-bit kernels only
    [InlineData("5.15.0", 64, 262144, 262144)]
    [InlineData("4.19.0", 32, 65536, 262144)]    // 4.x had no 64-bit condition
    [InlineData("2.6.18", 32, 8192, 65536)]
    public void Treats_32_bit_kernels_over_4_GiB_per_era(string version, int bits, long buckets, long max) =>
        AssertDefault(8 * GiB, bits, version, buckets, max);

    // A hashsize given at load or boot: max = 8 x hashsize in every era, after rounding where the era rounds
    // before deriving the max.
    [Theory]
    [InlineData("2.4.27", 1000, 1000, 8000)]
    [InlineData("2.6.18", 1000, 1000, 8000)]
    [InlineData("2.6.24", 100000, 100352, 802816)]
    [InlineData("3.10.0", 100000, 100352, 800000)]
    [InlineData("4.19.0", 100000, 100352, 802816)]
    [InlineData("6.18.44", 100000, 100352, 802816)]
    [InlineData("6.18.44", 262144, 262144, 2097152)]
    public void Makes_max_eight_times_a_hash_size_given_at_load(string version, long given, long buckets, long max)
    {
        KernelDefault d = KernelDefaults.Compute(24 * GiB, 64, Era(version), given);
        Assert.Equal(buckets, d.HashSize);
        Assert.Equal(max, d.Max);
        Assert.Equal(8, d.MaxFactor);
    }

    [Fact]
    public void Ignores_a_hash_size_on_2_4_0_which_had_no_such_option()
    {
        KernelDefault d = KernelDefaults.Compute(512 * MiB, 32, Era("2.4.0"), 1000);
        Assert.Equal(4096, d.HashSize);
        Assert.Equal(32768, d.Max);
        Assert.Contains(d.Steps, s => s.Contains("no hashsize option", System.StringComparison.Ordinal));
    }

    [Fact]
    public void Gives_a_sensible_default_for_every_era_row()
    {
        foreach (KernelEra era in EraTable.Eras)
        {
            foreach (int bits in new[] { 32, 64 })
            {
                // A 32-bit 2.4.0 over 4 GiB wraps to nonsense, as the kernel did; that case has its own test.
                foreach (long ram in bits == 32 ? new[] { 64 * MiB, 512 * MiB, 2 * GiB } : new[] { 64 * MiB, 512 * MiB, 2 * GiB, 16 * GiB })
                {
                    KernelDefault d = KernelDefaults.Compute(ram, bits, era);
                    Assert.InRange(d.HashSize, 16, 262144);
                    Assert.Equal(d.MaxFactor * (era.BucketRounding == BucketRounding.PageMultiple ? d.HashSize : d.ComputedBuckets), d.Max);
                    Assert.True(d.HashSize >= d.ComputedBuckets);
                    Assert.NotEmpty(d.Steps);
                }
            }
        }
    }

    [Fact]
    public void Explains_each_step_with_its_numbers()
    {
        KernelDefault d = KernelDefaults.Compute(24684084L * 1024, 64, Era("6.18.44"));
        Assert.Collection(d.Steps,
            s => Assert.Contains("6,171,021 pages of 4,096 bytes", s, System.StringComparison.Ordinal),
            s => Assert.Contains("RAM / 16384 / 8 (bytes per hlist_head on 64-bit) = 192,844", s, System.StringComparison.Ordinal),
            s => Assert.Contains("over 4 GiB (6,171,021 pages > 1,048,576) on a 64-bit kernel, so buckets = 262,144", s, System.StringComparison.Ordinal),
            s => Assert.Contains("already a multiple of 512", s, System.StringComparison.Ordinal),
            s => Assert.Contains("max = 1 x 262,144 = 262,144", s, System.StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(0L, 64, 4096, null)]
    [InlineData(-1L, 64, 4096, null)]
    [InlineData(512 * MiB, 16, 4096, null)]
    [InlineData(512 * MiB, 128, 4096, null)]
    [InlineData(512 * MiB, 64, 1000, null)]
    [InlineData(512 * MiB, 64, 6144, null)]
    [InlineData(512 * MiB, 64, 4096, 0L)]
    [InlineData(512 * MiB, 64, 4096, -8L)]
    public void Rejects_impossible_inputs_with_InvalidSizingInput(long ram, int bits, int pageSize, long? given)
    {
        ConntrackException e = Assert.Throws<ConntrackException>(() => KernelDefaults.Compute(ram, bits, Era("6.1"), given, pageSize));
        Assert.Equal(ErrorIds.InvalidSizingInput, e.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.NotNull(e.RecommendedAction);
        Assert.DoesNotContain("Exception", e.Message, System.StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(32, "2.6.18", 8)]
    [InlineData(64, "2.6.18", 16)]
    [InlineData(32, "6.1", 4)]
    [InlineData(64, "6.1", 8)]
    public void Sizes_a_bucket_as_one_pointer_or_two_before_2_6_24(int bits, string version, int bytes) =>
        Assert.Equal(bytes, KernelDefaults.BucketSize(Era(version), bits));

    private static void AssertDefault(long ram, int bits, string version, long buckets, long max)
    {
        KernelDefault d = KernelDefaults.Compute(ram, bits, Era(version));
        Assert.True(buckets == d.HashSize && max == d.Max,
            $"{version} {bits}-bit, {ram} bytes: expected {buckets}/{max}, got {d.HashSize}/{d.Max}.\n{string.Join("\n", d.Steps)}");
        Assert.Equal(d.Steps.Count, d.Steps.Distinct().Count());
    }
}
