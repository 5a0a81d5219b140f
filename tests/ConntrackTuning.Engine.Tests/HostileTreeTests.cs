using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ConntrackTuning.Engine.Changes;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Persistence;
using ConntrackTuning.Engine.Platform;
using ConntrackTuning.Engine.Statistics;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// Issue 13's reproductions for the file layer: trees whose owner races root, links out of the root, a lock another
/// user can hold, captures with writable value files, and special or huge files where configuration is read.
/// </summary>
public class HostileTreeTests
{
    private const string Own = "etc/sysctl.d/90-conntrack-tuning.conf";

    private static readonly string[] Raced = ["etc/sysctl.d", "etc/modprobe.d", "etc/modules-load.d", "etc/created"];

    /// <summary>Swaps each folder with its ".swap" neighbour (a link out of the tree) as fast as it can, with renameat2(RENAME_EXCHANGE).</summary>
    private const string Swapper = """
        import ctypes, sys
        libc = ctypes.CDLL(None, use_errno=True)
        names = [(a.encode(), (a + ".swap").encode()) for a in sys.argv[1:]]
        print("ready", flush=True)
        while True:
            for a, b in names:
                libc.renameat2(-100, a, -100, b, 2)
        """;

    /// <summary>A new folder under the temporary folder, for a test that lays out its own root and links (HostileRootTests too).</summary>
    internal static string TempFolder(string kind)
    {
        string path = Path.Combine(Path.GetTempPath(), $"ctt-{kind}-{Guid.NewGuid():n}");
        Directory.CreateDirectory(path);
        return path;
    }

    internal static string[] Entries(string folder) => Directory.EnumerateFileSystemEntries(folder, "*", SearchOption.AllDirectories).ToArray();

    // ---- 1: a folder swapped for a link while root writes ------------------------------------------------------

    [RootFact]
    public void A_folder_the_trees_owner_swaps_for_a_link_never_sends_a_write_out_of_the_root()
    {
        string work = TempFolder("race");
        try
        {
            string tree = Path.Combine(work, "tree");
            string outside = Path.Combine(work, "outside");
            Directory.CreateDirectory(outside);
            foreach (string folder in Raced)
            {
                if (folder != "etc/created")
                {
                    Directory.CreateDirectory(Path.Combine(tree, folder));
                }

                File.CreateSymbolicLink(Path.Combine(tree, folder + ".swap"), outside);
            }

            AsNobody.Chown(work);
            File.SetUnixFileMode(outside, (UnixFileMode)Convert.ToInt32("777", 8));
            SystemRoot root = SystemRoot.Open(tree);
            int written = 0;
            using (var swapper = new AsNobody(Swapper, Raced.Select(f => Path.Combine(tree, f)).ToArray()))
            {
                var clock = Stopwatch.StartNew();
                while (clock.Elapsed < TimeSpan.FromSeconds(8))
                {
                    foreach (string file in new[] { Own, "etc/modprobe.d/conntrack-tuning.conf", "etc/modules-load.d/conntrack-tuning.conf", "etc/created/sub/new.conf" })
                    {
                        try
                        {
                            root.WriteConfigFileAtomic(file, "net.netfilter.nf_conntrack_max = 1\n");
                            written++;
                        }
                        catch (ConntrackException)
                        {
                            // A write that lost the race may fail; it must never land outside.
                        }
                    }
                }
            }

            Assert.True(written > 100, $"only {written} writes were made");
            Assert.Empty(Entries(outside));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    // ---- 2: the lock reached through a link ----------------------------------------------------------------------

    [Theory]
    [InlineData("run", true)]
    [InlineData("run", false)]
    [InlineData("run/lock", true)]
    [InlineData("run/conntrack-tuning", false)]
    public void A_lock_folder_reached_through_a_link_creates_nothing_outside_the_root(string link, bool absolute)
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        string outside = TempFolder("outside");
        try
        {
            Directory.CreateDirectory(Path.Combine(outside, "lock"));
            Directory.CreateDirectory(Path.GetDirectoryName(tree.File(link))!);
            File.CreateSymbolicLink(tree.File(link), absolute ? outside : Path.GetRelativePath(Path.GetDirectoryName(tree.File(link))!, outside));
            try
            {
                tree.Open().AcquireWriteLock(TimeSpan.FromSeconds(1)).Dispose();
                Assert.Equal("run/lock", link);
            }
            catch (ConntrackException e)
            {
                Assert.Equal(ErrorIds.UnsafeSymbolicLink, e.ErrorId);
            }

            Assert.Equal([Path.Combine(outside, "lock")], Entries(outside));
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }

    // ---- 3: a lock another user can hold ---------------------------------------------------------------------------

    private const string Holder = """
        import fcntl, os, sys, time
        files = [open(p, "r" if os.path.exists(p) else "a") for p in sys.argv[1:]]
        for f in files:
            fcntl.flock(f, fcntl.LOCK_EX)
        print("ready", flush=True)
        time.sleep(60)
        """;

    [RootFact]
    public void A_user_holding_the_shared_lock_file_of_earlier_versions_does_not_block_root()
    {
        const string Old = "/run/lock/conntrack-tuning.lock";
        bool existed = File.Exists(Old);
        bool folderExisted = Directory.Exists("/run/conntrack-tuning");
        try
        {
            using (new AsNobody(Holder, Old))
            using (SystemRoot.Open("/").AcquireWriteLock(TimeSpan.FromSeconds(5)))
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode("/run/conntrack-tuning"));
                Assert.Equal(((uint)0, (uint)0), Native.Owner("/run/conntrack-tuning/lock"));
                // nobody cannot even open the lock now, so cannot hold it.
                Assert.NotEqual(0, AsNobody.Run("open('/run/conntrack-tuning/lock', 'a')"));
            }
        }
        finally
        {
            if (!existed)
            {
                File.Delete(Old);
            }

            if (!folderExisted && Directory.Exists("/run/conntrack-tuning"))
            {
                Directory.Delete("/run/conntrack-tuning", recursive: true);
            }
        }
    }

