using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;
using ConntrackTuning.Engine.Platform;
using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Fuzz;

/// <summary>Every fuzz target. A parser or rewriter added to the engine gets its target here.</summary>
public static class Targets
{
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new KernelVersionTarget(),
        new ValueFileTarget(),
        new StartupLineTarget(),
        new ProbeTreeTarget(),
        new EntryTextTarget(),
        new NetlinkTarget("netlink-dump", statistics: false),
        new NetlinkTarget("netlink-stats", statistics: true),
        new KernelLogTarget(),
        new ProcStatTarget(),
        new SysctlRewriteTarget(),
        new ModprobeRewriteTarget(),
        new ModulesLoadRewriteTarget(),
        new BootConfigTarget(),
        new TimeoutDirectoryTarget(),
        new SizingFilesTarget(),
        new FileKindTarget(),
    ];

    public static FuzzTarget Get(string name) => All.Single(t => t.Name == name);
}

internal sealed class KernelVersionTarget : FuzzTarget
{
    public override string Name => "kernel-version";

    public override IEnumerable<byte[]> Seeds(string fixturesDirectory) =>
        Lines("2.4.20-8", "2.6.32.67", "3.10.0-1160.el7.x86_64", "5.15.0-91-generic", "6.18.44-fc-v669", "v4.19");

    public override void Run(byte[] input)
    {
        string text = Text(input);
        if (KernelVersion.TryParse(text, out KernelVersion v) && !KernelVersion.TryParse(v.ToString(), out KernelVersion back) | back != v)
        {
            throw new InvalidOperationException($"'{v}' does not read back.");
        }

        _ = KernelVersion.Parse(text);
    }
}

internal sealed class ValueFileTarget : FuzzTarget
{
    public override string Name => "value-file";

    public override IEnumerable<byte[]> Seeds(string fixturesDirectory) => Lines("262144\n", "-1", " 0 \n", "");

    public override void Run(byte[] input) => _ = SystemRoot.ParseValueFile(Text(input), "/fuzz");
}

internal sealed class StartupLineTarget : FuzzTarget
{
    public override string Name => "startup-line";

    public override IEnumerable<byte[]> Seeds(string fixturesDirectory) => Lines(
        "ip_conntrack version 2.1 (8192 buckets, 65536 max) - 304 bytes per conntrack",
        "Mar  1 10:00:00 fw kernel: nf_conntrack version 0.5.0 (16384 buckets, 65536 max)");

    public override void Run(byte[] input) => _ = StartupLine.TryParse(Text(input), "fuzz");
}

/// <summary>
/// A whole fixture tree with one of its files mutated, through the probe and the limit reader: the path
/// every cmdlet takes. The first two input bytes pick the fixture and the file; the rest is the content.
/// </summary>
internal sealed class ProbeTreeTarget : FuzzTarget
{
    private readonly List<(string Root, List<string> Files)> _trees = [];
    private string _scratch = "";

    public override string Name => "probe-tree";

    public override void Setup(string fixturesDirectory)
    {
        if (_trees.Count == 0)
        {
            Copy(fixturesDirectory);
        }
    }

    public override IEnumerable<byte[]> Seeds(string fixturesDirectory)
    {
        for (int t = 0; t < _trees.Count; t++)
        {
            for (int f = 0; f < _trees[t].Files.Count; f++)
            {
                byte[] content = File.ReadAllBytes(Path.Combine(_trees[t].Root, _trees[t].Files[f]));
                yield return [(byte)t, (byte)f, .. content];
            }
        }
    }

    public override void Run(byte[] input)
    {
        if (input.Length < 2)
        {
            return;
        }

        (string root, List<string> files) = _trees[input[0] % _trees.Count];
        string file = Path.Combine(root, files[input[1] % files.Count]);
        byte[] original = File.ReadAllBytes(file);
        File.WriteAllBytes(file, input[2..]);
        try
        {
            ConntrackKernel kernel = KernelProbe.Probe(SystemRoot.Open(root));
            _ = LimitReader.Read(kernel);
        }
        finally
        {
            File.WriteAllBytes(file, original);
        }
    }

    public override void Teardown()
    {
        if (_scratch.Length > 0)
        {
            Directory.Delete(_scratch, recursive: true);
            _scratch = "";
            _trees.Clear();
        }
    }

    private void Copy(string fixturesDirectory)
    {
        _scratch = Path.Combine(Path.GetTempPath(), "ctt-fuzz-" + Guid.NewGuid().ToString("n"));
        foreach (string fixture in Directory.GetDirectories(fixturesDirectory).Order(StringComparer.Ordinal))
        {
            string root = Path.Combine(_scratch, Path.GetFileName(fixture));
            var files = new List<string>();
            foreach (string source in Directory.EnumerateFiles(fixture, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                string relative = Path.GetRelativePath(fixture, source);
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(root, relative))!);
                File.Copy(source, Path.Combine(root, relative));
                files.Add(relative);
            }

            if (files.Count > 0)
            {
                _trees.Add((root, files));
            }
        }
    }
}
