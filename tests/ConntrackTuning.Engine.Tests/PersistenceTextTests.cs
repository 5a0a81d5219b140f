using System.Collections.Generic;
using System.Linq;
using ConntrackTuning.Engine.Persistence;
using Xunit;
using ConntrackTuning.Engine.Platform;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// The rewriters are pure functions over text. Each case checks the exact output, that every line the rewrite
/// does not own survives byte for byte, and that rewriting the output again changes nothing.
/// </summary>
public class PersistenceTextTests
{
    private const string Path = "/etc/sysctl.conf";

    private static readonly SysctlSetting Max = new("net.netfilter.nf_conntrack_max",
        ["net.nf_conntrack_max", "net.ipv4.netfilter.ip_conntrack_max"], "262144");

    private static string SetMax(string? text) => SysctlFile.Set(text, [Max], Path);

    private static void AssertIdempotent(string once, System.Func<string, string> rewrite) => Assert.Equal(once, rewrite(once));

    [Fact]
    public void A_missing_key_is_appended_and_every_other_byte_kept()
    {
        string text = "# comment with UTF-8 \u00E9\u00E8\nkernel.sysrq = 0\n";
        string once = SetMax(text);
        Assert.Equal(text + "net.netfilter.nf_conntrack_max = 262144\n", once);
        AssertIdempotent(once, SetMax);
    }

    [Theory]
    [InlineData("net.netfilter.nf_conntrack_max=65536\n", "net.netfilter.nf_conntrack_max=262144\n")]
    [InlineData("net.netfilter.nf_conntrack_max = 65536\n", "net.netfilter.nf_conntrack_max = 262144\n")]
    [InlineData("  net.netfilter.nf_conntrack_max\t=\t65536   \n", "  net.netfilter.nf_conntrack_max\t=\t262144   \n")]
    [InlineData("-net.netfilter.nf_conntrack_max = 65536\n", "-net.netfilter.nf_conntrack_max = 262144\n")]
    [InlineData("net/netfilter/nf_conntrack_max = 65536\n", "net/netfilter/nf_conntrack_max = 262144\n")]
    [InlineData("net.netfilter.nf_conntrack_max =\n", "net.netfilter.nf_conntrack_max =262144\n")]
    [InlineData("net.nf_conntrack_max = 65536\n", "net.nf_conntrack_max = 262144\n")]
    public void A_matching_line_gets_only_its_value_replaced(string text, string expected)
    {
        string once = SetMax(text);
        Assert.Equal(expected, once);
        AssertIdempotent(once, SetMax);
    }

    [Fact]
    public void Every_duplicate_and_every_alias_of_the_variable_is_updated_so_none_sets_it_back_at_boot()
    {
        // The seed's CentOS 6 note sets both names; sysctl applies every line in order, so each must agree.
        string text = "net.netfilter.nf_conntrack_max = 655360\n# keep\nnet.nf_conntrack_max = 655360\nnet.netfilter.nf_conntrack_max=1\n";
        string once = SetMax(text);
        Assert.Equal("net.netfilter.nf_conntrack_max = 262144\n# keep\nnet.nf_conntrack_max = 262144\nnet.netfilter.nf_conntrack_max=262144\n", once);
        AssertIdempotent(once, SetMax);
    }

    [Fact]
    public void Commented_out_keys_stay_comments()
    {
        string text = "#net.netfilter.nf_conntrack_max = 1\n; net.netfilter.nf_conntrack_max = 2\n";
        Assert.Equal(text + "net.netfilter.nf_conntrack_max = 262144\n", SetMax(text));
    }

    [Fact]
    public void CRLF_files_keep_CRLF_and_new_lines_get_it()
    {
        string text = "kernel.sysrq = 0\r\nnet.ipv4.ip_forward = 1\r\n";
        string once = SetMax(text);
        Assert.Equal(text + "net.netfilter.nf_conntrack_max = 262144\r\n", once);
        Assert.Equal("net.netfilter.nf_conntrack_max = 262144\r\n", SetMax("net.netfilter.nf_conntrack_max = 1\r\n"));
        AssertIdempotent(once, SetMax);
    }

