using System;
using System.IO;
using System.Linq;
using System.Threading;
using ConntrackTuning.Engine.Persistence;
using Xunit;
using ConntrackTuning.Engine.Changes;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;
using ConntrackTuning.Engine.Platform;
using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// The write path under hostile conditions: modes and owners kept, symbolic links refused or followed only
/// within their folder, a lock another invocation holds, refusals that leave everything as it was, and a
/// failure half-way that undoes the steps already taken.
/// </summary>
public class SafeWriteTests
{
    private const string Own = "etc/sysctl.d/90-conntrack-tuning.conf";

    private static ConntrackChange Apply(ConntrackKernel kernel, Func<ChangePlan> planner) =>
        ChangeApplier.Apply(kernel.SystemRoot, planner, TimeSpan.FromSeconds(5));

    private static ConntrackException Refused(Action action, string id)
    {
        ConntrackException e = Assert.Throws<ConntrackException>(action);
        Assert.Equal(id, e.ErrorId);
        return e;
    }

    [Fact]
    public void An_atomic_rewrite_keeps_mode_and_owner_and_leaves_no_temporary_file()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write(Own, "# mine\n");
        tree.Chmod(Own, "640");
        Assert.Equal(0, Native.Lchown(tree.File(Own), 1234, 5678));
        SystemRoot root = tree.Open();
        root.WriteConfigFileAtomic(Own, "# mine\nx = 1\n");
        Assert.Equal("# mine\nx = 1\n", File.ReadAllText(tree.File(Own)));
        Assert.Equal((UnixFileMode)Convert.ToInt32("640", 8), File.GetUnixFileMode(tree.File(Own)));
        Assert.Equal(((uint)1234, (uint)5678), Native.Owner(tree.File(Own)));
        Assert.Equal(["90-conntrack-tuning.conf"], Directory.GetFiles(tree.File("etc/sysctl.d")).Select(Path.GetFileName));
    }

    [Fact]
    public void A_new_file_gets_0644()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Open().WriteConfigFileAtomic(Own, "x = 1\n");
        Assert.Equal((UnixFileMode)Convert.ToInt32("644", 8), File.GetUnixFileMode(tree.File(Own)));
    }

    [Fact]
    public void A_link_to_a_file_in_the_same_folder_is_kept_and_its_target_replaced()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("etc/sysctl.d/real.conf", "a = 1\n");
        File.CreateSymbolicLink(tree.File(Own), "real.conf");
        tree.Open().WriteConfigFileAtomic(Own, "a = 2\n");
        Assert.Equal("real.conf", new FileInfo(tree.File(Own)).LinkTarget);
        Assert.Equal("a = 2\n", File.ReadAllText(tree.File("etc/sysctl.d/real.conf")));
    }

    [Fact]
    public void A_link_out_of_its_folder_is_refused_and_both_ends_left_alone()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("etc/shadow", "secret\n");
        Directory.CreateDirectory(tree.File("etc/sysctl.d"));
        File.CreateSymbolicLink(tree.File(Own), "../shadow");
        ConntrackException e = Refused(() => tree.Open().WriteConfigFileAtomic(Own, "a = 2\n"), ErrorIds.UnsafeSymbolicLink);
        Assert.Equal(ErrorKind.PermissionDenied, e.Kind);
        Assert.Equal(tree.File(Own), e.Target);
        Assert.Equal("secret\n", File.ReadAllText(tree.File("etc/shadow")));
        Assert.Equal("../shadow", new FileInfo(tree.File(Own)).LinkTarget);
    }

    [Fact]
    public void An_absolute_link_inside_an_image_means_the_image_file_never_the_host_file()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        Directory.CreateDirectory(tree.File("usr/lib/sysctl.d"));
        Directory.CreateDirectory(tree.File("etc"));
        File.CreateSymbolicLink(tree.File("etc/sysctl.d"), "/usr/lib/sysctl.d");
        tree.Open().WriteConfigFileAtomic(Own, "a = 1\n");
        Assert.Equal("a = 1\n", File.ReadAllText(tree.File("usr/lib/sysctl.d/90-conntrack-tuning.conf")));
        Assert.False(File.Exists("/usr/lib/sysctl.d/90-conntrack-tuning.conf"));
    }

    [Fact]
    public void A_link_loop_is_refused()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        Directory.CreateDirectory(tree.File("etc"));
        File.CreateSymbolicLink(tree.File("etc/sysctl.d"), "/etc/sysctl.d");
        Refused(() => tree.Open().WriteConfigFileAtomic(Own, "a = 1\n"), ErrorIds.UnsafeSymbolicLink);
    }

    [Fact]
    public void A_lock_held_by_another_invocation_times_out_with_nothing_changed()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        SystemRoot root = tree.Open();
        using IDisposable held = root.AcquireWriteLock(TimeSpan.FromSeconds(1));
        ConntrackKernel kernel = KernelProbe.Probe(root);
        ConntrackException e = Assert.Throws<ConntrackException>(() =>
            ChangeApplier.Apply(root, () => MaxPlanner.Plan(kernel, 300000, ApplyMode.RuntimeAndPersistent, false), TimeSpan.FromMilliseconds(300)));
        Assert.Equal(ErrorIds.WriteLockTimeout, e.ErrorId);
        Assert.Equal(ErrorKind.ResourceBusy, e.Kind);
        Assert.Equal(tree.File(".conntrack-tuning.lock"), e.Target);
        Assert.Equal("262144\n", File.ReadAllText(tree.File("proc/sys/net/netfilter/nf_conntrack_max")));
        Assert.False(File.Exists(tree.File(Own)));
    }

    [Fact]
    public void The_lock_lives_in_run_lock_when_the_root_has_one_and_a_link_there_is_refused()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        Directory.CreateDirectory(tree.File("run/lock"));
        using (tree.Open().AcquireWriteLock(TimeSpan.FromSeconds(1)))
        {
            Assert.True(File.Exists(tree.File("run/lock/conntrack-tuning.lock")));
        }

        File.Delete(tree.File("run/lock/conntrack-tuning.lock"));
        File.CreateSymbolicLink(tree.File("run/lock/conntrack-tuning.lock"), "/etc/passwd");
        Refused(() => tree.Open().AcquireWriteLock(TimeSpan.FromSeconds(1)), ErrorIds.UnsafeSymbolicLink);
    }

    [Fact]
    public void A_failure_after_the_kernel_write_undoes_the_kernel_write_and_every_file_written()
    {
        using var tree = new FixtureTree("ubuntu-4.15-nf_conntrack");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        // The sysctl file is written first, then the modules-load file fails (as a full disk or a race would).
        ChangeApplier.BeforeFileWrite = file =>
        {
            if (file == tree.File(BootConfig.OwnModulesLoadFile))
            {
                throw new IOException("No space left on device");
            }
        };
        try
        {
            ConntrackException e = Refused(() => Apply(kernel, () => MaxPlanner.Plan(kernel, 300000, ApplyMode.RuntimeAndPersistent, false)), ErrorIds.FileWriteFailed);
            Assert.Contains("No space left on device", e.Message, StringComparison.Ordinal);
            Assert.Contains("undone: nf_conntrack_max is back to 262144", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            ChangeApplier.BeforeFileWrite = null;
        }

        Assert.Equal("262144\n", File.ReadAllText(tree.File("proc/sys/net/netfilter/nf_conntrack_max")));
        Assert.False(File.Exists(tree.File(Own)));
        Assert.False(File.Exists(tree.File(BootConfig.OwnModulesLoadFile)));
    }

    [Fact]
    public void A_kernel_that_rounds_back_to_the_size_it_had_is_reported_as_no_change()
    {
        // The kernel rounds a hash size up to whole pages; with 64 KiB pages (arm64) it rounds further than the
        // 4 KiB prediction, and a request can land on the size the table already has. The hook stands in for that
        // kernel: whatever was written, the file reads back 65536 as before.
        using var tree = new FixtureTree("ubuntu-4.15-nf_conntrack");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        string parameter = tree.File("sys/module/nf_conntrack/parameters/hashsize");
        Assert.Equal("65536\n", File.ReadAllText(parameter));
        ChangeApplier.AfterRuntimeWrite = file =>
        {
            if (file == parameter)
            {
                File.WriteAllText(parameter, "65536\n");
            }
        };
        try
        {
            ConntrackChange runtime = Apply(kernel, () => HashSizePlanner.Plan(kernel, 65000, ApplyMode.Runtime, false));
            Assert.False(runtime.Changed);
            Assert.False(runtime.RuntimeChanged);
            Assert.Equal(65536, runtime.OldValue);
            Assert.Equal(65536, runtime.NewValue);
            Assert.Contains(runtime.Warnings, w => w.Contains("reads back 65536 after 65000 was written", StringComparison.Ordinal));

            // With -Persist the module option is written with what the kernel uses, and that file is the only change.
            ConntrackChange persisted = Apply(kernel, () => HashSizePlanner.Plan(kernel, 65000, ApplyMode.RuntimeAndPersistent, false));
            Assert.True(persisted.Changed);
            Assert.False(persisted.RuntimeChanged);
            Assert.True(persisted.PersistenceChanged);
            Assert.EndsWith("options nf_conntrack hashsize=65536\n", File.ReadAllText(tree.File(BootConfig.OwnModprobeFile)), StringComparison.Ordinal);

            // The rerun an Ansible play makes: nothing changed, so nothing is reported.
            ConntrackChange again = Apply(kernel, () => HashSizePlanner.Plan(kernel, 65000, ApplyMode.RuntimeAndPersistent, false));
            Assert.False(again.Changed);
        }
        finally
        {
            ChangeApplier.AfterRuntimeWrite = null;
        }
    }

    [Fact]
    public void Folders_a_failed_change_created_are_removed_with_its_files()
    {
        // An image with no etc/ at all: -PersistOnly creates etc/sysctl.d for the sysctl file, then the
        // modules-load file fails. Undone means the image is as it was: no file and no empty folder left behind.
        using var tree = new FixtureTree("debian-5.10-no-conntrack");
        Assert.False(Directory.Exists(tree.File("etc")));
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        ChangeApplier.BeforeFileWrite = file =>
        {
            if (file == tree.File(BootConfig.OwnModulesLoadFile))
            {
                throw new IOException("No space left on device");
            }
        };
        try
        {
            ConntrackException e = Refused(() => Apply(kernel, () => MaxPlanner.Plan(kernel, 300000, ApplyMode.PersistentOnly, false)), ErrorIds.FileWriteFailed);
            Assert.Contains("Everything written before the failure was undone", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            ChangeApplier.BeforeFileWrite = null;
        }

        Assert.False(Directory.Exists(tree.File("etc")));

        // A folder that holds something else by the time of the undo is left alone.
        Directory.CreateDirectory(tree.File("etc"));
        File.WriteAllText(tree.File("etc/hostname"), "image\n");
        ChangeApplier.BeforeFileWrite = file =>
        {
            if (file == tree.File(BootConfig.OwnModulesLoadFile))
            {
                File.WriteAllText(tree.File("etc/sysctl.d/50-other.conf"), "kernel.sysrq = 0\n");
                throw new IOException("No space left on device");
            }
        };
        try
        {
            Refused(() => Apply(kernel, () => MaxPlanner.Plan(kernel, 300000, ApplyMode.PersistentOnly, false)), ErrorIds.FileWriteFailed);
        }
        finally
        {
            ChangeApplier.BeforeFileWrite = null;
        }

        Assert.False(File.Exists(tree.File(Own)));
        Assert.Equal("kernel.sysrq = 0\n", File.ReadAllText(tree.File("etc/sysctl.d/50-other.conf")));
        Assert.Equal("image\n", File.ReadAllText(tree.File("etc/hostname")));
        Assert.False(Directory.Exists(tree.File("etc/modules-load.d")));
    }

    [Fact]
    public void An_existing_file_is_restored_byte_for_byte_when_a_later_step_fails()
    {
        using var tree = new FixtureTree("ubuntu-4.15-nf_conntrack");
        tree.Write(Own, "# mine\r\nnet.netfilter.nf_conntrack_max = 1\r\n");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        ChangeApplier.BeforeFileWrite = file =>
        {
            if (file == tree.File(BootConfig.OwnModulesLoadFile))
            {
                throw new UnauthorizedAccessException("denied");
            }
        };
        try
        {
            Refused(() => Apply(kernel, () => MaxPlanner.Plan(kernel, 300000, ApplyMode.RuntimeAndPersistent, false)), ErrorIds.FileWriteFailed);
        }
        finally
        {
            ChangeApplier.BeforeFileWrite = null;
        }

        Assert.Equal("# mine\r\nnet.netfilter.nf_conntrack_max = 1\r\n", File.ReadAllText(tree.File(Own)));
        Assert.Equal("262144\n", File.ReadAllText(tree.File("proc/sys/net/netfilter/nf_conntrack_max")));
    }

    [Fact]
    public void A_link_out_of_its_folder_is_refused_before_the_kernel_is_touched()
    {
        using var tree = new FixtureTree("ubuntu-4.15-nf_conntrack");
        Directory.CreateDirectory(tree.File("etc/modules-load.d"));
        tree.Write("etc/other.conf", "keep\n");
        File.CreateSymbolicLink(tree.File("etc/modules-load.d/conntrack-tuning.conf"), "../other.conf");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        Refused(() => Apply(kernel, () => MaxPlanner.Plan(kernel, 300000, ApplyMode.RuntimeAndPersistent, false)), ErrorIds.UnsafeSymbolicLink);
        Assert.Equal("262144\n", File.ReadAllText(tree.File("proc/sys/net/netfilter/nf_conntrack_max")));
        Assert.False(File.Exists(tree.File(Own)));
        Assert.Equal("keep\n", File.ReadAllText(tree.File("etc/other.conf")));
    }

    [Fact]
    public void A_kernel_write_that_fails_leaves_the_configuration_untouched()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        // The tracker went away between the probe and the write: the value file is gone.
        File.Delete(tree.File("proc/sys/net/netfilter/nf_conntrack_max"));
        ConntrackException e = Refused(() => Apply(kernel, () => MaxPlanner.Plan(kernel, 300000, ApplyMode.RuntimeAndPersistent, false)), ErrorIds.FileWriteFailed);
        Assert.Equal(ErrorKind.WriteError, e.Kind);
        Assert.Equal(tree.File("proc/sys/net/netfilter/nf_conntrack_max"), e.Target);
        Assert.False(Directory.Exists(tree.File("etc")));
    }

    [Fact]
    public void A_persistence_file_that_is_a_folder_or_garbage_stops_the_change_before_the_kernel_is_touched()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        Directory.CreateDirectory(tree.File(Own));
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        ConntrackException folder = Refused(() => MaxPlanner.Plan(kernel, 300000, ApplyMode.RuntimeAndPersistent, false), ErrorIds.PersistenceFileUnreadable);
        Assert.Equal(tree.File(Own), folder.Target);

        Directory.Delete(tree.File(Own));
        tree.Write(Own, "\u0000\u0001garbage\n");
        ConntrackException garbage = Refused(() => Apply(kernel, () => MaxPlanner.Plan(kernel, 300000, ApplyMode.RuntimeAndPersistent, false)), ErrorIds.PersistenceFileInvalid);
        Assert.Equal(tree.File(Own), garbage.Target);
        Assert.Equal("262144\n", File.ReadAllText(tree.File("proc/sys/net/netfilter/nf_conntrack_max")));
        Assert.Equal("\u0000\u0001garbage\n", File.ReadAllText(tree.File(Own)));
    }

    [Fact]
    public void A_later_file_that_sets_the_key_again_is_refused_without_Force_and_warned_about_with_it()
    {
        using var tree = new FixtureTree("ubuntu-4.15-nf_conntrack");
        // The seed's own fix, left in sysctl.conf: applied after every sysctl.d file, so it would win at boot.
        File.AppendAllText(tree.File("etc/sysctl.conf"), "net.ipv4.netfilter.ip_conntrack_max = 655350\n");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        ConntrackException e = Refused(() => MaxPlanner.Plan(kernel, 300000, ApplyMode.RuntimeAndPersistent, false), ErrorIds.PersistenceOverridden);
        Assert.Equal(tree.File("etc/sysctl.conf"), e.Target);
        Assert.Contains("655350", e.Message, StringComparison.Ordinal);

        ConntrackChange change = Apply(kernel, () => MaxPlanner.Plan(kernel, 300000, ApplyMode.RuntimeAndPersistent, true));
        Assert.Contains(change.Warnings, w => w.Contains("655350", StringComparison.Ordinal));
        Assert.Equal(655350, change.NextBootValue);
        Assert.EndsWith("etc/sysctl.conf:4", change.NextBootSource, StringComparison.Ordinal);
    }

    [Fact]
    public void A_max_below_the_count_is_refused_without_Force()
    {
        using var tree = new FixtureTree("ubuntu-4.15-nf_conntrack");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        ConntrackException e = Refused(() => MaxPlanner.Plan(kernel, 1000, ApplyMode.Runtime, false), ErrorIds.MaxBelowCount);
        Assert.Equal(ErrorKind.InvalidOperation, e.Kind);
        Assert.Equal(tree.File("proc/sys/net/netfilter/nf_conntrack_max"), e.Target);
        Assert.Equal(1000, Apply(kernel, () => MaxPlanner.Plan(kernel, 1000, ApplyMode.Runtime, true)).NewValue);
    }

    [Fact]
    public void On_2_4_the_count_for_the_max_check_comes_from_the_table_file()
    {
        using var tree = new FixtureTree("linux-2.4.27-netfilter");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        // The fixture's table file lists 2 entries (and an expectation, which is not one).
        ConntrackException e = Refused(() => MaxPlanner.Plan(kernel, 1, ApplyMode.Runtime, false), ErrorIds.MaxBelowCount);
        Assert.Contains("holds 2 entries", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_max_the_memory_cannot_hold_is_refused_without_Force()
    {
        using var tree = new FixtureTree("linux-2.4.27-netfilter");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        // 256 MiB of RAM and about 300 bytes an entry: a million entries do not fit.
        ConntrackException e = Refused(() => MaxPlanner.Plan(kernel, 1_000_000, ApplyMode.Runtime, false), ErrorIds.MaxExceedsMemory);
        Assert.Equal(ErrorKind.LimitsExceeded, e.Kind);
        Assert.Equal("1000000", e.Target);
        ChangePlan forced = MaxPlanner.Plan(kernel, 1_000_000, ApplyMode.Runtime, true);
        Assert.True(forced.RuntimeChanges);
    }

    [Theory]
    [InlineData(268_435_455)]
    [InlineData(268_435_000)]
    public void A_hash_size_that_rounds_past_the_kernel_bound_is_refused(long value)
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        ConntrackException e = Refused(() => HashSizePlanner.Plan(kernel, value, ApplyMode.Runtime, false), ErrorIds.HashSizeOutOfRange);
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
    }

    [Fact]
    public void Hash_sizes_round_up_to_whole_pages_from_2_6_24_on()
    {
        using var modern = new FixtureTree("linux-6.18-builtin");
        using var old = new FixtureTree("rhel5-2.6.18-ip_conntrack");
        ConntrackKernel k = KernelProbe.Probe(modern.Open());
        Assert.Equal(100352, HashSizeMath.RoundHashSize(k, 100000));
        Assert.Equal(101888, HashSizeMath.RoundHashSize(k, 101680));
        Assert.Equal(65536, HashSizeMath.RoundHashSize(k, 65536));
        Assert.Equal(100000, HashSizeMath.RoundHashSize(KernelProbe.Probe(old.Open()), 100000));
    }

    [Fact]
    public void A_non_power_of_two_and_a_non_prime_before_2_4_21_are_accepted_with_the_seed_advice()
    {
        using var modern = new FixtureTree("linux-6.18-builtin");
        ChangePlan plan = HashSizePlanner.Plan(KernelProbe.Probe(modern.Open()), 100000, ApplyMode.Runtime, false);
        Assert.Contains(plan.Warnings, w => w.Contains("power of 2 works best", StringComparison.Ordinal));
        Assert.DoesNotContain(HashSizePlanner.Plan(KernelProbe.Probe(modern.Open()), 131072, ApplyMode.Runtime, false).Warnings,
            w => w.Contains("power", StringComparison.Ordinal));

        using var early = new FixtureTree("linux-2.4.20-early");
        ConntrackKernel k = KernelProbe.Probe(early.Open());
        Assert.Contains(HashSizePlanner.Plan(k, 4096, ApplyMode.PersistentOnly, false).Warnings, w => w.Contains("a prime number should be chosen", StringComparison.Ordinal));
        Assert.DoesNotContain(HashSizePlanner.Plan(k, 4099, ApplyMode.PersistentOnly, false).Warnings, w => w.Contains("prime", StringComparison.Ordinal));
    }

    [Fact]
    public void An_era_that_cannot_resize_at_run_time_offers_only_persistence()
    {
        using var tree = new FixtureTree("linux-2.4.27-netfilter");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        ConntrackException e = Refused(() => HashSizePlanner.Plan(kernel, 4096, ApplyMode.RuntimeAndPersistent, false), ErrorIds.HashSizeNotResizable);
        Assert.Contains("-PersistOnly", e.RecommendedAction, StringComparison.Ordinal);
        Assert.Equal(tree.Path, e.Target);
    }

    [Fact]
    public void A_built_in_tracker_before_4_8_can_persist_a_hash_size_only_on_the_kernel_command_line()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("proc/sys/kernel/osrelease", "4.4.0-custom\n");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        Assert.Equal("4.0-nf_conntrack", kernel.Era);
        ConntrackException e = Refused(() => HashSizePlanner.Plan(kernel, 65536, ApplyMode.RuntimeAndPersistent, false), ErrorIds.HashSizeNeedsKernelCommandLine);
        Assert.Contains("nf_conntrack.hashsize=N", e.RecommendedAction, StringComparison.Ordinal);
        Assert.Contains("GRUB_CMDLINE_LINUX", e.RecommendedAction, StringComparison.Ordinal);
        // The run-time change alone is still possible.
        Assert.True(HashSizePlanner.Plan(kernel, 65536, ApplyMode.Runtime, false).RuntimeChanges);
        Assert.False(Directory.Exists(tree.File("etc")));
    }

    [Fact]
    public void A_timeout_the_kernel_does_not_have_names_the_ones_it_has()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        ConntrackException e = Refused(() => TimeoutPlanner.Plan(kernel, "dccp", "open", 60, ApplyMode.Runtime, false), ErrorIds.TimeoutNotFound);
        Assert.Equal(ErrorKind.ObjectNotFound, e.Kind);
        Assert.Contains("tcp established", e.Message, StringComparison.Ordinal);
        Assert.Equal(tree.File("proc/sys/net/netfilter/nf_conntrack_dccp_timeout_open"), e.Target);
    }

    [Fact]
    public void Timeouts_are_listed_from_the_folder_with_defaults_by_version()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        ConntrackTimeout[] all = TimeoutReader.Read(KernelProbe.Probe(tree.Open())).ToArray();
        Assert.Equal(26, all.Length);
        ConntrackTimeout established = all.Single(t => t is { Protocol: "tcp", State: "established" });
        Assert.Equal(432000, established.Seconds);
        Assert.Equal(432000, established.Default);
        Assert.Equal("net.netfilter.nf_conntrack_tcp_timeout_established", established.Key);
        Assert.Null(all.Single(t => t is { Protocol: "udp", State: null }).State);
        Assert.Equal(120, all.Single(t => t is { Protocol: "udp", State: "stream" }).Default);

        using var rhel5 = new FixtureTree("rhel5-2.6.18-ip_conntrack");
        ConntrackTimeout[] old = TimeoutReader.Read(KernelProbe.Probe(rhel5.Open())).ToArray();
        Assert.Equal("net.ipv4.netfilter.ip_conntrack_tcp_timeout_established", old.Single(t => t is { Protocol: "tcp", State: "established" }).Key);
        Assert.Equal(180, old.Single(t => t is { Protocol: "udp", State: "stream" }).Default);
    }

    [Fact]
    public void Timeout_defaults_are_unknown_where_the_evidence_stops()
    {
        Assert.Null(EraTable.FindTimeoutDefault("udp_timeout_stream", new KernelVersion(5, 15, 0)));
        Assert.Equal(180, EraTable.FindTimeoutDefault("udp_timeout_stream", new KernelVersion(4, 7, 0))!.Seconds);
        Assert.Null(EraTable.FindTimeoutDefault("sctp_timeout_established", new KernelVersion(5, 4, 0)));
        Assert.Null(EraTable.FindTimeoutDefault("tcp_timeout_established", null));
        Assert.All(EraTable.TimeoutDefaults, d => Assert.False(string.IsNullOrEmpty(d.Evidence)));
    }

    [Fact]
    public void Every_era_row_says_how_a_hash_size_persists()
    {
        foreach (KernelEra era in EraTable.Eras)
        {
            Assert.Equal(era.From < new KernelVersion(2, 5, 0), era.HashPersistence == HashPersistence.LoadTimeOnly);
            Assert.Equal(era.HashResize == HashResize.ModuleParameterOrBucketsSysctl, era.HashPersistence == HashPersistence.ModuleOptionBucketsSysctlOrBootParameter);
        }
    }

    [Theory]
    [InlineData("linux-6.18-builtin", "BucketsSysctl")]
    [InlineData("ubuntu-4.15-nf_conntrack", "ModuleOption")]
    [InlineData("rhel5-2.6.18-ip_conntrack", "ModuleOption")]
    [InlineData("debian-5.10-no-conntrack", "ModuleOption")]
    [InlineData("netns-6.18", "BucketsSysctl")]
    public void The_kernel_says_how_a_hash_size_persists(string fixture, string method)
    {
        using var tree = new FixtureTree(fixture);
        Assert.Equal(method, KernelProbe.Probe(tree.Open()).HashSizePersistence);
    }

    [Fact]
    public void A_built_in_tracker_before_4_8_persists_a_hash_size_on_the_kernel_command_line_only()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("proc/sys/kernel/osrelease", "4.4.0-custom\n");
        Assert.Equal("KernelCommandLine", KernelProbe.Probe(tree.Open()).HashSizePersistence);
    }

    [Fact]
    public void Two_writers_at_once_are_serialised_and_leave_one_well_formed_file()
    {
        using var tree = new FixtureTree("ubuntu-4.15-nf_conntrack");
        var errors = new System.Collections.Concurrent.ConcurrentBag<Exception>();
        Thread[] threads = Enumerable.Range(0, 8).Select(i => new Thread(() =>
        {
            try
            {
                ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
                long max = 300000 + i;
                Apply(kernel, () => MaxPlanner.Plan(kernel, max, ApplyMode.RuntimeAndPersistent, false));
            }
            catch (Exception e)
            {
                errors.Add(e);
            }
        })).ToArray();
        foreach (Thread t in threads)
        {
            t.Start();
        }

        foreach (Thread t in threads)
        {
            t.Join();
        }

        Assert.Empty(errors);
        string running = File.ReadAllText(tree.File("proc/sys/net/netfilter/nf_conntrack_max")).Trim();
        string file = File.ReadAllText(tree.File(Own));
        Assert.Equal(BootConfig.OwnHeader("sysctl settings") + $"net.netfilter.nf_conntrack_max = {running}\n", file);
        Assert.Single(Directory.GetFiles(tree.File("etc/sysctl.d"), "90-*"));
        Assert.Empty(Directory.GetFiles(tree.File("etc/sysctl.d"), ".*"));
    }
}
