using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using ConntrackTuning.Engine;
using ConntrackTuning.Engine.Persistence;
using ConntrackTuning.Engine.Changes;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;
using ConntrackTuning.Engine.Platform;
using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Fuzz;

/// <summary>
/// What the three pure-text rewriters promise, checked on one input: a rewrite either fails with
/// PersistenceFileInvalid (the result is then null) or gives text that a second rewrite leaves alone, keeps every line
/// it does not own byte for byte, sets what was asked for as often as the key was there (once when it was missing)
/// and touches no other setting. A broken promise throws InvalidOperationException. The fuzz targets and the
/// property tests share these checks.
/// </summary>
internal static class RewriterOracle
{
    public static string? Sysctl(string text, IReadOnlyList<SysctlSetting> settings)
    {
        if (Refused(() => SysctlFile.Set(text, settings, "/fuzz"), out string once))
        {
            return null;
        }

        Check(SysctlFile.Set(once, settings, "/fuzz") == once, "a second rewrite changed the text");
        IReadOnlyList<SysctlAssignment> beforeAssignments = SysctlFile.Parse(text, "/fuzz");
        IReadOnlyList<SysctlAssignment> afterAssignments = SysctlFile.Parse(once, "/fuzz");
        var owned = beforeAssignments.Where(a => settings.Any(s => s.Matches(a.Key))).Select(a => a.Line - 1).ToHashSet();
        int appended = settings.Count(s => !beforeAssignments.Any(a => s.Matches(a.Key)));

        List<ConfigLine> before = ConfigLines.Split(text);
        List<ConfigLine> after = ConfigLines.Split(once);
        CheckAppendOnlyEndings(before, after, appended);
        for (int i = 0; i < before.Count; i++)
        {
            if (!owned.Contains(i))
            {
                Check(SameLine(before, after, i, appended), $"line {i + 1}, not the rewriter's, changed");
            }
            else
            {
                // Only the value changes: the key, its spacing and the "=" stay as written.
                int eq = before[i].Content.IndexOf('=', StringComparison.Ordinal);
                Check(after[i].Content.StartsWith(before[i].Content[..(eq + 1)], StringComparison.Ordinal), $"line {i + 1} lost its key or spacing");
            }
        }

        foreach (SysctlSetting s in settings)
        {
            var lines = afterAssignments.Where(a => s.Matches(a.Key)).ToList();
            // The key is there as often as the user wrote it, or once when it was missing, and always with the value.
            Check(lines.Count == Math.Max(1, beforeAssignments.Count(a => s.Matches(a.Key))), $"{s.Key} appears {lines.Count} times");
            Check(lines.All(a => a.Value == s.Value), $"{s.Key} is not {s.Value} everywhere");
        }

        var others = beforeAssignments.Where(a => !settings.Any(s => s.Matches(a.Key))).Select(a => (a.Key, a.Value));
        Check(others.SequenceEqual(afterAssignments.Where(a => !settings.Any(s => s.Matches(a.Key))).Select(a => (a.Key, a.Value))), "another setting changed");
        return once;
    }

    public static string? Modprobe(string text, string module, string name, string value)
    {
        string wanted = ModprobeFile.NormalizeModule(module);
        if (Refused(() => ModprobeFile.Set(text, module, name, value, "/fuzz"), out string once))
        {
            return null;
        }

        Check(ModprobeFile.Set(once, module, name, value, "/fuzz") == once, "a second rewrite changed the text");
        IReadOnlyList<ModuleOption> beforeOptions = ModprobeFile.Parse(text, "/fuzz");
        IReadOnlyList<ModuleOption> afterOptions = ModprobeFile.Parse(once, "/fuzz");
        var set = afterOptions.Where(o => o.Module == wanted && o.Name == name).ToList();
        Check(set.Count > 0 && set.All(o => o.Value == value), $"{name} is not {value} everywhere");
        Check(set.Count == Math.Max(1, beforeOptions.Count(o => o.Module == wanted && o.Name == name)), $"{name} appears {set.Count} times");
        Check(Others(beforeOptions, wanted, name).SequenceEqual(Others(afterOptions, wanted, name)), $"options other than the module's {name} changed");

        List<ConfigLine> before = ConfigLines.Split(text);
        List<ConfigLine> after = ConfigLines.Split(once);
        int appended = after.Count - before.Count;
        // One line, or a blank one first that ends a continued last line.
        Check(appended is 0 or 1 || (appended == 2 && after[before.Count].Content.Length == 0), $"{appended} lines appended");
        CheckAppendOnlyEndings(before, after, appended);
        for (int i = 0; i < before.Count; i++)
        {
            // A changed line differs only in its tokens of the option.
            Check(SameLine(before, after, i, appended) || Without(after[i].Content, name) == Without(before[i].Content, name), $"line {i + 1} changed beyond its {name}");
        }

        return once;
    }

