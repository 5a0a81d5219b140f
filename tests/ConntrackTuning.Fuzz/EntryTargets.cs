using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Netlink;
using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning.Fuzz;

/// <summary>Table files (procfs of every era, saved conntrack -L output) through the streaming reader into objects.</summary>
internal sealed class EntryTextTarget : FuzzTarget
{
    public override string Name => "entry-text";

    public override IEnumerable<byte[]> Seeds(string fixturesDirectory)
    {
        foreach (string file in Directory.EnumerateFiles(fixturesDirectory, "*conntrack", SearchOption.AllDirectories)
                     .Where(f => f.Contains("/proc/net/", StringComparison.Ordinal)))
        {
            yield return File.ReadAllBytes(file);
        }

        foreach (string file in Directory.EnumerateFiles(DataDirectory(fixturesDirectory), "*.txt"))
        {
            yield return File.ReadAllBytes(file);
        }
    }

    public override void Run(byte[] input)
    {
        using var stream = new MemoryStream(input);
        _ = EntryFileReader.Read(stream, (ref EntryRecord r) =>
        {
            var entry = new ConntrackEntry(ref r);
            _ = entry.Source + entry.Destination + entry.State + entry.Protocol;
            return true;
        });
    }

    internal static string DataDirectory(string fixturesDirectory) =>
        Path.Combine(Path.GetDirectoryName(fixturesDirectory)!, "ConntrackTuning.Engine.Tests", "Data");
}

/// <summary>
/// ctnetlink replies: a mutated datagram from the captures of this kernel, then the end of the dump, through
/// the client that parses the table dump and the per-CPU statistics. The client's own protocol errors are named
/// failures that the reader above it turns into error records; anything else is a crash.
/// </summary>
internal sealed class NetlinkTarget(string name, bool statistics) : FuzzTarget
{
    // NLMSG_DONE, status 0: 20 bytes, so the client stops reading after the fuzzed datagram.
    private const string Done = "1400000003000200000000000000000000000000";

    public override string Name => name;

    public override IEnumerable<byte[]> Seeds(string fixturesDirectory)
    {
        string data = EntryTextTarget.DataDirectory(fixturesDirectory);
        foreach (string file in Directory.EnumerateFiles(data, "*.hex").Where(f => statistics == f.Contains("stats", StringComparison.Ordinal)))
        {
            foreach (string line in File.ReadLines(file).Where(l => l.Length > 0 && l[0] != '#' && !l.StartsWith("errno", StringComparison.Ordinal)))
            {
                yield return Convert.FromHexString(line.Trim());
            }
        }
    }

    public override void Run(byte[] input)
    {
        var transport = new ReplayTransport([Convert.ToHexString(input), Done]);
        using var client = new CtnetlinkClient(transport);
        try
        {
            if (statistics)
            {
                foreach (CpuCounters cpu in client.ReadCpuStatistics())
                {
                    _ = cpu.Values.Sum(v => v.Value);
                }
            }
            else
            {
                _ = client.DumpEntries(KernelFilter.None, (ref EntryRecord r) =>
                {
                    _ = new ConntrackEntry(ref r).Source;
                    return true;
                });
            }
        }
        catch (Exception e) when (e is NetlinkProtocolException or NetlinkErrnoException)
        {
        }
    }
}
