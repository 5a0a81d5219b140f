using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace ConntrackTuning.Fuzz;

/// <summary>
/// Byte-level mutations in the spirit of AFL's havoc stage, plus tokens the kernel's text formats are made
/// of, so mutants stay close enough to the formats to reach deep into the parsers.
/// </summary>
public sealed class Mutator
{
    private static readonly byte[][] Tokens =
    [
        .. new[]
        {
            " ", "  ", "\t", "\n", "\r\n", "=", " = ", ":", ";", ",", ".", "-", "[", "]", "(", ")", "0", "1", "-1",
            "00000000", "ffffffff", "4294967295", "18446744073709551615", "99999999999999999999", "0x", "kB",
            "src=", "dst=", "sport=", "dport=", "[UNREPLIED]", "[ASSURED]", "EXPECTING:", "entries", "net.netfilter.",
            "nf_conntrack", "ip_conntrack", "table full", "callbacks suppressed", "\u00e9", "\ufeff",
            // sysctl.d, modprobe.d and modules-load.d: comments, the ignore prefix, continuations, commands, keys.
            "\r", "#", "; ", "-", "\\\n", "/", "options ", "options nf_conntrack ", "hashsize=", "hashsize", "include ",
            "net.netfilter.nf_conntrack_max", "net/netfilter/nf_conntrack_max", "net.nf_conntrack_max", "_timeout", "MemTotal:",
        }.Select(Encoding.UTF8.GetBytes),
        [0x00], [0xff], [0xc3], [0x80, 0x80],
    ];

    private readonly Random _random;

    public Mutator(int seed) => _random = new Random(seed);

    public int Next(int max) => _random.Next(max);

    public byte[] Mutate(byte[] input, IReadOnlyList<byte[]> corpus)
    {
        var data = new List<byte>(input);
        int rounds = 1 << _random.Next(4);
        for (int i = 0; i < rounds; i++)
        {
            int at = data.Count == 0 ? 0 : _random.Next(data.Count + 1);
            switch (_random.Next(9))
            {
                case 0 when data.Count > 0:
                    data[Math.Min(at, data.Count - 1)] ^= (byte)(1 << _random.Next(8));
                    break;
                case 1 when data.Count > 0:
                    data[Math.Min(at, data.Count - 1)] = (byte)_random.Next(256);
                    break;
                case 2:
                    data.InsertRange(at, Tokens[_random.Next(Tokens.Length)]);
                    break;
                case 3 when data.Count > 0:
                    int len = _random.Next(1, Math.Min(64, data.Count - Math.Min(at, data.Count - 1)) + 1);
                    data.RemoveRange(Math.Min(at, data.Count - 1), Math.Min(len, data.Count - Math.Min(at, data.Count - 1)));
                    break;
                case 4 when data.Count > 0:
                    int start = _random.Next(data.Count);
                    int count = _random.Next(1, Math.Min(256, data.Count - start) + 1);
                    data.InsertRange(at, data.GetRange(start, count));
                    break;
                case 5 when corpus.Count > 0:
                    byte[] other = corpus[_random.Next(corpus.Count)];
                    if (other.Length > 0)
                    {
                        int from = _random.Next(other.Length);
                        data.InsertRange(at, new ArraySegment<byte>(other, from, _random.Next(1, other.Length - from + 1)));
                    }

                    break;
                case 6:
                    data.RemoveRange(Math.Min(at, data.Count), data.Count - Math.Min(at, data.Count));
                    break;
                case 7:
                    // Long runs: a huge line or a huge number.
                    byte fill = _random.Next(2) == 0 ? (byte)'9' : (byte)'A';
                    data.InsertRange(at, Enumerable.Repeat(fill, _random.Next(1, 70_000)));
                    break;
                default:
                    byte[] junk = new byte[_random.Next(1, 32)];
                    _random.NextBytes(junk);
                    data.InsertRange(at, junk);
                    break;
            }
        }

        return data.ToArray();
    }
}