    public static string? ModulesLoad(string text, string module)
    {
        if (Refused(() => ModulesLoadFile.Ensure(text, module, "/fuzz"), out string once))
        {
            return null;
        }

        Check(ModulesLoadFile.Ensure(once, module, "/fuzz") == once, "a second rewrite changed the text");
        IReadOnlyList<string> listed = ModulesLoadFile.Parse(text, "/fuzz");
        string name = ModprobeFile.NormalizeModule(module);
        if (listed.Contains(name))
        {
            Check(once == text, "a file that lists the module was changed");
            return once;
        }

        Check(ModulesLoadFile.Parse(once, "/fuzz").SequenceEqual([.. listed, name]), "the list is not the old one plus the module");
        string ending = ConfigLines.DominantEnding(ConfigLines.Split(text));
        string expected = text.Length == 0 || text.EndsWith('\n') ? text + module + ending : text + ending + module + ending;
        Check(once == expected, "more than one line was appended, or the old text changed");
        return once;
    }

    /// <summary>The engine's refusal of a file it cannot rewrite; any other failure is a finding.</summary>
    private static bool Refused(Func<string> rewrite, out string result)
    {
        try
        {
            result = rewrite();
            return false;
        }
        catch (ConntrackException e) when (e.ErrorId == ErrorIds.PersistenceFileInvalid)
        {
            result = "";
            return true;
        }
    }

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException(what);
        }
    }

    /// <summary>Lines past the input's own are the appended ones; the input's last line may gain a terminator, nothing else.</summary>
    private static void CheckAppendOnlyEndings(List<ConfigLine> before, List<ConfigLine> after, int appended)
    {
        Check(after.Count == before.Count + appended, $"{before.Count} lines became {after.Count}, {appended} appended");
        for (int i = 0; i < before.Count; i++)
        {
            Check(after[i].Ending == before[i].Ending || GainsTerminator(before, i, appended), $"line {i + 1} changed its terminator");
        }
    }

    /// <summary>
    /// The input's last line had no terminator and lines were appended: it gains one. When it ended in a lone CR,
    /// the CR and the new LF then read as CRLF, so the comparison is of the bytes, not of the split lines.
    /// </summary>
    private static bool GainsTerminator(List<ConfigLine> before, int i, int appended) =>
        appended > 0 && i == before.Count - 1 && before[i].Ending.Length == 0;

    /// <summary>A line the rewrite does not own: the same bytes, or, as the last line, the same bytes and a terminator.</summary>
    private static bool SameLine(List<ConfigLine> before, List<ConfigLine> after, int i, int appended) =>
        GainsTerminator(before, i, appended)
            ? (after[i].Content + after[i].Ending).StartsWith(before[i].Content, StringComparison.Ordinal)
                && (after[i].Content + after[i].Ending).Length - before[i].Content.Length <= 2
            : after[i] == before[i];

    private static IEnumerable<string> Others(IReadOnlyList<ModuleOption> options, string wanted, string name) =>
        options.Where(o => !(o.Module == wanted && o.Name == name)).Select(o => $"{o.Module} {o.Name}={o.Value}");

    // The tokens of a line but those of the option; a continuation backslash glued to the last token stands apart.
    private static string Without(string content, string name)
    {
        string trimmed = content.TrimEnd(' ', '\t', '\r');
        if (trimmed.EndsWith('\\'))
        {
            trimmed = trimmed[..^1] + " \\";
        }

        return string.Join(' ', trimmed.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)
            .Where(t => t != name && !t.StartsWith(name + "=", StringComparison.Ordinal)));
    }
}

