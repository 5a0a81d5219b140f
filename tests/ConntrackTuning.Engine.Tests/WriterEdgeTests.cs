using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using ConntrackTuning.Engine.Persistence;
using Xunit;
using ConntrackTuning.Engine.Changes;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Platform;
using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// The branches of the write path that the cmdlet-level tests do not reach: failures of the file system itself
/// (an immutable file, a name too long for the temporary file, a socket where a file should be), the kernel's
/// errno answers, the undo that fails too, and what the cmdlets show from a plan (-WhatIf text, next boot).
/// </summary>
public class WriterEdgeTests
{
    private const string Own = BootConfig.OwnSysctlFile;

    private static ConntrackException Refused(Action action, string id)
    {
        ConntrackException e = Assert.Throws<ConntrackException>(action);
        Assert.Equal(id, e.ErrorId);
        return e;
    }

    private static void Chattr(string flag, string path)
    {
        var start = new ProcessStartInfo("chattr") { ArgumentList = { flag, path }, RedirectStandardError = true };
        using Process p = Process.Start(start)!;
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"chattr {flag} {path}: {error}");
    }

    // ---- SystemRoot: reads and writes of configuration files ------------------------------------------------

    [Fact]
    public void A_rename_the_file_system_refuses_is_FileWriteFailed_and_leaves_no_temporary_file()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write(Own, "a = 1\n");
        // An immutable file can be neither replaced nor renamed over, even by root.
        Chattr("+i", tree.File(Own));
        try
        {
            ConntrackException e = Refused(() => tree.Open().WriteConfigFileAtomic(Own, "a = 2\n"), ErrorIds.FileWriteFailed);
            Assert.Equal(ErrorKind.PermissionDenied, e.Kind);
            Assert.Equal(tree.File(Own), e.Target);
            Assert.Contains("it was left as it was", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Chattr("-i", tree.File(Own));
        }

        Assert.Equal("a = 1\n", File.ReadAllText(tree.File(Own)));
        Assert.Equal(["90-conntrack-tuning.conf"], Directory.GetFiles(tree.File("etc/sysctl.d")).Select(Path.GetFileName));
    }

    [Fact]
    public void A_folder_the_temporary_file_cannot_be_created_in_is_FileWriteFailed()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        Directory.CreateDirectory(tree.File("etc/sysctl.d"));
        Chattr("+i", tree.File("etc/sysctl.d"));
        try
        {
            ConntrackException e = Refused(() => tree.Open().WriteConfigFileAtomic(Own, "a = 2\n"), ErrorIds.FileWriteFailed);
            Assert.Equal(ErrorKind.PermissionDenied, e.Kind);
            Assert.Contains("writable", e.RecommendedAction, StringComparison.Ordinal);
        }
        finally
        {
            Chattr("-i", tree.File("etc/sysctl.d"));
        }

        Assert.Empty(Directory.GetFiles(tree.File("etc/sysctl.d")));
    }

    [Fact]
    public void An_IO_error_while_writing_is_FileWriteFailed()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        // 250 characters is a valid name, but the temporary file's name (".<name>.<pid>.<guid>.tmp") is over 255.
        string relative = "etc/sysctl.d/" + new string('a', 245) + ".conf";
        ConntrackException e = Refused(() => tree.Open().WriteConfigFileAtomic(relative, "a = 2\n"), ErrorIds.FileWriteFailed);
        Assert.Equal(ErrorKind.WriteError, e.Kind);
        Assert.Empty(Directory.GetFiles(tree.File("etc/sysctl.d")));
    }

    [Fact]
    public void A_socket_where_a_configuration_file_should_be_is_PersistenceFileUnreadable()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        Directory.CreateDirectory(tree.File("etc/sysctl.d"));
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(tree.File(Own)));
        ConntrackException e = Refused(() => tree.Open().ReadConfigFile(Own), ErrorIds.PersistenceFileUnreadable);
        Assert.Equal(ErrorKind.ReadError, e.Kind);
        Assert.Equal(tree.File(Own), e.Target);
    }

    [Fact]
    public void A_path_component_too_long_for_the_file_system_resolves_to_itself()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        string relative = "etc/" + new string('x', 300) + "/file";
        Assert.Equal(relative, tree.Open().ResolveInRoot(relative));
    }

    [Fact]
    public void A_lock_file_that_cannot_be_opened_is_FileWriteFailed()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        Directory.CreateDirectory(tree.File(".conntrack-tuning.lock"));
        ConntrackException e = Refused(() => tree.Open().AcquireWriteLock(TimeSpan.FromSeconds(1)), ErrorIds.FileWriteFailed);
        Assert.Equal(ErrorKind.WriteError, e.Kind);
        Assert.Equal(tree.File(".conntrack-tuning.lock"), e.Target);
    }

    [Fact]
    public void Removing_a_created_file_removes_it_and_only_it()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write(Own, "a = 1\n");
        tree.Write("etc/sysctl.d/other.conf", "b = 1\n");
        SystemRoot root = tree.Open();
        root.RemoveConfigFile(Own);
        root.RemoveConfigFile("etc/sysctl.d/never-there.conf");
        Assert.Equal(["other.conf"], Directory.GetFiles(tree.File("etc/sysctl.d")).Select(Path.GetFileName));
    }

    // ---- SystemRoot: kernel value files ----------------------------------------------------------------------

    [Fact]
    public void A_value_file_missing_from_an_image_or_a_folder_in_its_place_is_ENOENT()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        SystemRoot root = tree.Open();
        Assert.Equal(Native.ENOENT, root.TryWriteValueFile("proc/sys/net/netfilter/nf_conntrack_nothing", "1\n"));
        Assert.False(File.Exists(tree.File("proc/sys/net/netfilter/nf_conntrack_nothing")));
        Directory.CreateDirectory(tree.File("proc/sys/net/netfilter/nf_conntrack_folder"));
        Assert.Equal(Native.ENOENT, root.TryWriteValueFile("proc/sys/net/netfilter/nf_conntrack_folder", "1\n"));
    }

    [Fact]
    public void A_folder_where_the_file_to_replace_should_be_is_PersistenceFileUnreadable()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        Directory.CreateDirectory(tree.File(Own));
        ConntrackException e = Refused(() => tree.Open().WriteConfigFileAtomic(Own, "a = 1\n"), ErrorIds.PersistenceFileUnreadable);
        Assert.Equal((ErrorKind.InvalidData, tree.File(Own)), (e.Kind, e.Target));
        Assert.Empty(Directory.EnumerateFileSystemEntries(tree.File(Own)));
    }

    [Fact]
    public void A_procfs_file_gets_one_plain_write_and_the_kernel_errno_comes_back()
    {
        // This process's own name is the one procfs file a test may write without touching the system; it is put back.
        SystemRoot live = SystemRoot.Open("/");
        string before = File.ReadAllText("/proc/self/comm");
        try
        {
            Assert.Equal(0, live.TryWriteValueFile("proc/self/comm", "ctt-probe"));
            Assert.Equal("ctt-probe\n", File.ReadAllText("/proc/self/comm"));
        }
        finally
        {
            File.WriteAllText("/proc/self/comm", before.TrimEnd('\n'));
        }

        // A file the kernel gives no write handler answers EINVAL to write(2); one that does not exist, ENOENT to open(2).
        Assert.Equal(Native.EINVAL, live.TryWriteValueFile("proc/self/stat", "1\n"));
        Assert.Equal(Native.ENOENT, live.TryWriteValueFile("proc/self/ctt-nothing", "1\n"));
    }

    // ---- Change planners and applier: plans, errno answers, undo ------------------------------------------------------------

    [Theory]
    [InlineData(Native.EINVAL, "linux-6.18-builtin", ErrorIds.ValueRejectedByKernel, ErrorKind.InvalidArgument)]
    [InlineData(Native.ERANGE, "linux-6.18-builtin", ErrorIds.ValueRejectedByKernel, ErrorKind.InvalidArgument)]
    [InlineData(Native.ENOMEM, "linux-6.18-builtin", ErrorIds.ValueRejectedByKernel, ErrorKind.LimitsExceeded)]
    [InlineData(Native.EACCES, "linux-6.18-builtin", ErrorIds.SettingReadOnly, ErrorKind.PermissionDenied)]
    [InlineData(Native.EROFS, "linux-6.18-builtin", ErrorIds.SettingReadOnly, ErrorKind.PermissionDenied)]
    [InlineData(Native.EOPNOTSUPP, "linux-6.18-builtin", ErrorIds.HostOwnedSetting, ErrorKind.PermissionDenied)]
    [InlineData(Native.EPERM, "netns-6.18", ErrorIds.HostOwnedSetting, ErrorKind.PermissionDenied)]
    [InlineData(Native.EIO, "linux-6.18-builtin", ErrorIds.FileWriteFailed, ErrorKind.WriteError)]
    public void Each_errno_of_a_kernel_write_is_a_named_error(int errno, string fixture, string id, ErrorKind kind)
    {
        using var tree = new FixtureTree(fixture);
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        ChangePlan plan = TimeoutPlanner.Plan(kernel, "udp", null, 45, ApplyMode.Runtime, false);
        ConntrackException e = ChangeApplier.RuntimeWriteFailed(plan, 45, errno);
        Assert.Equal((id, kind, tree.File(plan.RuntimeRelative!)), (e.ErrorId, e.Kind, e.Target));
        Assert.Contains("Nothing was changed", e.Message, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(e.RecommendedAction));
    }

    [Fact]
    public void An_undo_that_fails_too_names_what_to_check_by_hand()
    {
        using var tree = new FixtureTree("ubuntu-4.15-nf_conntrack");
        tree.Write(Own, "# mine\nnet.netfilter.nf_conntrack_max = 1\n");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        string max = tree.File("proc/sys/net/netfilter/nf_conntrack_max");
        // After the sysctl file: the folder of the file just written and the kernel's value file both vanish, and
        // the next write fails, so neither earlier step can be undone.
        ChangeApplier.BeforeFileWrite = file =>
        {
            if (file == tree.File(BootConfig.OwnModulesLoadFile))
            {
                Directory.Delete(tree.File("etc/sysctl.d"), recursive: true);
                File.WriteAllText(tree.File("etc/sysctl.d"), "a file where the folder was\n");
                File.Delete(max);
                throw new IOException("No space left on device");
            }
        };
        try
        {
            ConntrackException e = Refused(() => ChangeApplier.Apply(kernel.SystemRoot,
                () => MaxPlanner.Plan(kernel, 300000, ApplyMode.RuntimeAndPersistent, false), TimeSpan.FromSeconds(5)), ErrorIds.FileWriteFailed);
            Assert.Contains("Undoing the earlier steps failed for: ", e.Message, StringComparison.Ordinal);
            Assert.Contains(tree.File(Own), e.Message, StringComparison.Ordinal);
            Assert.Contains(max, e.Message, StringComparison.Ordinal);
            Assert.Contains("Check these by hand", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            ChangeApplier.BeforeFileWrite = null;
        }
    }

    [Fact]
    public void The_WhatIf_text_says_old_and_new_value_and_the_files()
    {
        using var tree = new FixtureTree("ubuntu-4.15-nf_conntrack");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        ChangePlan max = MaxPlanner.Plan(kernel, 300000, ApplyMode.RuntimeAndPersistent, false);
        Assert.Equal($"nf_conntrack_max: 262144 -> 300000; write {tree.File(Own)}, {tree.File(BootConfig.OwnModulesLoadFile)}", max.Description);
        Assert.Equal(tree.File("proc/sys/net/netfilter/nf_conntrack_max"), max.Target);

        ChangePlan same = MaxPlanner.Plan(kernel, 262144, ApplyMode.Runtime, false);
        Assert.Equal("nf_conntrack_max: 262144 -> 262144 (already set)", same.Description);

        ChangePlan persist = MaxPlanner.Plan(kernel, 300000, ApplyMode.PersistentOnly, false);
        Assert.StartsWith("nf_conntrack_max: persist 300000; write ", persist.Description, StringComparison.Ordinal);
        Assert.Equal(tree.File(Own), persist.Target);
    }

    [Fact]
    public void The_WhatIf_text_of_a_hash_size_the_kernel_rounds_says_so()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        ChangePlan plan = HashSizePlanner.Plan(kernel, 70000, ApplyMode.PersistentOnly, false);
        Assert.NotEqual(plan.Requested, plan.Expected);
        Assert.Contains($"persist {plan.Expected}", plan.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void The_next_boot_of_a_plan_is_what_its_files_would_apply_and_kept_means_the_same_number()
    {
        using var tree = new FixtureTree("ubuntu-4.15-nf_conntrack");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        ChangePlan plan = MaxPlanner.Plan(kernel, 300000, ApplyMode.RuntimeAndPersistent, false);
        PersistedValue next = plan.ProposedNextBoot()!;
        Assert.Equal(("300000", tree.File(Own)), (next.Value, next.File));
        Assert.True(plan.KeptAtBoot(next));
        Assert.False(plan.KeptAtBoot(next with { Value = "1" }));
        Assert.False(plan.KeptAtBoot(next with { Value = "many" }));

        // Runtime only: nothing is proposed, so the next boot is what the files say now.
        ChangePlan runtime = MaxPlanner.Plan(kernel, 300000, ApplyMode.Runtime, false);
        Assert.Equal(BootConfig.LastSysctl(kernel.SystemRoot, ["net.netfilter.nf_conntrack_max", "net.nf_conntrack_max"])?.Value, runtime.ProposedNextBoot()?.Value);
        Assert.Null((new ChangePlan { Kernel = kernel, Setting = "x", Mode = ApplyMode.Runtime, Requested = 1, Expected = 1 }).ProposedNextBoot());
    }

    [Fact]
    public void A_hash_size_kept_at_boot_counts_when_it_rounds_to_the_same_buckets()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        ChangePlan plan = HashSizePlanner.Plan(kernel, 70000, ApplyMode.PersistentOnly, false);
        var persisted = new PersistedValue("70001", "etc/modprobe.d/x.conf", "/x", 1);
        Assert.Equal(HashSizeMath.RoundHashSize(kernel, 70001) == plan.Expected, plan.KeptAtBoot(persisted));
        Assert.True(plan.KeptAtBoot(persisted with { Value = "70000" }));
    }

    [Fact]
    public void Without_MemTotal_the_memory_check_is_skipped_and_said_so()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Delete("proc/meminfo");
        var log = new RecordingLog();
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open(log));
        ChangePlan plan = MaxPlanner.Plan(kernel, 50_000_000, ApplyMode.Runtime, false);
        Assert.Equal(50_000_000, plan.Expected);
        Assert.Contains(log.Verbose, v => v.Contains("MemTotal is unknown", StringComparison.Ordinal));
    }

    [Fact]
    public void A_runtime_change_with_the_tracker_not_loaded_is_ConntrackNotLoaded()
    {
        using var tree = new FixtureTree("debian-5.10-no-conntrack");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        Refused(() => MaxPlanner.Plan(kernel, 300000, ApplyMode.Runtime, false), ErrorIds.ConntrackNotLoaded);
        Refused(() => HashSizePlanner.Plan(kernel, 65536, ApplyMode.Runtime, false), ErrorIds.ConntrackNotLoaded);
    }

    [Fact]
    public void A_tracker_listed_in_modules_builtin_is_not_a_loadable_module()
    {
        using var tree = new FixtureTree("debian-5.10-no-conntrack");
        ConntrackKernel before = KernelProbe.Probe(tree.Open());
        Assert.True(TrackerModule.IsLoadable(before));
        string builtin = Directory.GetFiles(tree.File("lib/modules"), "modules.builtin", SearchOption.AllDirectories).Single();
        File.AppendAllText(builtin, "kernel/net/netfilter/nf_conntrack.ko\n");
        Assert.False(TrackerModule.IsLoadable(KernelProbe.Probe(tree.Open())));
    }

    [Fact]
    public void A_built_in_tracker_before_4_8_keeps_a_hash_size_only_on_the_kernel_command_line()
    {
        using var tree = new FixtureTree("centos7-3.10-nf_conntrack");
        // Built in: a sys/module folder without initstate, and no nf_conntrack line in proc/modules.
        tree.Delete("sys/module/nf_conntrack/initstate");
        File.WriteAllLines(tree.File("proc/modules"), File.ReadAllLines(tree.File("proc/modules")).Where(l => !l.StartsWith("nf_conntrack ", StringComparison.Ordinal)));
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        Assert.Equal("BuiltIn", kernel.ModuleState);
        ConntrackException e = Refused(() => HashSizePlanner.Plan(kernel, 65536, ApplyMode.PersistentOnly, false), ErrorIds.HashSizeNeedsKernelCommandLine);
        Assert.Contains("kernel command line", e.RecommendedAction, StringComparison.Ordinal);
        Assert.Contains("3.10", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_built_in_2_4_tracker_has_a_hash_size_fixed_at_compile_time()
    {
        using var tree = new FixtureTree("linux-2.4.27-netfilter");
        File.WriteAllLines(tree.File("proc/modules"), File.ReadAllLines(tree.File("proc/modules")).Where(l => !l.StartsWith("ip_conntrack ", StringComparison.Ordinal)));
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        Assert.Equal("BuiltIn", kernel.ModuleState);
        ConntrackException e = Refused(() => HashSizePlanner.Plan(kernel, 8191, ApplyMode.PersistentOnly, false), ErrorIds.HashSizeNeedsKernelCommandLine);
        Assert.Contains("built into this 2.4 kernel", e.Message, StringComparison.Ordinal);
        Assert.Contains("Rebuild the kernel", e.RecommendedAction, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tracker_nothing_says_is_a_module_or_built_in_is_persisted_as_a_module_option_and_said_so()
    {
        using var tree = new FixtureTree("linux-2.4.27-netfilter");
        tree.Delete("proc/modules");
        var log = new RecordingLog();
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open(log));
        Assert.Equal("Unknown", kernel.ModuleState);
        ChangePlan plan = HashSizePlanner.Plan(kernel, 8191, ApplyMode.PersistentOnly, false);
        Assert.Equal("etc/modules.conf", Assert.Single(plan.Files).Relative);
        Assert.Contains(log.Verbose, v => v.Contains("cannot be told from the files", StringComparison.Ordinal));
    }

    [Fact]
    public void One_is_not_a_prime()
    {
        Assert.False(HashSizeMath.IsPrime(1));
        Assert.False(HashSizeMath.IsPrime(0));
        Assert.True(HashSizeMath.IsPrime(8191));
    }

    // ---- BootConfig: files someone else owns ------------------------------------------------------------------

    [Fact]
    public void Broken_or_unreadable_files_of_others_are_skipped_with_a_warning_naming_them()
    {
        using var tree = new FixtureTree("ubuntu-5.4-stale-buckets");
        tree.Write("etc/sysctl.d/10-broken.conf", "this is no assignment\n");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(tree.File("etc/sysctl.d/20-socket.conf")));
        tree.Write("etc/modprobe.d/broken.conf", "optoins nf_conntrack hashsize=1\n");
        var log = new RecordingLog();
        SystemRoot root = tree.Open(log);

        Dictionary<string, PersistedValue> all = BootConfig.AllSysctl(root);
        Assert.Equal("524288", all["net.netfilter.nf_conntrack_max"].Value);
        Assert.Contains(log.Warnings, w => w.Contains(tree.File("etc/sysctl.d/10-broken.conf"), StringComparison.Ordinal) && w.EndsWith("its settings were not taken into account.", StringComparison.Ordinal));
        Assert.Contains(log.Warnings, w => w.Contains(tree.File("etc/sysctl.d/20-socket.conf"), StringComparison.Ordinal) && w.EndsWith("Its settings were not taken into account.", StringComparison.Ordinal));

        Assert.Equal("131072", BootConfig.LastModuleOption(root, "nf_conntrack", "hashsize")!.Value);
        Assert.Contains(log.Warnings, w => w.Contains(tree.File("etc/modprobe.d/broken.conf"), StringComparison.Ordinal) && w.EndsWith("its options were not taken into account.", StringComparison.Ordinal));
        Assert.DoesNotContain(log.Warnings, w => w.Contains("nothing was changed", StringComparison.Ordinal) || w.Contains(".;", StringComparison.Ordinal));
    }

    [Fact]
    public void A_modules_load_list_without_text_or_header_is_just_the_module()
    {
        Assert.Equal("nf_conntrack\n", ModulesLoadFile.Ensure(null, "nf_conntrack", "/x"));
    }

    [Fact]
    public void A_modules_load_file_that_does_not_parse_is_named_in_a_warning_and_the_others_still_count()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        // Two names on one line: systemd-modules-load would try to load "nf conntrack" and fail.
        tree.Write("etc/modules-load.d/broken.conf", "nf conntrack\n");
        tree.Write("etc/modules-load.d/zz-good.conf", "nf_conntrack\n");
        var log = new RecordingLog();
        var loaded = BootConfig.ModulesLoadedAtBoot(tree.Open(log));
        Assert.Equal([("nf_conntrack", tree.File("etc/modules-load.d/zz-good.conf"))], loaded);
        string warning = Assert.Single(log.Warnings);
        Assert.Contains(tree.File("etc/modules-load.d/broken.conf"), warning, StringComparison.Ordinal);
        Assert.EndsWith("its modules were not taken into account.", warning, StringComparison.Ordinal);
        Assert.DoesNotContain(".;", warning, StringComparison.Ordinal);
    }
}
