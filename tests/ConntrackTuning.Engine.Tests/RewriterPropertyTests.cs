using System;
using System.Collections.Generic;
using System.Linq;
using CsCheck;
using ConntrackTuning.Engine.Persistence;
using ConntrackTuning.Fuzz;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// Properties of the persistence rewriters over generated files: rewriting twice equals rewriting once, every
/// line the rewrite does not own comes out byte for byte and in order, the value asked for is what the file then
/// sets, and input they cannot read fails only with the engine's own error. The hostile generators (CRLF, a BOM,
/// tabs and form feeds, duplicate keys, includes, comments, continuations, binary junk, huge lines, any key and
/// value) feed the same oracle as the rewriter fuzz targets (<see cref="RewriterOracle"/>).
/// </summary>
public class RewriterPropertyTests
{
    private const int HostileIterations = 600;

    // Printable Latin-1 (the engine reads files one byte per char): UTF-8 read as Latin-1, "=", "#", "\\" and "\f".
    private static readonly Gen<string> Junk = Gen.String[Gen.Char["abcxyz019 \t=#;:,./\\-_\f\u00A0\u00C3\u00A9\u00EF\u00BB\u00BF\u00FF"], 0, 30];

    private static readonly Gen<string> Blank = Gen.OneOfConst("", " ", "\t", "  \t ", "\f", " \f ");

    private static readonly Gen<string> Ends = Gen.OneOfConst("\n", "\r\n", "\r\r\n");

    private static readonly Gen<string> Name = Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyz_0123456789"], 1, 10];

    private static readonly Gen<string> Number = Gen.Long[0, long.MaxValue].Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Lines joined with mixed terminators, perhaps a BOM first and no terminator last.</summary>
    private static Gen<string> Text(Gen<string> line) =>
        Gen.Select(Gen.Select(line, Ends).Array[0, 25], Gen.Bool, Gen.Bool, (lines, bom, lastEnding) =>
        {
            string text = string.Concat(lines.Select(l => l.Item1 + l.Item2));
            if (!lastEnding && text.EndsWith('\n'))
            {
                text = text.TrimEnd('\n').TrimEnd('\r');
            }

            return (bom ? ConfigLines.ByteOrderMark : "") + text;
        });

    /// <summary>
    /// Runs the oracle over a sample, and checks the generator reaches both outcomes often: a generator whose
    /// files are all refused (or never refused) would prove little.
    /// </summary>
    private static void Hostile<T>(Gen<T> gen, Func<T, string?> oracle)
    {
        int rewritten = 0, refused = 0;
        gen.Sample(x =>
        {
            if (oracle(x) is null)
            {
                System.Threading.Interlocked.Increment(ref refused);
            }
            else
            {
                System.Threading.Interlocked.Increment(ref rewritten);
            }
        }, iter: HostileIterations, threads: 1);
        // Over 30,000 samples each the rewritten share was 23 % (modules-load), 30 % and 39 %, refused the rest. A
        // floor of a tenth is over 7 standard deviations below the lowest of them at 600 samples; the old floor of a
        // fifth was under 2 and failed one CI run in about twenty.
        Assert.True(rewritten > HostileIterations / 10 && refused > HostileIterations / 10, $"{rewritten} rewritten, {refused} refused");
    }

    private static readonly Gen<SysctlSetting[]> SysctlSettings = Gen.Select(
        Gen.OneOf(
            Gen.OneOfConst(
                new SysctlSetting("net.netfilter.nf_conntrack_max", ["net.nf_conntrack_max", "net.ipv4.netfilter.ip_conntrack_max"], ""),
                new SysctlSetting("net.netfilter.nf_conntrack_buckets", [], ""),
                new SysctlSetting("net.ipv4.netfilter.ip_conntrack_tcp_timeout_established", [], "")),
            Gen.Select(Name.Array[1, 4], Name.Array[0, 2], (parts, aliases) =>
                new SysctlSetting("a." + string.Join('.', parts), aliases.Select(x => "b." + x).Distinct().ToArray(), ""))),
        Gen.OneOf(Number, Gen.OneOfConst("1024 65000", "0")),
        Gen.Bool, Name, Number,
        (first, value, two, name, value2) => two
            ? [first with { Value = value }, new SysctlSetting("c." + name, [], value2)]
            : new[] { first with { Value = value } });

