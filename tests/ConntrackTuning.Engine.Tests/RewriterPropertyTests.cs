using System;
using System.Collections.Generic;
using System.Linq;
using CsCheck;
using ConntrackTuning.Engine.Persistence;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// Properties of the persistence rewriters over generated files: rewriting twice equals rewriting once, every
/// line the rewrite does not own comes out byte for byte and in order, the value asked for is what the file then
/// sets, and input they cannot read fails only with the engine's own error.
/// </summary>
public class RewriterPropertyTests
{
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
