using ConntrackTuning.Engine.Entries;

namespace ConntrackTuning.Engine.Removal;

/// <summary>
/// The largest groups of what a removal would delete, for the question Remove-ConntrackEntry asks before it
/// deletes (and for -WhatIf): by protocol, destination and destination port, and for piped entries by the
/// network namespace each is deleted in.
/// </summary>
internal static class RemovalPreview
{
    /// <summary>How many of each kind of group the question names.</summary>
    public const int GroupsShown = 3;

    public static string Groups(ConntrackSummary s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var parts = new List<string>();
        parts.AddRange(s.ByProtocol.Take(GroupsShown).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Protocol} {p.Count}")));
        parts.AddRange(s.TopDestinations.Take(GroupsShown).Select(d => string.Create(CultureInfo.InvariantCulture, $"to {d.Destination} {d.Count}")));
        parts.AddRange(s.TopDestinationPorts.Take(GroupsShown).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Protocol} port {p.DestinationPort} {p.Count}")));
        return string.Join(", ", parts);
    }

    public static string Groups(IReadOnlyCollection<ConntrackEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        static IEnumerable<string> Top<T>(IEnumerable<T> items, Func<T, string> key) =>
            items.GroupBy(key).OrderByDescending(g => g.Count()).Take(GroupsShown).Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Key} {g.Count()}"));
        // Entries of other namespaces are deleted there, which the question must say: "netns 4026532301 12".
        IEnumerable<string> namespaces = entries.Any(e => e.NetworkNamespace is not null)
            ? Top(entries, e => "netns " + (e.NetworkNamespace ?? "(this process's own)"))
            : [];
        return string.Join(", ", namespaces
            .Concat(Top(entries, e => e.Protocol))
            .Concat(Top(entries, e => "to " + e.Destination))
            .Concat(Top(entries.Where(e => e.DestinationPort is not null), e => e.Protocol + " port " + e.DestinationPort!.Value.ToString(CultureInfo.InvariantCulture))));
    }
}
