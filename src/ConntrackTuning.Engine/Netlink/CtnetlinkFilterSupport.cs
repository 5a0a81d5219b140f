using ConntrackTuning.Engine.Kernel;

namespace ConntrackTuning.Engine.Netlink;

/// <summary>
/// Which dump filters each kernel applies (CTNETLINK.md §9), as data. A kernel older than a row ignores that
/// attribute and returns everything, so the engine only sends what the kernel honours and checks every entry
/// itself anyway. Unknown versions get the filters every ctnetlink kernel knows.
/// </summary>
internal static class CtnetlinkFilterSupport
{
    internal sealed record Row(string Filter, KernelVersion Since, string Note, KernelVersion? MaskBrokenFrom = null, KernelVersion? MaskBrokenUntil = null);

    public static IReadOnlyList<Row> Rows { get; } =
    [
        new("family", new(2, 6, 14), "nfgen_family, since ctnetlink began"),
        new("mark", new(3, 4), "CTA_MARK + CTA_MARK_MASK; with a partial mask 5.8 and 5.9 could skip matching entries (fixed Sept 2020)",
            MaskBrokenFrom: new(5, 8), MaskBrokenUntil: new(5, 10)),
        new("status", new(5, 15), "CTA_STATUS + CTA_STATUS_MASK (commit 9344988d2979)"),
        new("zone", new(6, 8), "CTA_ZONE (commit eff3c558bb7e; zone 0 fixed in 6.8-rc4)"),
        new("tuple", new(5, 8), "CTA_FILTER with original-tuple fields (commit cb8aa9a3affb); IPv4 addresses only, IPv6 address matching is inverted in 6.18"),
    ];

    public static bool Allows(string filter, KernelVersion? version, bool fullMask = true)
    {
        Row row = Rows.First(r => r.Filter == filter);
        if (version is not { } v)
        {
            return filter is "family" or "mark" && fullMask;
        }

        if (v < row.Since)
        {
            return false;
        }

        return fullMask || row.MaskBrokenFrom is not { } from || v < from || v >= row.MaskBrokenUntil!.Value;
    }
}
