using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ConntrackTuning.Engine.Persistence;
using Xunit;
using ConntrackTuning.Engine.Changes;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;
using ConntrackTuning.Engine.Platform;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// The same three changes (max, hash size, the seed's tcp established timeout, each with persistence) on every
/// era fixture: the exact content of every file under etc/ afterwards, the run-time files, the error where an
/// era cannot take a change, and that a second run changes nothing.
/// </summary>
public class ChangeEraTests
{
    private static readonly string Sysctl = BootConfig.OwnHeader("sysctl settings");
    private static readonly string Modprobe = BootConfig.OwnHeader("modprobe options");
    private static readonly string ModulesLoad = BootConfig.OwnHeader("modules loaded at boot");

    /// <summary>What each era must end up with. Files not listed must be byte for byte as in the fixture.</summary>
    private sealed record Expected(
        string? MaxError = null, string? HashError = null, string? TimeoutError = null,
        Dictionary<string, string>? Files = null, bool HashPersistOnly = false, ApplyMode Mode = ApplyMode.RuntimeAndPersistent);

    private static readonly Dictionary<string, Expected> Table = new()
    {
        ["centos7-3.10-nf_conntrack"] = new(Files: new()
        {
            ["etc/sysctl.d/90-conntrack-tuning.conf"] = Sysctl + "net.netfilter.nf_conntrack_max = 300000\nnet.netfilter.nf_conntrack_tcp_timeout_established = 1200\n",
            ["etc/modules-load.d/conntrack-tuning.conf"] = ModulesLoad + "nf_conntrack\n",
            ["etc/modprobe.d/conntrack-tuning.conf"] = Modprobe + "options nf_conntrack hashsize=32768\n",
        }),
        // No tracker loaded: an image being built. Only -PersistOnly applies, and the era table names the keys.
        ["debian-5.10-no-conntrack"] = new(Mode: ApplyMode.PersistentOnly, Files: new()
        {
            ["etc/sysctl.d/90-conntrack-tuning.conf"] = Sysctl + "net.netfilter.nf_conntrack_max = 300000\nnet.netfilter.nf_conntrack_tcp_timeout_established = 1200\n",
            ["etc/modules-load.d/conntrack-tuning.conf"] = ModulesLoad + "nf_conntrack\n",
            ["etc/modprobe.d/conntrack-tuning.conf"] = Modprobe + "options nf_conntrack hashsize=32768\n",
        }),
        ["linux-2.4.20-early"] = new(TimeoutError: ErrorIds.TimeoutsNotAvailable, HashPersistOnly: true, Files: new()
        {
            ["etc/sysctl.conf"] = "net.ipv4.ip_conntrack_max = 300000\n",
            ["etc/modules.conf"] = "options ip_conntrack hashsize=32768\n",
        }),
        ["linux-2.4.27-netfilter"] = new(HashPersistOnly: true, Files: new()
        {
            ["etc/sysctl.conf"] = "# /etc/sysctl.conf - Configuration file for setting system variables\n# See sysctl.conf (5) for information.\n#\nnet/ipv4/ip_forward=1\n"
                + "net.ipv4.netfilter.ip_conntrack_max = 300000\nnet.ipv4.netfilter.ip_conntrack_tcp_timeout_established = 1200\n",
            ["etc/modules.conf"] = "options ip_conntrack hashsize=32768\n",
        }),
        // Built in, 4.8 or later: the buckets sysctl carries the hash size, and no modules-load.d entry is needed.
        ["linux-6.18-builtin"] = new(Files: new()
        {
            ["etc/sysctl.d/90-conntrack-tuning.conf"] = Sysctl + "net.netfilter.nf_conntrack_max = 300000\nnet.netfilter.nf_conntrack_buckets = 32768\nnet.netfilter.nf_conntrack_tcp_timeout_established = 1200\n",
        }),
        // The same kernel with a captured table, and with a nearly full one: the same files result.
        ["linux-6.18-entries"] = new(Files: new()
        {
            ["etc/sysctl.d/90-conntrack-tuning.conf"] = Sysctl + "net.netfilter.nf_conntrack_max = 300000\nnet.netfilter.nf_conntrack_buckets = 32768\nnet.netfilter.nf_conntrack_tcp_timeout_established = 1200\n",
        }),
        ["linux-6.18-overflow"] = new(Files: new()
        {
            ["etc/sysctl.d/90-conntrack-tuning.conf"] = Sysctl + "net.netfilter.nf_conntrack_max = 300000\nnet.netfilter.nf_conntrack_buckets = 32768\nnet.netfilter.nf_conntrack_tcp_timeout_established = 1200\n",
        }),
        ["netns-6.18"] = new(MaxError: ErrorIds.HostOwnedSetting, HashError: ErrorIds.HostOwnedSetting, Files: new()
        {
            ["etc/sysctl.d/90-conntrack-tuning.conf"] = Sysctl + "net.netfilter.nf_conntrack_tcp_timeout_established = 1200\n",
        }),
        ["rhel5-2.6.18-ip_conntrack"] = new(Files: new()
        {
            ["etc/sysctl.conf"] = File.ReadAllText(Path.Combine(FixtureTree.FixturesDirectory, "rhel5-2.6.18-ip_conntrack/etc/sysctl.conf"))
                + "net.ipv4.netfilter.ip_conntrack_max = 300000\nnet.ipv4.netfilter.ip_conntrack_tcp_timeout_established = 1200\n",
            ["etc/modprobe.conf"] = "alias eth0 e1000\nalias scsi_hostadapter ata_piix\noptions ip_conntrack hashsize=32768\n",
        }),
        ["rhel6-2.6.32-nf_conntrack"] = new(Files: new()
        {
            ["etc/sysctl.conf"] = "# Kernel sysctl configuration file for Red Hat Linux\nnet.ipv4.ip_forward = 0\nnet.ipv4.conf.default.rp_filter = 1\nkernel.sysrq = 0\n"
                + "net.netfilter.nf_conntrack_max = 300000\nnet.netfilter.nf_conntrack_tcp_timeout_established = 1200\n",
            ["etc/modprobe.d/conntrack-tuning.conf"] = Modprobe + "options nf_conntrack hashsize=32768\n",
        }),
        ["sosreport-rhel8-4.18"] = new(MaxError: ErrorIds.SettingReadOnly, TimeoutError: ErrorIds.SettingReadOnly, Files: new()
        {
            ["etc/modprobe.d/conntrack-tuning.conf"] = Modprobe + "options nf_conntrack hashsize=32768\n",
        }),
        ["ubuntu-4.15-nf_conntrack"] = new(Files: new()
        {
            ["etc/sysctl.d/90-conntrack-tuning.conf"] = Sysctl + "net.netfilter.nf_conntrack_max = 300000\nnet.netfilter.nf_conntrack_tcp_timeout_established = 1200\n",
            ["etc/modules-load.d/conntrack-tuning.conf"] = ModulesLoad + "nf_conntrack\n",
            ["etc/modprobe.d/conntrack-tuning.conf"] = Modprobe + "options nf_conntrack hashsize=32768\n",
        }),
        ["ubuntu-5.15-module-noprocfs"] = new(Files: new()
        {
            ["etc/sysctl.d/90-conntrack-tuning.conf"] = Sysctl + "net.netfilter.nf_conntrack_max = 300000\nnet.netfilter.nf_conntrack_tcp_timeout_established = 1200\n",
            ["etc/modules-load.d/conntrack-tuning.conf"] = ModulesLoad + "nf_conntrack\n",
            ["etc/modprobe.d/conntrack-tuning.conf"] = Modprobe + "options nf_conntrack hashsize=32768\n",
        }),
        // etc/modprobe.d/nf_conntrack.conf sorts after the module's file and sets another hash size: refused.
        ["ubuntu-5.4-stale-buckets"] = new(HashError: ErrorIds.PersistenceOverridden, Files: new()
        {
            ["etc/sysctl.d/90-conntrack-tuning.conf"] = Sysctl + "net.netfilter.nf_conntrack_max = 300000\nnet.netfilter.nf_conntrack_tcp_timeout_established = 1200\n",
            ["etc/modules-load.d/conntrack-tuning.conf"] = ModulesLoad + "nf_conntrack\n",
        }),
    };

