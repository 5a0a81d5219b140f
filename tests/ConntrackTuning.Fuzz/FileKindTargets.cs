using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.IO.Compression;
using System.Linq;
using ConntrackTuning.Engine;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.KernelLog;
using ConntrackTuning.Engine.Persistence;
using ConntrackTuning.Engine.Platform;
using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning.Fuzz;

/// <summary>
/// The file kinds a hostile tree holds where the module reads or writes (issue 13): a FIFO, a device node, a huge
/// file, a cut-off gzip log, or a link put in place of any component of the path (absolute, relative, to "/" or to
/// a folder outside the tree). Input: byte 0 picks the path, byte 1 the kind, byte 2 the component a link replaces,
/// the rest is content. Every reader and one write must end (no hang: the run is bounded), fail only with the
/// engine's own errors, and never create anything outside the tree.
/// </summary>
internal sealed class FileKindTarget : FuzzTarget
{
    private static readonly string[] Paths =
    [
        "etc/sysctl.d/50-fuzz.conf", "etc/sysctl.conf", "etc/modprobe.d/fuzz.conf", "etc/modules-load.d/fuzz.conf",
        "proc/net/stat/nf_conntrack", "proc/sys/net/netfilter/nf_conntrack_max", "var/log/kern.log.1.gz", "run/conntrack-tuning/lock",
    ];

    private string _scratch = "";
    private string _root = "";
    private string _outside = "";

    public override string Name => "file-kinds";