    /// <summary>A sysctl.d line: comments, blanks, any key with odd spacing and the ignore prefix, the keys being set
    /// under every spelling (so duplicates), and what sysctl cannot read: includes, junk, binary, a CR inside.</summary>
    private static Gen<string> HostileSysctlLine(SysctlSetting[] settings)
    {
        Gen<string> key = Gen.OneOf(
            Gen.OneOfConst(settings.SelectMany(s => s.Aliases.Prepend(s.Key)).ToArray()),
            Gen.OneOfConst("kernel.sysrq", "net.ipv4.ip_forward", "vm.swappiness", "net.ipv4.conf.eth0/100.rp_filter"),
            Name.Array[1, 4].Select(p => string.Join('.', p)));
        Gen<string> assignment = Gen.Select(Gen.OneOfConst("", "-", " -", "  ", "\t"), key, Gen.Bool, Gen.OneOfConst("=", " = ", "\t=\t", " =", "= ", "  =  "),
            Gen.OneOf(Number, Junk, Gen.OneOfConst("", "1024 65000")), Blank,
            (prefix, k, slashes, eq, v, tail) => prefix + (slashes ? k.Replace('.', '/') : k) + eq + v.TrimStart(' ', '\t', '\f') + tail);
        return Gen.Frequency(
            (30, assignment),
            (10, Gen.Select(Gen.OneOfConst("#", ";", "  #", "\t;"), Junk, (c, t) => c + t)),
            (5, Blank),
            (1, Gen.OneOfConst("include /etc/sysctl.d/other.conf", ".include x", "[section]", "key value", "= 1", "a b = 1")),
            (1, Gen.String[Gen.Char["\u0000\u0001\u001b\u007f\u000b"], 1, 4].Select(b => "x = " + b)),
            (1, Gen.Select(key, Junk, (k, t) => k + " = 1\r" + t)),
            (2, Gen.Select(key, Gen.Int[5_000, 70_000], (k, n) => k + " = " + new string('9', n))),
            (2, Gen.Int[5_000, 70_000].Select(n => "#" + new string('x', n))));
    }

    [Fact]
    public void Sysctl_rewrite_of_hostile_files_and_any_key_keeps_every_promise() =>
        Hostile(SysctlSettings.SelectMany(settings => Text(HostileSysctlLine(settings)).Select(text => (settings, text))),
            x => RewriterOracle.Sysctl(x.text, x.settings));

    private static readonly Gen<(string Module, string Option, string Value)> ModuleOptionToSet = Gen.Select(
        Gen.OneOf(Gen.OneOfConst("nf_conntrack", "nf-conntrack", "ip_conntrack"), Name), Gen.OneOf(Gen.Const("hashsize"), Name), Number, (m, o, v) => (m, o, v));

    /// <summary>A modprobe.d line: every command (include, install with a shell line, softdep), comments (one
    /// continued), options of the module under both spellings with the option bare, duplicated or beside others,
    /// continuation lines, other modules with the same option, and what modprobe cannot read.</summary>
    private static Gen<string> HostileModprobeLine((string Module, string Option, string Value) set)
    {
        Gen<string> module = Gen.OneOf(Gen.OneOfConst(set.Module, set.Module.Replace('_', '-'), set.Module.Replace('-', '_')), Name);
        Gen<string> option = Gen.OneOf(
            Gen.Select(Gen.OneOfConst(set.Option, "acct", "tstamp", "expect_hashsize"), Gen.OneOf(Number, Gen.OneOfConst("", "1,2", "y")), (o, v) => o + "=" + v),
            Gen.OneOfConst(set.Option, "acct"));
        Gen<string> gap = Gen.OneOfConst(" ", "\t", "  ", " \t ");
        Gen<string> options = Gen.Select(module, Gen.Select(gap, option).Array[0, 5], Gen.OneOfConst("", " \\", "\\", " "),
            (m, o, tail) => "options " + m + string.Concat(o.Select(x => x.Item1 + x.Item2)) + tail);
        return Gen.Frequency(
            (30, options),
            (10, Gen.OneOfConst("alias eth0 e1000", "blacklist pcspkr", "install foo /sbin/modprobe --ignore-install foo && echo 1 > /x",
                "include /etc/modprobe.d/extra.conf", "softdep nf_conntrack pre: nf_defrag_ipv4", "remove foo /bin/true", "options bonding max_bonds=2")),
            (10, Gen.Select(Gen.OneOfConst("#", "# ", "\t#"), Junk, (c, t) => c + t)),
            (2, Gen.Const("# continued \\")),
            (5, Blank),
            (1, Gen.Select(module, m => $"options {m} {set.Option} = 5")),
            (1, Gen.OneOfConst("optoins nf_conntrack hashsize=1", "options", "hashsize=5 alone")),
            (1, Gen.Select(module, Junk, (m, t) => $"options {m} {set.Option}=5\r{t}")),
            (1, Gen.String[Gen.Char["\u0000\u0001\u001b\u007f"], 1, 4].Select(b => "alias x " + b)),
            (2, Gen.Select(module, Gen.Int[5_000, 70_000], (m, n) => $"options {m} {set.Option}={new string('9', n)}")));
    }

