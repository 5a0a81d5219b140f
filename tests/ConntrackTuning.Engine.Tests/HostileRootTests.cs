using System;
using System.IO;
using System.Linq;
using ConntrackTuning.Engine.Changes;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Metrics;
using ConntrackTuning.Engine.Persistence;
using ConntrackTuning.Engine.Platform;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// Root working on paths another user controls: the folder given as -Root, or a folder on the way to a metrics file,
/// swapped by its owner for a link (or another folder) while root works.
/// </summary>
[Collection(nameof(TestHooks))]
public class HostileRootTests
{
    [Fact]
    public void A_root_folder_swapped_for_a_link_during_a_change_gets_nothing_written_through_the_link()
    {
        string work = HostileTreeTests.TempFolder("rootswap");
        try
        {
            string tree = Path.Combine(work, "tree");
            string decoy = Path.Combine(work, "decoy");
            Directory.CreateDirectory(decoy);
            using (var fixture = new FixtureTree("linux-6.18-builtin"))
            {
                Directory.Move(fixture.Path, tree);
                Directory.CreateDirectory(fixture.Path);
            }

            SystemRoot root = SystemRoot.Open(tree);
            // Whoever owns the folder above the root renames the tree away and puts a link to another folder in its
            // place between the plan and the write (as the system's "/", the link would send the write to /etc).
            TestHooks.BeforeConfigFileWrite = _ =>
            {
                Directory.Move(tree, tree + ".real");
                File.CreateSymbolicLink(tree, decoy);
            };
            ConntrackException e;
            try
            {
                e = Assert.Throws<ConntrackException>(() =>
                    ChangeApplier.Apply(root, () => MaxPlanner.Plan(KernelProbe.Probe(root), 300000, ApplyMode.PersistentOnly, true), TimeSpan.FromSeconds(5)));
            }
            finally
            {
                TestHooks.BeforeConfigFileWrite = null;
            }

            Assert.Equal(ErrorIds.UnsafeSymbolicLink, e.ErrorId);
            Assert.Contains(tree, e.Message, StringComparison.Ordinal);
            // Nothing was created, so nothing is left to check by hand.
            Assert.Contains("Everything written before the failure was undone", e.Message, StringComparison.Ordinal);
            Assert.Empty(HostileTreeTests.Entries(decoy));
            Assert.False(File.Exists(Path.Combine(tree + ".real", "etc/sysctl.d/90-conntrack-tuning.conf")));

            // Reads refuse too: what stands at the path now is not the tree the command opened.
            Assert.Equal(ErrorIds.UnsafeSymbolicLink, Assert.Throws<ConntrackException>(() => root.TryReadText("proc/sys/net/netfilter/nf_conntrack_max")).ErrorId);
        }
        finally
        {
            TestHooks.BeforeConfigFileWrite = null;
            Directory.Delete(work, recursive: true);
        }
    }