    public override void Setup(string fixturesDirectory)
    {
        _scratch = Path.Combine(Path.GetTempPath(), "ctt-fuzz-kinds-" + Guid.NewGuid().ToString("n"));
        _root = Path.Combine(_scratch, "tree");
        _outside = Path.Combine(_scratch, "outside");
        Directory.CreateDirectory(_outside);
        string source = Path.Combine(fixturesDirectory, "linux-6.18-builtin");
        foreach (string file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(_root, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    public override void Teardown()
    {
        if (Directory.Exists(_scratch))
        {
            // Directory.Delete removes links, never what they point at.
            Directory.Delete(_scratch, recursive: true);
        }
    }

    public override IEnumerable<byte[]> Seeds(string fixturesDirectory)
    {
        for (byte path = 0; path < Paths.Length; path++)
        {
            for (byte kind = 0; kind < 6; kind++)
            {
                yield return [path, kind, 1, .. "net.netfilter.nf_conntrack_max = 5\nnf_conntrack: table full, dropping packet\n"u8];
            }
        }
    }

    public override void Run(byte[] input)
    {
        if (input.Length < 3)
        {
            return;
        }

        string relative = Paths[input[0] % Paths.Length];
        byte[] content = input[3..];
        var undo = new List<Action>();
        try
        {
            Place(relative, input[1] % 6, input[2], content, undo);
            Exercise();
            if (Directory.EnumerateFileSystemEntries(_outside).Any())
            {
                throw new InvalidOperationException($"Something was created outside the tree: {string.Join(", ", Directory.EnumerateFileSystemEntries(_outside))}");
            }
        }
        finally
        {
            for (int i = undo.Count - 1; i >= 0; i--)
            {
                undo[i]();
            }

            foreach (string entry in Directory.EnumerateFileSystemEntries(_outside))
            {
                if (Directory.Exists(entry) && !new DirectoryInfo(entry).Attributes.HasFlag(FileAttributes.ReparsePoint))
                {
                    Directory.Delete(entry, recursive: true);
                }
                else
                {
                    File.Delete(entry);
                }
            }
        }
    }

    private void Place(string relative, int kind, byte component, byte[] content, List<Action> undo)
    {
        string full = Path.Combine(_root, relative);
        if (kind == 5)
        {
            // A link in place of one component of the path (the file itself included).
            string[] parts = relative.Split('/');
            string at = Path.Combine(_root, string.Join('/', parts.Take(1 + component % parts.Length)));
            string aside = at + ".fuzz-aside";
            bool moved = Directory.Exists(at) || File.Exists(at);
            if (moved)
            {
                Directory.Move(at, aside);
            }
            else
            {
                Directory.CreateDirectory(Path.GetDirectoryName(at)!);
            }

            string[] targets = [_outside, "/", Path.GetRelativePath(Path.GetDirectoryName(at)!, _outside), "../../../../..", "/" + _outside.TrimStart('/')];
            File.CreateSymbolicLink(at, targets[component / 8 % targets.Length]);
            undo.Add(() =>
            {
                File.Delete(at);
                if (moved)
                {
                    Directory.Move(aside, at);
                }
            });
            return;
        }

        string saved = full + ".fuzz-saved";
        bool existed = File.Exists(full);
        if (Directory.Exists(full))
        {
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        if (existed)
        {
            File.Move(full, saved);
        }

        undo.Add(() =>
        {
            if (File.Exists(full) || new FileInfo(full).LinkTarget is not null || IsSpecial(full))
            {
                File.Delete(full);
            }

            if (existed)
            {
                File.Move(saved, full);
            }
        });
        switch (kind)
        {
            case 0:
                File.WriteAllBytes(full, content);
                break;
            case 1:
                Node(full, "mkfifo", [full]);
                break;
            case 2:
                // /dev/zero's numbers; without root, a FIFO is the special file instead.
                if (!ProcessIdentity.IsRoot || !Node(full, "mknod", [full, "c", "1", "5"]))
                {
                    Node(full, "mkfifo", [full]);
                }

                break;
            case 3:
                using (var huge = new FileStream(full, FileMode.CreateNew))
                {
                    huge.Write(content);
                    huge.SetLength(8L << 20);
                }

                break;
            case 4:
                using (var file = new MemoryStream())
                {
                    using (var gz = new GZipStream(file, CompressionLevel.Fastest, leaveOpen: true))
                    {
                        gz.Write(content);
                    }

                    byte[] whole = file.ToArray();
                    // .NET writes nothing at all for empty content: then the file is empty, which is damage too.
                    File.WriteAllBytes(full, whole[..Math.Min(whole.Length, Math.Max(2, whole.Length * (content.Length % 7 + 1) / 8))]);
                }

                break;
        }
    }

    private static bool IsSpecial(string full) => Native.Stat(Native.AT_FDCWD, full, out _) is { } s && !s.IsRegular && !s.IsDirectory;

    private static bool Node(string full, string tool, string[] arguments)
    {
        using Process? p = Process.Start(new ProcessStartInfo("/usr/bin/" + tool, arguments) { RedirectStandardError = true });
        p?.WaitForExit();
        return p?.ExitCode == 0;
    }

    private void Exercise()
    {
        SystemRoot root = SystemRoot.Open(_root);
        Guard(() => KernelProbe.Probe(root));
        Guard(() => BootConfig.AllSysctl(root));
        Guard(() => BootConfig.LastModuleOption(root, "nf_conntrack", "hashsize"));
        Guard(() => BootConfig.ModulesLoadedAtBoot(root));
        Guard(() => ProcStatisticsSource.Instance.TryRead(KernelProbe.Probe(root), out _));
        Guard(() => KernelLogSources.File(root, "var/log/kern.log.1.gz").Batches().Sum(b => b.Count));
        Guard(() =>
        {
            root.WriteConfigFileAtomic("etc/sysctl.d/90-conntrack-tuning.conf", "net.netfilter.nf_conntrack_max = 5\n");
            return 0;
        });
        Guard(() =>
        {
            root.AcquireWriteLock(TimeSpan.FromMilliseconds(100)).Dispose();
            return 0;
        });
    }

    /// <summary>
    /// The engine may refuse: a ConntrackException, or the IOException SystemRoot.OpenRead throws for a log that is
    /// missing or not a regular file (the cmdlets turn it into FileReadFailed); nothing else.
    /// </summary>
    private static void Guard<T>(Func<T> work)
    {
        try
        {
            _ = work();
        }
        catch (ConntrackException)
        {
        }
        catch (IOException)
        {
        }
    }
}