    [Fact]
    public void Modprobe_rewrite_of_hostile_files_and_any_option_keeps_every_promise() =>
        Hostile(ModuleOptionToSet.SelectMany(set => Text(HostileModprobeLine(set)).Select(text => (set, text))),
            x => RewriterOracle.Modprobe(x.text, x.set.Module, x.set.Option, x.set.Value));

    [Fact]
    public void Modules_load_rewrite_of_hostile_files_keeps_every_promise() =>
        Hostile(Gen.OneOf(Gen.OneOfConst("nf_conntrack", "nf-conntrack", "ip_conntrack"), Name).SelectMany(module =>
            Text(Gen.Frequency(
                (5, Gen.OneOf(Gen.OneOfConst(module, module.Replace('_', '-'), "br_netfilter", "overlay"), Name).SelectMany(m => Blank.Select(b => b + m + b))),
                (2, Gen.Select(Gen.OneOfConst("#", ";", " #"), Junk, (c, t) => c + t)),
                (2, Blank),
                (1, Gen.OneOfConst("two words", "nf_conntrack hashsize=1", "a\rb", "x\u0000")),
                (1, Gen.Int[5_000, 70_000].Select(n => new string('m', n)))))
            .Select(text => (module, text))),
            x => RewriterOracle.ModulesLoad(x.text, x.module));

    private static readonly SysctlSetting Max = new("net.netfilter.nf_conntrack_max", ["net.nf_conntrack_max"], "262144");

    private static readonly Gen<string> Ending = Gen.OneOfConst("\n", "\r\n");