    [RootFact]
    public void A_link_the_owner_of_a_metrics_folder_puts_on_the_way_does_not_send_roots_write_into_a_folder_of_root()
    {
        string work = HostileTreeTests.TempFolder("metricswap");
        string rootOnly = HostileTreeTests.TempFolder("rootonly");
        try
        {
            Directory.CreateDirectory(Path.Combine(work, "mine"));
            Directory.CreateDirectory(Path.Combine(work, "textfile"));
            AsNobody.Chown(work);
            File.SetUnixFileMode(rootOnly, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

            // nobody owns the folder node_exporter reads and swaps it for a link to a folder only root may write.
            Assert.Equal(0, AsNobody.Run("import os, sys; os.rename(sys.argv[1], sys.argv[1] + '.old'); os.symlink(sys.argv[2], sys.argv[1])",
                Path.Combine(work, "textfile"), rootOnly));
            SystemRoot fileSystem = SystemRoot.Open("/");
            ConntrackException e = Assert.Throws<ConntrackException>(() => MetricFile.Write(Path.Combine(work, "textfile/conntrack.prom"), "x 1\n", fileSystem));
            Assert.Equal(ErrorIds.UnsafeSymbolicLink, e.ErrorId);
            Assert.Contains(Path.Combine(work, "textfile"), e.Message, StringComparison.Ordinal);
            Assert.Empty(HostileTreeTests.Entries(rootOnly));

            // A relative link that climbs out of the folder is judged the same way.
            Assert.Equal(0, AsNobody.Run("import os, sys; os.remove(sys.argv[1]); os.symlink('../' + os.path.basename(sys.argv[2]), sys.argv[1])",
                Path.Combine(work, "textfile"), rootOnly));
            Assert.Equal(ErrorIds.UnsafeSymbolicLink,
                Assert.Throws<ConntrackException>(() => MetricFile.Write(Path.Combine(work, "textfile/conntrack.prom"), "x 1\n", fileSystem)).ErrorId);
            Assert.Empty(HostileTreeTests.Entries(rootOnly));

            // A link to a folder of the same user is that user's own layout, and is followed.
            Assert.Equal(0, AsNobody.Run("import os, sys; os.remove(sys.argv[1]); os.symlink(sys.argv[2], sys.argv[1])",
                Path.Combine(work, "textfile"), Path.Combine(work, "mine")));
            MetricFile.Write(Path.Combine(work, "textfile/conntrack.prom"), "x 1\n", fileSystem);
            Assert.Equal("x 1\n", File.ReadAllText(Path.Combine(work, "mine/conntrack.prom")));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
            Directory.Delete(rootOnly, recursive: true);
        }
    }

    private const string Secret = "root:$6$SaltSalt$HashHashHashHash:19000:0:99999:7:::\nexport TOKEN=s3cr3t\noptions\n";

    [Fact]
    public void A_configuration_file_that_is_a_link_to_a_private_file_is_named_in_warnings_but_never_quoted()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("etc/shadow", Secret);
        tree.Chmod("etc/shadow", "640");
        foreach (string folder in new[] { "etc/sysctl.d", "etc/modprobe.d", "etc/modules-load.d" })
        {
            Directory.CreateDirectory(tree.File(folder));
            File.CreateSymbolicLink(tree.File(folder + "/50-shadow.conf"), "/etc/shadow");
        }

        // A readable file's bad line is still quoted: that is what lets a user find a typo.
        tree.Write("etc/sysctl.d/60-typo.conf", "net.netfilter.nf_conntrack_max 300000\n");
        var log = new RecordingLog();
        SystemRoot root = SystemRoot.Open(tree.Path, log);
        _ = BootConfig.AllSysctl(root);
        _ = BootConfig.LastModuleOption(root, "nf_conntrack", "hashsize");
        _ = BootConfig.ModulesLoadedAtBoot(root);

        foreach (string folder in new[] { "etc/sysctl.d", "etc/modprobe.d", "etc/modules-load.d" })
        {
            Assert.Contains(log.Warnings, w => w.Contains(tree.File(folder + "/50-shadow.conf"), StringComparison.Ordinal));
        }

        Assert.DoesNotContain(log.Warnings, w => w.Contains("SaltSalt", StringComparison.Ordinal) || w.Contains("s3cr3t", StringComparison.Ordinal) || w.Contains("root:", StringComparison.Ordinal));
        Assert.Contains(log.Warnings, w => w.Contains("('net.netfilter.nf_conntrack_max 300000')", StringComparison.Ordinal));
    }

    [Fact]
    public void A_rewrite_refused_over_a_private_file_names_the_line_but_does_not_quote_it()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("etc/sysctl.d/90-conntrack-tuning.conf", Secret);
        tree.Chmod("etc/sysctl.d/90-conntrack-tuning.conf", "600");
        SystemRoot root = tree.Open();
        ConntrackException e = Assert.Throws<ConntrackException>(() =>
            ChangeApplier.Apply(root, () => MaxPlanner.Plan(KernelProbe.Probe(root), 300000, ApplyMode.PersistentOnly, true), TimeSpan.FromSeconds(5)));
        Assert.Equal(ErrorIds.PersistenceFileInvalid, e.ErrorId);
        Assert.Contains("line 1", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("SaltSalt", e.Message, StringComparison.Ordinal);
        Assert.Equal(Secret, File.ReadAllText(tree.File("etc/sysctl.d/90-conntrack-tuning.conf")));
    }
}