/// <summary>
/// The rewriters as fuzz targets. The input is decoded as the engine reads configuration files (one byte, one
/// Latin-1 char), so every byte sequence is a possible file; the first input byte picks the settings.
/// </summary>
internal abstract class RewriterTarget : FuzzTarget
{
    protected static string Latin1(byte[] input, int skip) => SystemRoot.ConfigEncoding.GetString(input, skip, input.Length - skip);

    protected static IEnumerable<byte[]> ConfigFiles(string fixturesDirectory, string folderPart) =>
        Directory.EnumerateFiles(fixturesDirectory, "*", SearchOption.AllDirectories)
            .Where(f => f.Replace('\\', '/').Contains(folderPart, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(File.ReadAllBytes);
}

internal sealed class SysctlRewriteTarget : RewriterTarget
{
    private static readonly SysctlSetting Max = new("net.netfilter.nf_conntrack_max", ["net.nf_conntrack_max", "net.ipv4.netfilter.ip_conntrack_max"], "262144");
    private static readonly SysctlSetting Established = new("net.netfilter.nf_conntrack_tcp_timeout_established", ["net.ipv4.netfilter.ip_conntrack_tcp_timeout_established"], "86400");
    private static readonly SysctlSetting Buckets = new("net.netfilter.nf_conntrack_buckets", [], "65536");
    private static readonly SysctlSetting[][] Choices = [[Max], [Max, Established], [Buckets], [Established with { Value = "" }]];

    public override string Name => "sysctl-rewrite";

    public override IEnumerable<byte[]> Seeds(string fixturesDirectory) =>
        ConfigFiles(fixturesDirectory, "/sysctl").Select(b => (byte[])[0, .. b])
            .Concat(Lines(
                "\u0000net.netfilter.nf_conntrack_max = 1\r\n; comment\r\n-net.nf_conntrack_max=2\r\n",
                "\u0001\u00EF\u00BB\u00BF# BOM\nnet/netfilter/nf_conntrack_max\t=\t3 \nkernel.sysrq = 1",
                "\u0002net.netfilter.nf_conntrack_buckets=1\nnet.netfilter.nf_conntrack_buckets = 2\n\n#\n"));

    public override void Run(byte[] input)
    {
        if (input.Length > 0)
        {
            _ = RewriterOracle.Sysctl(Latin1(input, 1), Choices[input[0] % Choices.Length]);
        }
    }
}

internal sealed class ModprobeRewriteTarget : RewriterTarget
{
    private static readonly string[] Modules = ["nf_conntrack", "ip_conntrack", "nf-conntrack"];

    public override string Name => "modprobe-rewrite";

    public override IEnumerable<byte[]> Seeds(string fixturesDirectory) =>
        ConfigFiles(fixturesDirectory, "/modprobe").Concat(ConfigFiles(fixturesDirectory, "/modules.conf")).Select(b => (byte[])[0, .. b])
            .Concat(Lines(
                "\u0000# options\noptions nf_conntrack acct=1 \\\n\thashsize=1024 tstamp=1\r\ninclude /etc/modprobe.d/other\n",
                "\u0001alias ip_conntrack off\noptions ip_conntrack hashsize=8192\npost-install ip_conntrack /bin/true",
                "\u0002blacklist pcspkr\noptions nf-conntrack\noptions nf_conntrack hashsize"));

    public override void Run(byte[] input)
    {
        if (input.Length > 0)
        {
            _ = RewriterOracle.Modprobe(Latin1(input, 1), Modules[input[0] % Modules.Length], "hashsize", "65536");
        }
    }
}

internal sealed class ModulesLoadRewriteTarget : RewriterTarget
{
    private static readonly string[] Modules = ["nf_conntrack", "ip_conntrack", "nf-conntrack"];

    public override string Name => "modules-load-rewrite";

    public override IEnumerable<byte[]> Seeds(string fixturesDirectory) =>
        ConfigFiles(fixturesDirectory, "/modules-load.d/").Select(b => (byte[])[0, .. b])
            .Concat(Lines("\u0000# list\r\nbr_netfilter\r\n; old\r\nnf-conntrack", "\u0001overlay\n\n", "\u0002\u00EF\u00BB\u00BFnf_conntrack\n"));

    public override void Run(byte[] input)
    {
        if (input.Length > 0)
        {
            _ = RewriterOracle.ModulesLoad(Latin1(input, 1), Modules[input[0] % Modules.Length]);
        }
    }
}

/// <summary>
/// Copies of fixture trees to mutate one file at a time; each run restores what it changed, so every input starts
/// from the fixtures as they are.
/// </summary>
internal sealed class ScratchTrees : IDisposable
{
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "ctt-fuzz-" + Guid.NewGuid().ToString("n"));
    private readonly List<(string Full, byte[]? Original)> _changed = [];

    public List<string> Roots { get; } = [];

    public string Copy(string fixturesDirectory, string name)
    {
        string source = Path.Combine(fixturesDirectory, name);
        string root = Path.Combine(_scratch, name);
        foreach (string file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(root, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        // Symbolic links in fixtures (99-sysctl.conf -> ../sysctl.conf) are copied as the files they point to; that
        // loses nothing the readers care about here.
        Roots.Add(root);
        return root;
    }

    /// <summary>Puts content at a root-relative path (creating folders), remembering what was there.</summary>
    public void Write(string root, string relative, byte[] content)
    {
        string full = Path.Combine(root, relative);
        byte[]? original = File.Exists(full) ? File.ReadAllBytes(full) : null;
        if (original is null && Directory.Exists(full))
        {
            return;
        }

        _changed.Add((full, original));
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, content);
    }

    public void Restore()
    {
        for (int i = _changed.Count - 1; i >= 0; i--)
        {
            (string full, byte[]? original) = _changed[i];
            if (original is null)
            {
                File.Delete(full);
            }
            else
            {
                File.WriteAllBytes(full, original);
            }
        }

        _changed.Clear();
    }

    public void Dispose()
    {
        if (Directory.Exists(_scratch))
        {
            Directory.Delete(_scratch, recursive: true);
        }
    }
}

/// <summary>A target that works on scratch copies of fixture trees, made once at set-up and removed at teardown.</summary>
internal abstract class ScratchTreeTarget : FuzzTarget
{
    private ScratchTrees? _trees;

    protected abstract string[] Fixtures { get; }

    protected ScratchTrees Trees => _trees!;

    protected IReadOnlyList<string> Roots => Trees.Roots;

    public override void Setup(string fixturesDirectory)
    {
        _trees ??= new ScratchTrees();
        if (_trees.Roots.Count == 0)
        {
            foreach (string fixture in Fixtures)
            {
                _trees.Copy(fixturesDirectory, fixture);
            }
        }
    }

    public override void Teardown()
    {
        _trees?.Dispose();
        _trees = null;
    }
}

/// <summary>
/// A target over fixture trees: the first input byte picks the tree, the second the file (from a fixed list per
/// target), the rest is the file's content. Files outside the list stay as in the fixture.
/// </summary>
internal abstract class TreeTarget : ScratchTreeTarget
{
    protected abstract string[] Files { get; }

    public override IEnumerable<byte[]> Seeds(string fixturesDirectory)
    {
        for (int t = 0; t < Fixtures.Length; t++)
        {
            for (int f = 0; f < Files.Length; f++)
            {
                string full = Path.Combine(fixturesDirectory, Fixtures[t], Files[f]);
                if (File.Exists(full))
                {
                    yield return [(byte)t, (byte)f, .. File.ReadAllBytes(full)];
                }
            }
        }

        foreach (byte[] extra in ExtraSeeds())
        {
            yield return extra;
        }
    }

    protected virtual IEnumerable<byte[]> ExtraSeeds() => [];

    public override void Run(byte[] input)
    {
        if (input.Length < 2)
        {
            return;
        }

        string root = Roots[input[0] % Roots.Count];
        Trees.Write(root, Files[input[1] % Files.Length], input[2..]);
        try
        {
            Exercise(SystemRoot.Open(root));
        }
        finally
        {
            Trees.Restore();
        }
    }

    protected abstract void Exercise(SystemRoot root);

    protected static byte[] Seed(int tree, int file, string content) => [(byte)tree, (byte)file, .. Encoding.UTF8.GetBytes(content)];
}

/// <summary>
/// What the next boot applies: sysctl.d in systemd's order, modprobe.d and the old single files, the kernel command
/// line; then the Set-* plans that read them and compute the new file contents (planned only, never applied).
/// </summary>
internal sealed class BootConfigTarget : TreeTarget
{
    public override string Name => "boot-config";

    protected override string[] Fixtures => ["ubuntu-5.4-stale-buckets", "centos7-3.10-nf_conntrack", "rhel5-2.6.18-ip_conntrack", "linux-2.4.27-netfilter"];

    protected override string[] Files =>
    [
        "etc/sysctl.conf", "etc/sysctl.d/60-conntrack.conf", "etc/sysctl.d/99-sysctl.conf", "etc/sysctl.d/90-conntrack-tuning.conf",
        "usr/lib/sysctl.d/50-default.conf", "etc/modprobe.d/nf_conntrack.conf", "etc/modprobe.d/conntrack-tuning.conf",
        "etc/modprobe.conf", "etc/modules.conf", "proc/cmdline", "etc/modules-load.d/conntrack-tuning.conf",
    ];

    protected override IEnumerable<byte[]> ExtraSeeds() =>
    [
        Seed(0, 9, "BOOT_IMAGE=/vmlinuz root=/dev/sda1 nf_conntrack.hashsize=4096 nf_conntrack.hashsize=8192\n"),
        Seed(0, 4, "net.netfilter.nf_conntrack_max = 1\r\n-net.nf_conntrack_max=2\n"),
        Seed(2, 7, "alias eth0 e1000\noptions ip_conntrack hashsize=4096\ninclude /etc/modprobe.d\n"),
    ];

    protected override void Exercise(SystemRoot root)
    {
        ConntrackKernel kernel = KernelProbe.Probe(root);
        string module = kernel.EraRow.TrackerName;
        _ = BootConfig.AllSysctl(root);
        _ = BootConfig.LastModuleOption(root, module, "hashsize");
        _ = BootConfig.CommandLineParameter(root, module, "hashsize");
        Plan(() => MaxPlanner.Plan(kernel, 300_000, ApplyMode.PersistentOnly, force: true));
        Plan(() => HashSizePlanner.Plan(kernel, 65_536, ApplyMode.PersistentOnly, force: true));
    }

    private static void Plan(Func<ChangePlan> planner)
    {
        ChangePlan plan;
        try
        {
            plan = planner();
        }
        catch (ConntrackException)
        {
            return;
        }

        // What a plan would write, it must be able to read back.
        foreach (FileEdit edit in plan.Files)
        {
            _ = edit.Relative.Contains("modprobe", StringComparison.Ordinal) || edit.Relative.EndsWith("modules.conf", StringComparison.Ordinal)
                ? ModprobeFile.Parse(edit.After, edit.Relative).Count
                : edit.Relative.Contains("modules-load", StringComparison.Ordinal)
                    ? ModulesLoadFile.Parse(edit.After, edit.Relative).Count
                    : SysctlFile.Parse(edit.After, edit.Relative).Count;
        }
    }
}

/// <summary>
/// The timeout folder as the kernel lists it: each input line "name=content" becomes a file in it (names and
/// contents as hostile as the mutator makes them), then Get-ConntrackTimeout's reader and the Set-ConntrackTimeout
/// plan for every timeout found.
/// </summary>
internal sealed class TimeoutDirectoryTarget : ScratchTreeTarget
{
    private static readonly string[] Folders = ["proc/sys/net/netfilter", "proc/sys/net/netfilter", "proc/sys/net/ipv4/netfilter"];

    public override string Name => "timeout-dir";

    protected override string[] Fixtures => ["linux-6.18-builtin", "centos7-3.10-nf_conntrack", "rhel5-2.6.18-ip_conntrack"];

    public override IEnumerable<byte[]> Seeds(string fixturesDirectory)
    {
        for (int t = 0; t < Fixtures.Length; t++)
        {
            string folder = Path.Combine(fixturesDirectory, Fixtures[t], Folders[t]);
            var lines = Directory.EnumerateFiles(folder).Where(f => Path.GetFileName(f).Contains("timeout", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal).Select(f => Path.GetFileName(f) + "=" + File.ReadAllText(f).Trim());
            yield return [(byte)t, .. Encoding.UTF8.GetBytes(string.Join('\n', lines))];
        }

        yield return [0, .. Encoding.UTF8.GetBytes("nf_conntrack_tcp_timeout_=1\nnf_conntrack__timeout=2\nnf_conntrack_x_timeout_y_z=\nnf_conntrack_udp_timeout= 30 \n")];
    }

    public override void Run(byte[] input)
    {
        if (input.Length < 1)
        {
            return;
        }

        int t = input[0] % Roots.Count;
        string root = Roots[t];
        try
        {
            foreach (string line in Encoding.UTF8.GetString(input, 1, input.Length - 1).Split('\n'))
            {
                int eq = line.IndexOf('=', StringComparison.Ordinal);
                string name = (eq < 0 ? line : line[..eq]).Replace('/', '_').Replace('\0', '_');
                if (name.Length is > 0 and < 200 && name is not "." and not "..")
                {
                    Trees.Write(root, Folders[t] + "/" + name, Encoding.UTF8.GetBytes(eq < 0 ? "" : line[(eq + 1)..]));
                }
            }

            ConntrackKernel kernel = KernelProbe.Probe(SystemRoot.Open(root));
            IReadOnlyList<ConntrackTimeout> timeouts;
            try
            {
                timeouts = TimeoutReader.Read(kernel);
            }
            catch (ConntrackException e) when (e.ErrorId is ErrorIds.TimeoutsNotAvailable or ErrorIds.ConntrackNotLoaded)
            {
                return;
            }

            foreach (ConntrackTimeout timeout in timeouts)
            {
                try
                {
                    _ = TimeoutPlanner.Plan(kernel, timeout.Protocol, timeout.State, 120, ApplyMode.PersistentOnly, force: true);
                }
                catch (ConntrackException)
                {
                }
            }
        }
        finally
        {
            Trees.Restore();
        }
    }
}

/// <summary>proc/meminfo, proc/slabinfo and the SLUB sysfs sizes, through the probe and every sizing profile.</summary>
internal sealed class SizingFilesTarget : TreeTarget
{
    public override string Name => "sizing-files";

    protected override string[] Fixtures => ["linux-6.18-builtin", "linux-2.4.27-netfilter", "rhel6-2.6.32-nf_conntrack"];

    protected override string[] Files =>
        ["proc/meminfo", "proc/slabinfo", "sys/kernel/slab/nf_conntrack/slab_size", "sys/kernel/slab/nf_conntrack/object_size", "proc/kallsyms"];

    protected override IEnumerable<byte[]> ExtraSeeds() =>
    [
        Seed(0, 1, "slabinfo - version: 2.1\n# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\nnf_conntrack         612    612    320   51    4 : tunables    0    0    0 : slabdata     12     12      0\nnf_conntrack_expect    0      0    208   39    2 : tunables    0    0    0 : slabdata      0      0      0\n"),
        Seed(1, 1, "slabinfo - version: 1.1\nip_conntrack         12     24    384    2    1    1\n"),
        Seed(2, 1, "slabinfo - version: 2.1\nnf_conntrack_ffff88003a8c0000   100   100   312   25    2 : tunables    0    0    0 : slabdata      4      4      0\n"),
        Seed(0, 2, "320\n"),
        Seed(0, 3, "248\n"),
        Seed(1, 0, "        total:    used:    free:  shared: buffers:  cached:\nMem:  1054523392 1010098176 44425216        0 59797504 743309312\nMemTotal:      1029808 kB\n"),
        Seed(0, 4, "ffffffff81000000 T _stext\n"),
    ];

    protected override void Exercise(SystemRoot root)
    {
        ConntrackKernel kernel = KernelProbe.Probe(root);
        SizingInputs inputs;
        try
        {
            inputs = SizingInputResolver.Resolve(new RecommendationRequest(), kernel);
        }
        catch (ConntrackException)
        {
            return;
        }

        foreach (RecommendationProfile profile in Recommender.AllProfiles)
        {
            try
            {
                ConntrackRecommendation r = Recommender.Recommend(inputs, profile, NullEngineLog.Instance);
                if (r.Max <= 0 || r.HashSize <= 0)
                {
                    throw new InvalidOperationException($"{profile} recommends max {r.Max}, hash size {r.HashSize}.");
                }
            }
            catch (ConntrackException e) when (e.ErrorId is ErrorIds.ReserveExceedsMemory or ErrorIds.InvalidSizingInput)
            {
            }
        }
    }
}