    private static readonly Gen<string> Value = Gen.OneOf(Gen.Int[0, 9_999_999].Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), Gen.OneOfConst("", "yes", "1 2"));

    // Lines a real sysctl.conf holds: comments (with UTF-8 read as Latin-1), blanks, other keys, and the key itself
    // under its names and spellings.
    private static readonly Gen<string> SysctlLine = Gen.OneOf(
        Gen.String[Gen.Char["abc \t#;\u00E9\u00C3\u00A9"], 0, 20].Select(t => "#" + t),
        Gen.OneOfConst("", "   ", "\t"),
        Gen.Select(Gen.OneOfConst("kernel.sysrq", "net.ipv4.ip_forward", "net/ipv4/conf/all/rp_filter", "vm.swappiness"), Gen.OneOfConst("=", " = ", "\t=  "), Value, (k, eq, v) => k + eq + v),
        Gen.Select(Gen.OneOfConst("", "-", "  ", " -"), Gen.OneOfConst("net.netfilter.nf_conntrack_max", "net/netfilter/nf_conntrack_max", "net.nf_conntrack_max"),
            Gen.OneOfConst("=", " = ", " =", "=\t"), Value, Gen.OneOfConst("", " ", "\t"), (p, k, eq, v, t) => p + k + eq + v + t));

    private static readonly Gen<string> SysctlText =
        Gen.Select(Gen.Select(SysctlLine, Ending).Array[0, 12], Gen.Bool, Gen.Bool, (lines, bom, lastEnding) =>
        {
            string text = string.Concat(lines.Select(l => l.Item1 + l.Item2));
            if (!lastEnding && text.EndsWith('\n'))
            {
                text = text.TrimEnd('\n').TrimEnd('\r');
            }

            return (bom ? ConfigLines.ByteOrderMark : "") + text;
        });

    private static bool Owned(string content) =>
        SysctlFile.Parse(content.TrimStart('\u00EF', '\u00BB', '\u00BF') + "\n", "/x").Any(a => Max.Matches(a.Key));

    [Fact]
    public void Sysctl_rewrite_is_idempotent_and_keeps_every_other_line() =>
        SysctlText.Sample(text =>
        {
            string once = SysctlFile.Set(text, [Max], "/x");
            Assert.Equal(once, SysctlFile.Set(once, [Max], "/x"));

            List<ConfigLine> before = ConfigLines.Split(text);
            List<ConfigLine> after = ConfigLines.Split(once);
            Assert.True(after.Count == before.Count || after.Count == before.Count + 1);
            for (int i = 0; i < before.Count; i++)
            {
                bool owned = Owned(before[i].Content);
                if (!owned)
                {
                    Assert.Equal(before[i].Content, after[i].Content);
                }

                // A terminator is only ever added, to a last line that had none, when a line is appended.
                Assert.True(after[i].Ending == before[i].Ending || (i == before.Count - 1 && before[i].Ending.Length == 0 && after.Count > before.Count));
            }

            // Whatever the file held, every assignment of the variable now says the value asked for.
            IReadOnlyList<SysctlAssignment> assignments = SysctlFile.Parse(once, "/x");
            Assert.Contains(assignments, a => Max.Matches(a.Key));
            Assert.All(assignments.Where(a => Max.Matches(a.Key)), a => Assert.Equal("262144", a.Value));
        });

    [Fact]
    public void Sysctl_rewrite_of_any_text_succeeds_or_fails_with_PersistenceFileInvalid() =>
        Gen.String.Sample(text =>
        {
            try
            {
                string once = SysctlFile.Set(text, [Max], "/x");
                Assert.Equal(once, SysctlFile.Set(once, [Max], "/x"));
            }
            catch (ConntrackException e)
            {
                Assert.Equal(ErrorIds.PersistenceFileInvalid, e.ErrorId);
            }
        });

    private static readonly Gen<string> ModprobeLine = Gen.OneOf(
        Gen.OneOfConst("# comment", "", "alias eth0 e1000", "blacklist pcspkr", "install foo /bin/true", "options bonding max_bonds=2"),
        Gen.Select(Gen.OneOfConst("nf_conntrack", "nf-conntrack", "ip_conntrack"), Gen.OneOfConst("", " acct=1", " hashsize=1024", " acct=1 hashsize=5 tstamp=1", " hashsize=1 hashsize=2"),
            Gen.OneOfConst("", " ", "\t"), (m, o, t) => $"options {m}{o}{t}"));

    [Fact]
    public void Modprobe_rewrite_is_idempotent_and_keeps_lines_of_other_modules() =>
        Gen.Select(ModprobeLine, Ending).Array[0, 10].Sample(lines =>
        {
            string text = string.Concat(lines.Select(l => l.Item1 + l.Item2));
            string once = ModprobeFile.Set(text, "nf_conntrack", "hashsize", "65536", "/x");
            Assert.Equal(once, ModprobeFile.Set(once, "nf_conntrack", "hashsize", "65536", "/x"));
            List<ConfigLine> before = ConfigLines.Split(text);
            List<ConfigLine> after = ConfigLines.Split(once);
            for (int i = 0; i < before.Count; i++)
            {
                if (!before[i].Content.Replace('-', '_').StartsWith("options nf_conntrack", StringComparison.Ordinal))
                {
                    Assert.Equal(before[i], after[i]);
                }
            }

            IReadOnlyList<ModuleOption> options = ModprobeFile.Parse(once, "/x").Where(o => o.Module == "nf_conntrack" && o.Name == "hashsize").ToList();
            Assert.NotEmpty(options);
            Assert.All(options, o => Assert.Equal("65536", o.Value));
            // Other options of the module survive.
            int acctBefore = ModprobeFile.Parse(text, "/x").Count(o => o.Module == "nf_conntrack" && o.Name != "hashsize");
            Assert.Equal(acctBefore, ModprobeFile.Parse(once, "/x").Count(o => o.Module == "nf_conntrack" && o.Name != "hashsize"));
        });

    [Fact]
    public void Modules_load_rewrite_is_idempotent_and_only_appends() =>
        Gen.Select(Gen.OneOfConst("# list", "", "br_netfilter", "nf_conntrack", "nf-conntrack", "overlay"), Ending).Array[0, 8].Sample(lines =>
        {
            string text = string.Concat(lines.Select(l => l.Item1 + l.Item2));
            string once = ModulesLoadFile.Ensure(text, "nf_conntrack", "/x");
            Assert.Equal(once, ModulesLoadFile.Ensure(once, "nf_conntrack", "/x"));
            Assert.StartsWith(text, once, StringComparison.Ordinal);
            Assert.Contains("nf_conntrack", ModulesLoadFile.Parse(once, "/x"));
        });
}