    [Fact]
    public void A_byte_order_mark_and_a_last_line_without_newline_are_handled()
    {
        string bom = ConfigLines.ByteOrderMark;
        Assert.Equal(bom + "net.netfilter.nf_conntrack_max = 262144", SetMax(bom + "net.netfilter.nf_conntrack_max = 1"));
        // The only change to a foreign line: a last line without terminator gets one, or the new key would be glued on.
        Assert.Equal("kernel.sysrq = 0\nnet.netfilter.nf_conntrack_max = 262144\n", SetMax("kernel.sysrq = 0"));
    }

    [Fact]
    public void A_new_file_starts_with_the_header()
    {
        string once = SysctlFile.Set(null, [Max], Path, "# header\n");
        Assert.Equal("# header\nnet.netfilter.nf_conntrack_max = 262144\n", once);
    }

    [Theory]
    [InlineData("just words\n", 1)]
    [InlineData("kernel.sysrq = 0\n= 5\n", 2)]
    [InlineData("a b = 1\n", 1)]
    [InlineData("kernel.sysrq = 0\n\u0000\u0001\u0002\n", 2)]
    public void Garbage_is_an_error_naming_the_file_and_line(string text, int line)
    {
        ConntrackException e = Assert.Throws<ConntrackException>(() => SetMax(text));
        Assert.Equal(ErrorIds.PersistenceFileInvalid, e.ErrorId);
        Assert.Equal(ErrorKind.InvalidData, e.Kind);
        Assert.Equal(Path, e.Target);
        Assert.Contains($"line {line}", e.Message, System.StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("net/netfilter/nf_conntrack_max", "net.netfilter.nf_conntrack_max")]
    [InlineData("net.netfilter.nf_conntrack_max", "net.netfilter.nf_conntrack_max")]
    [InlineData("net/ipv4/conf/eth0.100/rp_filter", "net.ipv4.conf.eth0/100.rp_filter")]
    public void Keys_written_with_slashes_normalise_as_sysctl_does(string key, string expected) =>
        Assert.Equal(expected, SysctlFile.NormalizeKey(key));

    [Fact]
    public void Parse_reports_assignments_with_line_numbers_and_the_ignore_prefix()
    {
        IReadOnlyList<SysctlAssignment> a = SysctlFile.Parse("# c\n-net/netfilter/nf_conntrack_max = 5\n\nkernel.sysrq=1\n", Path);
        Assert.Equal([new SysctlAssignment(2, "net.netfilter.nf_conntrack_max", "5", true), new SysctlAssignment(4, "kernel.sysrq", "1", false)], a);
    }

    // ---- modprobe.d -------------------------------------------------------------------------------------------

    private static string SetHash(string? text, string module = "nf_conntrack") => ModprobeFile.Set(text, module, "hashsize", "65536", "/etc/modprobe.d/x.conf");

    [Theory]
    [InlineData("options nf_conntrack hashsize=1024\n", "options nf_conntrack hashsize=65536\n")]
    [InlineData("options nf_conntrack acct=1 hashsize=1024 tstamp=1\n", "options nf_conntrack acct=1 hashsize=65536 tstamp=1\n")]
    [InlineData("options nf_conntrack acct=1\n", "options nf_conntrack acct=1 hashsize=65536\n")]
    [InlineData("options nf-conntrack acct=1  \n", "options nf-conntrack acct=1 hashsize=65536  \n")]
    [InlineData("alias eth0 e1000\n", "alias eth0 e1000\noptions nf_conntrack hashsize=65536\n")]
    [InlineData("# options nf_conntrack hashsize=1\n", "# options nf_conntrack hashsize=1\noptions nf_conntrack hashsize=65536\n")]
    [InlineData("options nf_conntrack \\\n  hashsize=1 acct=1\r\n", "options nf_conntrack \\\n  hashsize=65536 acct=1\r\n")]
    [InlineData("options ip_conntrack hashsize=1\n", "options ip_conntrack hashsize=1\noptions nf_conntrack hashsize=65536\n")]
    public void Module_options_change_in_place_and_keep_the_rest(string text, string expected)
    {
        string once = SetHash(text);
        Assert.Equal(expected, once);
        Assert.Equal(once, SetHash(once));
    }

    [Theory]
    [InlineData("options nf_conntrack hashsize\n", "options nf_conntrack hashsize=65536\n")]
    [InlineData("options nf_conntrack acct=1 hashsize tstamp=1\n", "options nf_conntrack acct=1 hashsize=65536 tstamp=1\n")]
    [InlineData("options nf_conntrack hashsize hashsize=5\n", "options nf_conntrack hashsize=65536 hashsize=65536\n")]
    public void A_bare_option_name_the_kernel_would_refuse_gets_the_value(string text, string expected)
    {
        // Found by the modprobe-rewrite fuzz target: "hashsize" without "=" fails the module load ("invalid for
        // parameter"), and a second, valid "hashsize=N" after it did not help.
        string once = SetHash(text);
        Assert.Equal(expected, once);
        Assert.Equal(once, SetHash(once));
    }

    [Theory]
    [InlineData("options foo bar=1 \\\n", "options foo bar=1 \\\n\noptions nf_conntrack hashsize=65536\n")]
    [InlineData("# disabled: \\", "# disabled: \\\n\noptions nf_conntrack hashsize=65536\n")]
    [InlineData("options foo bar=1 \\\r\n", "options foo bar=1 \\\r\n\r\noptions nf_conntrack hashsize=65536\r\n")]
    public void A_line_appended_after_a_continued_last_line_is_not_swallowed_by_it(string text, string expected)
    {
        // Found by the modprobe-rewrite fuzz target: modprobe joins a line ending in a backslash with the next, so
        // the new options line became parameters of the module above, or part of a comment.
        string once = SetHash(text);
        Assert.Equal(expected, once);
        Assert.Equal(once, SetHash(once));
        Assert.Contains(ModprobeFile.Parse(once, "/x"), o => o is { Module: "nf_conntrack", Name: "hashsize", Value: "65536" });
    }

    [Theory]
    [InlineData("net.netfilter.nf_conntrack_max = 1\rkernel.sysrq = 1\n")]
    [InlineData("# note\rnet.netfilter.nf_conntrack_max = 1\n")]
    public void A_carriage_return_inside_a_sysctl_line_is_refused(string text)
    {
        // systemd-sysctl ends a line at a lone CR, procps does not: replacing the value "1\rkernel.sysrq = 1" would
        // delete the second setting as systemd reads the file, and the comment hides a key from one of them.
        ConntrackException e = Assert.Throws<ConntrackException>(() => SetMax(text));
        Assert.Equal(ErrorIds.PersistenceFileInvalid, e.ErrorId);
        Assert.Contains("carriage return", e.Message, System.StringComparison.Ordinal);
    }

    [Fact]
    public void A_carriage_return_inside_module_options_is_refused_but_CRLF_and_a_stray_CR_at_the_end_are_not()
    {
        // The kernel splits parameters at any white space, CR included; kmod does not.
        ConntrackException e = Assert.Throws<ConntrackException>(() => SetHash("options nf_conntrack hashsize=5\racct=1\n"));
        Assert.Equal(ErrorIds.PersistenceFileInvalid, e.ErrorId);
        Assert.Equal("options nf_conntrack hashsize=65536\r\r\n", SetHash("options nf_conntrack hashsize=5\r\r\n"));
        Assert.Equal("br_netfilter \r\nnf_conntrack\r\n", ModulesLoadFile.Ensure("br_netfilter \r\n", "nf_conntrack", "/x"));
        Assert.Throws<ConntrackException>(() => ModulesLoadFile.Ensure("br_netfilter\roverlay\n", "nf_conntrack", "/x"));
    }

    [Fact]
    public void Old_kernels_use_the_ip_conntrack_module_name()
    {
        Assert.Equal("alias eth0 e1000\noptions ip_conntrack hashsize=65536\n", SetHash("alias eth0 e1000\n", "ip_conntrack"));
    }

    [Theory]
    [InlineData("options nf_conntrack hashsize = 262144\n", "space around '='")]
    [InlineData("options nf_conntrack hashsize= 262144\n", "space around '='")]
    [InlineData("optoins nf_conntrack hashsize=1\n", "not a modprobe command")]
    [InlineData("options\n", "without a module name")]
    [InlineData("options nf_conntrack hashsize=1\n\u0000\n", "binary data")]
    public void Broken_modprobe_files_are_errors_naming_them(string text, string why)
    {
        ConntrackException e = Assert.Throws<ConntrackException>(() => SetHash(text));
        Assert.Equal(ErrorIds.PersistenceFileInvalid, e.ErrorId);
        Assert.Contains(why, e.Message, System.StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_lists_options_with_normalised_module_names()
    {
        IReadOnlyList<ModuleOption> o = ModprobeFile.Parse("options nf-conntrack hashsize=5 acct\n", "/x");
        Assert.Equal([new ModuleOption(1, "nf_conntrack", "hashsize", "5"), new ModuleOption(1, "nf_conntrack", "acct", "")], o);
    }

    // ---- modules-load.d ---------------------------------------------------------------------------------------

    [Theory]
    [InlineData(null, "# h\nnf_conntrack\n")]
    [InlineData("", "nf_conntrack\n")]
    [InlineData("# list\r\nbr_netfilter\r\n", "# list\r\nbr_netfilter\r\nnf_conntrack\r\n")]
    [InlineData("nf-conntrack\n", "nf-conntrack\n")]
    [InlineData("  nf_conntrack  \n", "  nf_conntrack  \n")]
    [InlineData("#nf_conntrack\n", "#nf_conntrack\nnf_conntrack\n")]
    public void The_module_is_listed_once(string? text, string expected)
    {
        string once = ModulesLoadFile.Ensure(text, "nf_conntrack", "/etc/modules-load.d/x.conf", "# h\n");
        Assert.Equal(expected, once);
        Assert.Equal(once, ModulesLoadFile.Ensure(once, "nf_conntrack", "/x"));
    }

    [Fact]
    public void A_modules_load_line_with_two_words_is_garbage()
    {
        ConntrackException e = Assert.Throws<ConntrackException>(() => ModulesLoadFile.Ensure("nf_conntrack hashsize=1\n", "nf_conntrack", "/x"));
        Assert.Equal(ErrorIds.PersistenceFileInvalid, e.ErrorId);
    }

    [Fact]
    public void Lines_round_trip_exactly()
    {
        foreach (string text in new[] { "", "a", "a\n", "a\r\n\r\n", "\n\n", "x\r\ny\nz", "a\rb\n" })
        {
            Assert.Equal(text, ConfigLines.Join(ConfigLines.Split(text)));
        }
    }

    [Fact]
    public void Non_UTF8_bytes_survive_a_rewrite_byte_for_byte()
    {
        byte[] bytes = [0x23, 0x20, 0xC3, 0x28, 0xFF, 0xFE, 0x0A, (byte)'a', (byte)'=', (byte)'1', 0x0A];
        string text = SystemRoot.ConfigEncoding.GetString(bytes);
        byte[] after = SystemRoot.ConfigEncoding.GetBytes(SetMax(text));
        Assert.Equal(bytes, after.Take(bytes.Length).ToArray());
    }
}
