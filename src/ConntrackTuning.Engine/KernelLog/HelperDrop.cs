namespace ConntrackTuning.Engine.KernelLog;

/// <summary>
/// A conntrack helper's own drop message. Since 3.8 helpers report a packet they drop through nf_ct_helper_log,
/// which logs through the netfilter logger (so only where one is bound, as with nf_log_syslog) as
/// "nf_ct_&lt;helper&gt;: dropping packet: &lt;reason&gt; IN=... OUT=..." (nf_conntrack_helper.c), for example
/// nf_conntrack_sip.c's "cannot add expectation for voice", "cannot parse SDP message" or "cannot add
/// expectation", nf_conntrack_ftp.c's "cannot add expectation" and "partial matching of `PORT '", and
/// nf_conntrack_h323_main.c's "cannot add expectation" (the usual cause: the expectation table is full).
/// </summary>
internal static class HelperDrop
{
    private const string Prefix = "nf_ct_";
    private const string Dropping = ": dropping packet: ";

    public static bool TryMatch(ReadOnlySpan<char> text, out string tracker, out string kind)
    {
        tracker = kind = "";
        for (int at = text.IndexOf(Prefix, StringComparison.Ordinal); at >= 0;)
        {
            // A word of its own: the start of the message or after a space or bracket.
            bool start = at == 0 || text[at - 1] is ' ' or ']' or ':';
            ReadOnlySpan<char> rest = text[(at + Prefix.Length)..];
            int name = 0;
            while (name < rest.Length && name < 32 && (char.IsAsciiLetterOrDigit(rest[name]) || rest[name] is '_' or '-'))
            {
                name++;
            }

            if (start && name > 0 && rest[name..].StartsWith(Dropping, StringComparison.Ordinal))
            {
                (tracker, kind) = ("nf_conntrack", "HelperDrop");
                return true;
            }

            int next = text[(at + 1)..].IndexOf(Prefix, StringComparison.Ordinal);
            at = next < 0 ? -1 : at + 1 + next;
        }

        return false;
    }
}
