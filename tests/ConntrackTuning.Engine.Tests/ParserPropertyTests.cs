using System;
using System.Globalization;
using CsCheck;
using Xunit;

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
}
