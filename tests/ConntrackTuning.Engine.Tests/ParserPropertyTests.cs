using System;
using System.Globalization;
using System.Linq;
using System.Text;
using CsCheck;
using ConntrackTuning.Engine.Entries;
using Xunit;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Platform;
using ConntrackTuning.Engine.Sizing;
using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// Properties of the number and version parsers over generated input: they never throw anything but the
/// engine's own errors, and what they print they read back unchanged.
/// </summary>
public class ParserPropertyTests
{
    private static readonly Gen<string> AnyText = Gen.OneOf(
        Gen.String,
        Gen.String[Gen.Char["0123456789.-_ \t\nvx"], 0, 40],
        Gen.Char.Array[0, 64].Select(c => new string(c)));

    [Fact]
    public void Version_parser_never_throws() =>
        AnyText.Sample(s => { _ = KernelVersion.TryParse(s, out _); });

    [Fact]
    public void Version_parse_fails_only_with_InvalidKernelVersion() =>
        AnyText.Sample(s =>
        {
            try
            {
                _ = KernelVersion.Parse(s);
            }
            catch (ConntrackException e)
            {
                Assert.Equal(ErrorIds.InvalidKernelVersion, e.ErrorId);
            }
        });

    [Fact]
    public void Version_round_trips_what_it_prints() =>
        Gen.Select(Gen.Int[0, 999_999], Gen.Int[0, 999_999], Gen.Int[0, 999_999], Gen.Int[0, 999_999])
            .Sample((a, b, c, d) =>
            {
                var v = new KernelVersion(a, b, c, d);
                Assert.True(KernelVersion.TryParse(v.ToString(), out KernelVersion back));
                Assert.Equal(v, back);
            });

    [Fact]
    public void Vendor_suffixes_do_not_change_the_version() =>
        Gen.Select(Gen.Int[2, 6], Gen.Int[0, 20], Gen.Int[0, 300], Gen.String[Gen.Char["abcdefgh_0123456789.-"], 0, 20])
            .Sample((a, b, c, suffix) =>
            {
                Assert.True(KernelVersion.TryParse($"{a}.{b}.{c}-{suffix}", out KernelVersion v));
                Assert.Equal(new KernelVersion(a, b, c), v);
            });

    [Fact]
    public void Value_files_give_a_number_or_an_engine_error() =>
        AnyText.Sample(s =>
        {
            try
            {
                _ = SystemRoot.ParseValueFile(s, "/x");
            }
            catch (ConntrackException e)
            {
                Assert.True(e.ErrorId is ErrorIds.ValueFileEmpty or ErrorIds.ValueFileNotNumeric, e.ErrorId);
            }
        });

    [Fact]
    public void Value_files_round_trip_every_long() =>
        Gen.Long.Sample(n => Assert.Equal(n, SystemRoot.ParseValueFile(n.ToString(CultureInfo.InvariantCulture) + "\n", "/x")));

    [Fact]
    public void Startup_line_parser_never_throws() =>
        Gen.OneOf(AnyText, AnyText.Select(s => "ip_conntrack version 2.1 (" + s + " buckets, 5 max) - 3 bytes per conntrack"))
            .Sample(s => { _ = StartupLine.TryParse(s, "gen"); });

    // Digits that are not ASCII, signs, separators and white space a culture-aware parser would take.
    private static readonly Gen<string> Numberish = Gen.String[Gen.Char["0123456789-+., \t\n\u00A0\u0660\u0661\u06F1\uFF11\u2212e"], 0, 30];

    [Fact]
    public void Version_parser_reads_only_ASCII_digits() =>
        Numberish.Sample(s =>
        {
            if (KernelVersion.TryParse(s, out KernelVersion v))
            {
                Assert.True(KernelVersion.TryParse(v.ToString(), out KernelVersion back) && back == v);
                string t = s.Trim().TrimStart('v', 'V');
                string major = new(t.TakeWhile(char.IsAsciiDigit).ToArray());
                Assert.Equal(int.Parse(major, CultureInfo.InvariantCulture), v.Major);
                Assert.True(t.Length > major.Length + 1 && t[major.Length] == '.' && char.IsAsciiDigit(t[major.Length + 1]));
            }
        }, iter: 2000);

    [Fact]
    public void Value_files_read_only_ASCII_numbers() =>
        Numberish.Sample(s =>
        {
            try
            {
                long n = SystemRoot.ParseValueFile(s, "/x");
                Assert.Matches("^[+-]?[0-9]+$", s.Trim());
                Assert.Equal(long.Parse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture), n);
            }
            catch (ConntrackException e)
            {
                Assert.True(e.ErrorId is ErrorIds.ValueFileEmpty or ErrorIds.ValueFileNotNumeric, e.ErrorId);
            }
        }, iter: 2000);

    [Fact]
    public void Table_numbers_never_throw_and_round_trip_every_ulong()
    {
        Gen.Byte.Array[0, 30].Sample(b => { _ = EntryTokens.TryNumber(b, out _); });
        Gen.ULong.Sample(n =>
        {
            Assert.True(EntryTokens.TryNumber(Encoding.ASCII.GetBytes(n.ToString(CultureInfo.InvariantCulture)), out ulong back));
            Assert.Equal(n, back);
        });
        Assert.False(EntryTokens.TryNumber("18446744073709551616"u8, out _));
    }

    /// <summary>CPU lists as the kernel prints them ("0-3,8,10-11"), with ranges up to the largest int.</summary>
    private static readonly Gen<(int First, int Last)[]> CpuRanges =
        Gen.Select(Gen.OneOf(Gen.Int[0, 300], Gen.Int[int.MaxValue - 300, int.MaxValue]), Gen.Int[0, 40], (first, length) => (first, (int)Math.Min(int.MaxValue, (long)first + length)))
            .Array[1, 6];

    [Fact]
    public void Cpu_lists_never_throw_and_read_back_what_they_print()
    {
        Gen.OneOf(Gen.String, Numberish, CpuRanges.Select(r => string.Join(",", r.Select(x => $"{x.First}-{x.Last}")))).Sample(s => { _ = ProcStatParser.ParseCpuList(s); });
        CpuRanges.Sample(ranges =>
        {
            string text = string.Join(",", ranges.Select(r => r.First == r.Last ? r.First.ToString(CultureInfo.InvariantCulture) : $"{r.First}-{r.Last}"));
            int[] expected = ranges.SelectMany(r => Enumerable.Range(r.First, r.Last - r.First + 1)).ToArray();
            Assert.Equal(expected, ProcStatParser.ParseCpuList(text + "\n"));
        });
    }

    [Fact]
    public async System.Threading.Tasks.Task A_cpu_list_ending_at_the_largest_int_ends()
    {
        // Found by the property above: the int loop counter wrapped at int.MaxValue and the parse never returned.
        var parse = System.Threading.Tasks.Task.Run(() => ProcStatParser.ParseCpuList("2147483646-2147483647"));
        Assert.Same(parse, await System.Threading.Tasks.Task.WhenAny(parse, System.Threading.Tasks.Task.Delay(TimeSpan.FromSeconds(30))));
        Assert.Equal([int.MaxValue - 1, int.MaxValue], await parse);
    }
}