    private static readonly string[] FixtureNames =
        Directory.GetDirectories(FixtureTree.FixturesDirectory).Select(d => Path.GetFileName(d)!).Order(StringComparer.Ordinal).ToArray();

    public static IEnumerable<object[]> Fixtures() => FixtureNames.Select(k => new object[] { k });

    /// <summary>The errors a fixture without a row may give: each one a refusal that leaves everything as it was.</summary>
    private static readonly string[] Refusals =
    [
        ErrorIds.ConntrackNotLoaded, ErrorIds.HostOwnedSetting, ErrorIds.SettingReadOnly, ErrorIds.HashSizeNotResizable,
        ErrorIds.HashSizeNeedsKernelCommandLine, ErrorIds.TimeoutsNotAvailable, ErrorIds.TimeoutNotFound, ErrorIds.MaxBelowCount,
        ErrorIds.MaxExceedsMemory, ErrorIds.PersistenceOverridden,
    ];

    [Fact]
    public void Every_row_of_the_table_names_a_fixture() =>
        Assert.Empty(Table.Keys.Except(FixtureNames));

    [Fact]
    public void Every_era_of_the_fixtures_has_an_exact_row()
    {
        // A fixture of a new era needs its exact row; another fixture of a known era is covered by the invariants.
        var covered = Table.Keys.Where(FixtureNames.Contains).Select(n => { using var t = new FixtureTree(n); return KernelProbe.Probe(t.Open()).Era; }).ToHashSet();
        foreach (string name in FixtureNames.Where(n => !Table.ContainsKey(n)))
        {
            using var tree = new FixtureTree(name);
            Assert.Contains(KernelProbe.Probe(tree.Open()).Era, covered);
        }
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Max_hash_size_and_timeout_persist_with_the_era_keys(string name)
    {
        // A fixture without a row (another of a known era) is held to the invariants: each change applies or is
        // refused with a known id, nothing foreign changes, and a rerun changes nothing.
        bool exact = Table.TryGetValue(name, out Expected? row);
        Expected expected = row ?? new Expected();
        using var tree = new FixtureTree(name);
        Dictionary<string, byte[]> before = Snapshot(tree.Path);
        var log = new RecordingLog();
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open(log));
        ApplyMode hashMode = expected.HashPersistOnly ? ApplyMode.PersistentOnly : expected.Mode;

        if (!exact)
        {
            expected = expected with
            {
                MaxError = Attempt(() => Apply(kernel, () => MaxPlanner.Plan(kernel, 300000, expected.Mode, force: false))),
                HashError = Attempt(() => Apply(kernel, () => HashSizePlanner.Plan(kernel, 32768, hashMode, force: false))),
                TimeoutError = Attempt(() => Apply(kernel, () => TimeoutPlanner.Plan(kernel, "tcp", "established", 1200, expected.Mode, force: false))),
                Files = Snapshot(tree.Path).Where(f => f.Key.StartsWith("etc/", StringComparison.Ordinal) && (!before.TryGetValue(f.Key, out byte[]? b) || !b.SequenceEqual(f.Value)))
                    .ToDictionary(f => f.Key, f => SystemRoot.ConfigEncoding.GetString(f.Value)),
            };
            Assert.All(Snapshot(tree.Path).Keys.Where(k => k.StartsWith("etc/", StringComparison.Ordinal)), k => Assert.False(k.EndsWith(".tmp", StringComparison.Ordinal), k));
        }
        else
        {
            Outcome(expected.MaxError, () => Apply(kernel, () => MaxPlanner.Plan(kernel, 300000, expected.Mode, force: false)));
            Outcome(expected.HashError, () => Apply(kernel, () => HashSizePlanner.Plan(kernel, 32768, hashMode, force: false)));
            Outcome(expected.TimeoutError, () => Apply(kernel, () => TimeoutPlanner.Plan(kernel, "tcp", "established", 1200, expected.Mode, force: false)));
        }

        Dictionary<string, byte[]> after = Snapshot(tree.Path);
        foreach ((string file, string content) in expected.Files ?? [])
        {
            Assert.True(after.ContainsKey(file), $"{file} was not written");
            Assert.Equal(content, SystemRoot.ConfigEncoding.GetString(after[file]));
        }

        foreach ((string file, byte[] bytes) in before.Where(b => b.Key.StartsWith("etc/", StringComparison.Ordinal) && !(expected.Files ?? []).ContainsKey(b.Key)))
        {
            Assert.Equal(bytes, after[file]);
        }

        // Nothing else appears under etc/: no temporary files, no stray copies.
        Assert.Empty(after.Keys.Where(k => k.StartsWith("etc/", StringComparison.Ordinal)).Except(before.Keys).Except((expected.Files ?? []).Keys));

        if (expected.MaxError is null && expected.Mode != ApplyMode.PersistentOnly)
        {
            foreach (string path in kernel.MaxPathsFound)
            {
                Assert.Equal("300000\n", File.ReadAllText(tree.File(path)));
            }
        }

        if (expected.HashError is null && hashMode != ApplyMode.PersistentOnly)
        {
            Assert.Equal("32768\n", File.ReadAllText(tree.File(kernel.HashSizeWritePath![(tree.Path.Length + 1)..])));
        }

        // A second run of the same changes finds everything in place: nothing changes, no file is touched.
        Dictionary<string, DateTime> times = Directory.EnumerateFiles(tree.Path, "*", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith(".lock", StringComparison.Ordinal)).ToDictionary(f => f, File.GetLastWriteTimeUtc);
        ConntrackKernel again = KernelProbe.Probe(tree.Open());
        if (expected.MaxError is null)
        {
            Assert.False(Apply(again, () => MaxPlanner.Plan(again, 300000, expected.Mode, force: false)).Changed);
        }

        if (expected.HashError is null)
        {
            Assert.False(Apply(again, () => HashSizePlanner.Plan(again, 32768, hashMode, force: false)).Changed);
        }

        if (expected.TimeoutError is null)
        {
            Assert.False(Apply(again, () => TimeoutPlanner.Plan(again, "tcp", "established", 1200, expected.Mode, force: false)).Changed);
        }

        Assert.Equal(Snapshot(tree.Path).Where(k => !k.Key.EndsWith(".lock", StringComparison.Ordinal)).Select(k => (k.Key, Convert.ToBase64String(k.Value))),
            after.Where(k => !k.Key.EndsWith(".lock", StringComparison.Ordinal)).Select(k => (k.Key, Convert.ToBase64String(k.Value))));
        foreach ((string file, DateTime time) in times)
        {
            Assert.Equal(time, File.GetLastWriteTimeUtc(file));
        }
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Get_ConntrackLimit_reads_back_what_was_persisted_without_drift(string name)
    {
        if (!Table.TryGetValue(name, out Expected? expected) || expected.MaxError is not null || expected.Mode == ApplyMode.PersistentOnly)
        {
            return;
        }

        using var tree = new FixtureTree(name);
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        Apply(kernel, () => MaxPlanner.Plan(kernel, 300000, ApplyMode.RuntimeAndPersistent, force: false));
        ConntrackLimit limit = LimitReader.Read(KernelProbe.Probe(tree.Open()));
        Assert.Equal(300000, limit.Max);
        Assert.Equal(300000, limit.PersistedMax);
        Assert.Matches(@"/etc/(sysctl\.d/90-conntrack-tuning\.conf|sysctl\.conf):\d+$", limit.PersistedMaxSource);
        // The max can no longer drift; a hash size set by hand and never persisted still may (linux-6.18-overflow).
        Assert.DoesNotContain("max is", limit.DriftReason ?? "", StringComparison.Ordinal);
        Assert.Equal(limit.DriftReason is not null, limit.Drift);
    }

    [Fact]
    public void A_sosreport_whose_persisted_max_differs_from_the_running_one_shows_drift()
    {
        using var tree = new FixtureTree("sosreport-rhel8-4.18");
        ConntrackLimit limit = LimitReader.Read(KernelProbe.Probe(tree.Open()));
        Assert.Equal(262144, limit.Max);
        Assert.Equal(524288, limit.PersistedMax);
        Assert.Equal(tree.File("etc/sysctl.d/50-conntrack.conf") + ":2", limit.PersistedMaxSource);
        Assert.True(limit.Drift);
        Assert.Contains("524288", limit.DriftReason, StringComparison.Ordinal);
        // A sosreport is a capture, not this machine, and the next boot's max is the persisted line, so said.
        Assert.Equal("Capture", limit.RootKind);
        Assert.Equal(limit.PersistedMaxSource, limit.NextBootMaxSource);
    }

    [Fact]
    public void A_next_boot_value_that_nothing_persists_names_the_kernel_default_it_comes_from()
    {
        using var tree = new FixtureTree("centos7-3.10-nf_conntrack");
        ConntrackLimit limit = LimitReader.Read(KernelProbe.Probe(tree.Open()));
        Assert.Null(limit.PersistedMax);
        Assert.Null(limit.PersistedHashSize);
        Assert.Equal(65536, limit.NextBootMax);
        Assert.Matches(@"^the kernel's default for [\d.]+ MiB of RAM \(.*proc/meminfo.*\)$", limit.NextBootMaxSource);
        Assert.Equal(limit.NextBootMaxSource, limit.NextBootHashSizeSource);
        Assert.Equal("Capture", limit.RootKind);
    }

    [Fact]
    public void A_hash_size_given_at_module_load_persists_a_max_of_eight_times_it_when_no_sysctl_sets_one()
    {
        using var tree = new FixtureTree("ubuntu-5.4-stale-buckets");
        tree.Delete("etc/sysctl.d/60-conntrack.conf");
        ConntrackLimit limit = LimitReader.Read(KernelProbe.Probe(tree.Open()));
        Assert.Equal(131072, limit.PersistedHashSize);
        Assert.Equal(tree.File("etc/modprobe.d/nf_conntrack.conf") + ":1", limit.PersistedHashSizeSource);
        Assert.Equal(8 * 131072, limit.PersistedMax);
        Assert.StartsWith("8 x hashsize 131072", limit.PersistedMaxSource, StringComparison.Ordinal);
        Assert.True(limit.Drift);
    }

    [Fact]
    public void The_kernel_command_line_wins_over_modprobe_options_and_is_rounded_as_the_kernel_will()
    {
        using var tree = new FixtureTree("ubuntu-5.4-stale-buckets");
        tree.Write("proc/cmdline", "BOOT_IMAGE=/vmlinuz ro nf_conntrack.hashsize=100000 quiet\n");
        ConntrackLimit limit = LimitReader.Read(KernelProbe.Probe(tree.Open()));
        Assert.Equal(100352, limit.PersistedHashSize);
        Assert.StartsWith(tree.File("proc/cmdline"), limit.PersistedHashSizeSource, StringComparison.Ordinal);
        Assert.True(limit.Drift);
    }

    [Fact]
    public void Another_file_s_hash_size_is_compared_and_reported_as_the_kernel_will_round_it()
    {
        // 4.15 allocates whole pages of buckets: hashsize=100000 and hashsize=100352 both give 100352.
        using var tree = new FixtureTree("ubuntu-4.15-nf_conntrack");
        tree.Write("etc/modprobe.d/zz-local.conf", "options nf_conntrack hashsize=100000\n");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        ConntrackChange same = Apply(kernel, () => HashSizePlanner.Plan(kernel, 100352, ApplyMode.PersistentOnly, force: false));
        Assert.Equal(100352, same.NextBootValue);
        Assert.Equal(tree.File("etc/modprobe.d/zz-local.conf") + ":1", same.NextBootSource);
        Assert.Equal(LimitReader.Read(KernelProbe.Probe(tree.Open())).PersistedHashSize, same.NextBootValue);

        kernel = KernelProbe.Probe(tree.Open());
        ConntrackException e = Assert.Throws<ConntrackException>(() => Apply(kernel, () => HashSizePlanner.Plan(kernel, 131072, ApplyMode.PersistentOnly, force: false)));
        Assert.Equal(ErrorIds.PersistenceOverridden, e.ErrorId);
        Assert.Contains("sets nf_conntrack hashsize to 100000", e.Message, StringComparison.Ordinal);
        Assert.Contains("the next boot would apply 100352", e.Message, StringComparison.Ordinal);
    }

    private static ConntrackChange Apply(ConntrackKernel kernel, Func<ChangePlan> planner) =>
        ChangeApplier.Apply(kernel.SystemRoot, planner, TimeSpan.FromSeconds(5));

    private static string? Attempt(Action action)
    {
        try
        {
            action();
            return null;
        }
        catch (ConntrackException e)
        {
            Assert.Contains(e.ErrorId, Refusals);
            return e.ErrorId;
        }
    }

    private static void Outcome(string? error, Action action)
    {
        if (error is null)
        {
            action();
            return;
        }

        ConntrackException e = Assert.Throws<ConntrackException>(action);
        Assert.Equal(error, e.ErrorId);
    }

    // The write lock is left out: it holds no setting, and reading it takes a shared flock, which fails while a
    // child another test is starting has not reached exec yet and still shares the lock's open file (CI flake).
    internal static Dictionary<string, byte[]> Snapshot(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => (path: Path.GetRelativePath(root, f).Replace('\\', '/'), full: f))
            .Where(f => Path.GetFileName(f.path) != SystemRoot.LockFileName || Path.GetDirectoryName(f.path) is not (".conntrack-tuning" or "run/conntrack-tuning"))
            .ToDictionary(f => f.path, f => File.ReadAllBytes(f.full));
}