    [RootFact]
    public void A_lock_file_another_user_owns_and_holds_is_replaced_by_a_private_one()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        Directory.CreateDirectory(tree.File("run/lock"));
        Directory.CreateDirectory(tree.File("run/conntrack-tuning"));
        File.SetUnixFileMode(tree.File("run/lock"), (UnixFileMode)Convert.ToInt32("1777", 8));
        foreach (string lockFile in new[] { "run/lock/conntrack-tuning.lock", "run/conntrack-tuning/lock" })
        {
            tree.Write(lockFile, "");
            File.SetUnixFileMode(tree.File(lockFile), (UnixFileMode)Convert.ToInt32("666", 8));
            Assert.Equal(0, Native.Lchown(tree.File(lockFile), 65534, 65534));
        }

        File.SetUnixFileMode(tree.Path, (UnixFileMode)Convert.ToInt32("755", 8));
        using (new AsNobody(Holder, tree.File("run/lock/conntrack-tuning.lock"), tree.File("run/conntrack-tuning/lock")))
        using (tree.Open().AcquireWriteLock(TimeSpan.FromSeconds(2)))
        {
            Assert.Equal(((uint)0, (uint)0), Native.Owner(tree.File("run/conntrack-tuning/lock")));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tree.File("run/conntrack-tuning/lock")));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(tree.File("run/conntrack-tuning")));
        }
    }

    [RootFact]
    public void A_lock_folder_another_user_owns_is_refused()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        Directory.CreateDirectory(tree.File("run/conntrack-tuning"));
        Assert.Equal(0, Native.Lchown(tree.File("run/conntrack-tuning"), 65534, 65534));
        ConntrackException e = Assert.Throws<ConntrackException>(() => tree.Open().AcquireWriteLock(TimeSpan.FromSeconds(1)));
        Assert.Equal(ErrorIds.WriteLockUnsafe, e.ErrorId);
        Assert.Equal(tree.File("run/conntrack-tuning"), e.Target);
        Assert.False(File.Exists(tree.File("run/conntrack-tuning/lock")));
    }

    [Fact]
    public async Task A_wait_for_the_lock_ends_within_200_ms_of_cancellation_and_holds_nothing()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        using var cancel = new CancellationTokenSource();
        Task wait;
        using (tree.Open().AcquireWriteLock(TimeSpan.FromSeconds(1)))
        {
            SystemRoot waiter = SystemRoot.Open(tree.Path, null, cancel.Token);
            wait = Task.Run(() => waiter.AcquireWriteLock(TimeSpan.FromSeconds(30)).Dispose());
            await Task.Delay(300);
            Assert.False(wait.IsCompleted);
            var clock = Stopwatch.StartNew();
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
            Assert.True(clock.ElapsedMilliseconds < 200, $"the wait ended {clock.ElapsedMilliseconds} ms after the cancellation");
        }

        // The cancelled waiter holds nothing: the lock is free at once, and nothing else was left in the tree.
        using (tree.Open().AcquireWriteLock(TimeSpan.Zero))
        {
            Assert.Equal(["lock"], Directory.GetFileSystemEntries(tree.File(".conntrack-tuning")).Select(Path.GetFileName));
        }
    }

    // ---- 4: captures and links to "/" ------------------------------------------------------------------------------

    [Fact]
    public void A_root_that_is_a_link_to_the_running_system_is_the_running_system()
    {
        string link = Path.Combine(Path.GetTempPath(), $"ctt-slash-{Guid.NewGuid():n}");
        File.CreateSymbolicLink(link, "/");
        try
        {
            SystemRoot root = SystemRoot.Open(link);
            Assert.True(root.IsLive);
            Assert.Equal("/", root.Path);
            Assert.False(SystemRoot.Open(Path.GetTempPath()).IsLive);
        }
        finally
        {
            File.Delete(link);
        }
    }

    [Theory]
    [InlineData("sosreport-rhel8-4.18")]
    [InlineData("linux-6.18-builtin")]
    public void A_capture_gets_no_run_time_write_even_where_its_value_files_are_writable(string fixture)
    {
        using var tree = new FixtureTree(fixture, simulatesKernel: false);
        SystemRoot root = tree.Open();
        ConntrackKernel kernel = KernelProbe.Probe(root);
        string hashFile = tree.File(kernel.HashSizeWriteRelative ?? "sys/module/nf_conntrack/parameters/hashsize");
        File.SetUnixFileMode(hashFile, (UnixFileMode)Convert.ToInt32("644", 8));
        string before = File.ReadAllText(hashFile);
        ConntrackException e = Assert.Throws<ConntrackException>(() =>
            ChangeApplier.Apply(root, () => HashSizePlanner.Plan(KernelProbe.Probe(root), 131072, ApplyMode.RuntimeAndPersistent, true), TimeSpan.FromSeconds(5)));
        Assert.Equal(ErrorIds.SettingReadOnly, e.ErrorId);
        Assert.Contains("not the running system", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(hashFile));
        Assert.Throws<ConntrackException>(() => root.TryWriteValueFile("proc/sys/net/netfilter/nf_conntrack_max", "1\n"));

        // The configuration under the root is still the captured system's to change.
        ConntrackChange change = ChangeApplier.Apply(root, () => MaxPlanner.Plan(KernelProbe.Probe(root), 300000, ApplyMode.PersistentOnly, true), TimeSpan.FromSeconds(5));
        Assert.True(change.Applied);
    }

    // ---- 13: a NUL in -Root ------------------------------------------------------------------------------------------

    [Fact]
    public void A_NUL_in_the_root_is_RootPathInvalid_not_an_ArgumentException()
    {
        ConntrackException e = Assert.Throws<ConntrackException>(() => SystemRoot.Open("/tmp/a\0b"));
        Assert.Equal(ErrorIds.RootPathInvalid, e.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("NUL", e.Message, StringComparison.Ordinal);
    }

    // ---- 5: etc as a link out of the root -------------------------------------------------------------------------

    [Fact]
    public void A_link_out_of_the_root_is_resolved_inside_it_for_reads_and_writes_alike()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        string host = TempFolder("host");
        try
        {
            // The host has a folder at the link's target too: reads must not look there.
            Directory.CreateDirectory(Path.Combine(host, "etc/sysctl.d"));
            File.WriteAllText(Path.Combine(host, "etc/sysctl.d/99-host.conf"), "net.netfilter.nf_conntrack_tcp_timeout_established = 111\n");
            string inside = host.TrimStart('/') + "/etc";
            tree.Write(inside + "/sysctl.d/99-image.conf", "net.netfilter.nf_conntrack_tcp_timeout_established = 5\n");
            if (Directory.Exists(tree.File("etc")))
            {
                Directory.Move(tree.File("etc"), tree.File("etc.moved"));
            }

            File.CreateSymbolicLink(tree.File("etc"), "/" + inside);
            SystemRoot root = tree.Open();
            PersistedValue? value = BootConfig.AllSysctl(root).GetValueOrDefault("net.netfilter.nf_conntrack_tcp_timeout_established");
            Assert.Equal("5", value?.Value);
            Assert.Equal(tree.File(inside + "/sysctl.d/99-image.conf") + ":1", value?.Source);

            root.WriteConfigFileAtomic(Own, "x = 1\n");
            Assert.Equal(tree.File(inside + "/sysctl.d/90-conntrack-tuning.conf"), root.Full(Own));
            Assert.True(File.Exists(root.Full(Own)));
            Assert.Equal(["99-host.conf"], Directory.GetFiles(Path.Combine(host, "etc/sysctl.d")).Select(Path.GetFileName));
        }
        finally
        {
            Directory.Delete(host, recursive: true);
        }
    }

    // ---- 6, 7: FIFOs, devices and huge files where configuration is read -------------------------------------------

    private static void MakeNode(string path, params string[] kind)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using Process p = Process.Start(kind[0] == "fifo" ? "/usr/bin/mkfifo" : "/usr/bin/mknod", kind[0] == "fifo" ? [path] : [path, .. kind])!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    [Fact]
    public async Task A_FIFO_among_the_sysctl_files_is_skipped_with_a_warning_that_names_it()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("etc/sysctl.d/80-real.conf", "net.netfilter.nf_conntrack_tcp_timeout_established = 7\n");
        MakeNode(tree.File("etc/sysctl.d/50-fifo.conf"), "fifo");
        var log = new RecordingLog();
        SystemRoot root = SystemRoot.Open(tree.Path, log);
        Task<PersistedValue?> read = Task.Run(() => BootConfig.AllSysctl(root).GetValueOrDefault("net.netfilter.nf_conntrack_tcp_timeout_established"));
        Assert.True(await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(10))) == read, "reading the sysctl files hung on the FIFO");
        Assert.Equal("7", (await read)?.Value);
        Assert.Contains(log.Warnings, w => w.Contains(tree.File("etc/sysctl.d/50-fifo.conf"), StringComparison.Ordinal) && w.Contains("FIFO", StringComparison.Ordinal));
        ConntrackException e = Assert.Throws<ConntrackException>(() => root.WriteConfigFileAtomic("etc/sysctl.d/50-fifo.conf", "x = 1\n"));
        Assert.Equal(ErrorIds.PersistenceFileUnreadable, e.ErrorId);
    }

    [RootFact]
    public async Task A_device_node_among_the_sysctl_files_is_skipped_and_never_read()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        MakeNode(tree.File("etc/sysctl.d/70-zero.conf"), "c", "1", "5");
        var log = new RecordingLog();
        Task<int> read = Task.Run(() => BootConfig.AllSysctl(SystemRoot.Open(tree.Path, log)).Count);
        Assert.True(await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(10))) == read, "reading the sysctl files hung on /dev/zero");
        Assert.Contains(log.Warnings, w => w.Contains(tree.File("etc/sysctl.d/70-zero.conf"), StringComparison.Ordinal) && w.Contains("character device", StringComparison.Ordinal));
    }

    [Fact]
    public void A_huge_file_among_the_sysctl_files_is_skipped_without_reading_it_whole()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        Directory.CreateDirectory(tree.File("etc/sysctl.d"));
        using (var huge = new FileStream(tree.File("etc/sysctl.d/60-huge.conf"), FileMode.CreateNew))
        {
            huge.SetLength(64L << 20);
        }

        var log = new RecordingLog();
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        _ = BootConfig.AllSysctl(SystemRoot.Open(tree.Path, log));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 16L << 20, "the huge file was read whole");
        Assert.Contains(log.Warnings, w => w.Contains(tree.File("etc/sysctl.d/60-huge.conf"), StringComparison.Ordinal) && w.Contains("1 MiB", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_FIFO_in_place_of_the_statistics_file_is_an_error_that_names_it_not_a_hang()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        File.Delete(tree.File("proc/net/stat/nf_conntrack"));
        MakeNode(tree.File("proc/net/stat/nf_conntrack"), "fifo");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        Task<CpuStatistics?> read = Task.Run(() => ProcStatisticsSource.Instance.TryRead(kernel, out _));
        Assert.True(await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(10))) == read, "reading the statistics hung on the FIFO");
        ConntrackException e = Assert.IsType<ConntrackException>(read.Exception?.InnerException);
        Assert.Equal(ErrorIds.FileReadFailed, e.ErrorId);
        Assert.Contains("FIFO", e.Message, StringComparison.Ordinal);
    }

    // ---- 9: an unreadable statistics file --------------------------------------------------------------------------

    [RootFact]
    public void An_unreadable_statistics_file_is_said_to_be_unreadable_not_empty()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        File.SetUnixFileMode(tree.Path, (UnixFileMode)Convert.ToInt32("755", 8));
        File.SetUnixFileMode(tree.File("proc/net/stat/nf_conntrack"), UnixFileMode.None);
        // Root reads past mode 000: the reader runs on a thread whose file-system uid is nobody's (setfsuid is per thread).
        ConntrackException e = NobodyReads(tree);
        Assert.Equal(ErrorIds.FileReadFailed, e.ErrorId);
        Assert.Equal(ErrorKind.PermissionDenied, e.Kind);
        Assert.Contains("permission denied", e.Message, StringComparison.Ordinal);
        Assert.Equal(tree.File("proc/net/stat/nf_conntrack"), e.Target);
    }

    private static ConntrackException NobodyReads(FixtureTree tree)
    {
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        ConntrackException? caught = null;
        var thread = new Thread(() =>
        {
            _ = FsUid.SetFsUid(65534);
            try
            {
                caught = Assert.Throws<ConntrackException>(() => ProcStatisticsSource.Instance.TryRead(kernel, out _));
            }
            finally
            {
                _ = FsUid.SetFsUid(0);
            }
        });
        thread.Start();
        thread.Join();
        return caught ?? throw new InvalidOperationException("the reader as nobody did not fail");
    }
}

/// <summary>setfsuid(2): the uid file access is checked against, for the calling thread only.</summary>
internal static partial class FsUid
{
    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "setfsuid")]
    internal static partial int SetFsUid(uint uid);
}
