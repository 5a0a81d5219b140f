namespace ConntrackTuning.Engine.Namespaces;

/// <summary>
/// The namespaces of the running system by inode, found once and asked many times: what a "table full in netns N"
/// message's namespace is called now, and who owns it. Inodes are reused after a namespace is freed, so a name is
/// what holds the inode now; an old message may have been logged by an earlier namespace with the same number.
/// </summary>
internal sealed class NamespaceDirectory
{
    /// <summary>What a namespace that no longer exists is called.</summary>
    public const string Gone = "gone";

    private readonly Dictionary<string, (FoundNamespace Found, PodInfo? Pod)> _byInode;

    private NamespaceDirectory(Dictionary<string, (FoundNamespace, PodInfo?)> byInode) => _byInode = byInode;

    public static NamespaceDirectory Read(SystemRoot root) =>
        new(NamespaceReader.Find(root).ToDictionary(f => f.Found.Inode.ToString(CultureInfo.InvariantCulture), f => f, StringComparer.Ordinal));

    public IEnumerable<(FoundNamespace Found, PodInfo? Pod)> All => _byInode.Values;

    /// <summary>The name and owner of the namespace with this inode, or "gone" twice.</summary>
    public (string Name, string Owner) Describe(string inode)
    {
        ArgumentNullException.ThrowIfNull(inode);
        if (!_byInode.TryGetValue(inode, out (FoundNamespace Found, PodInfo? Pod) ns))
        {
            return (Gone, Gone);
        }

        string owner = NamespaceReader.Describe(ns.Found, ns.Found.Owner, ns.Pod).Words;
        string name = ns.Found.Name
            ?? (ns.Pod is { Name: { } podName } ? (ns.Pod.Namespace is { } podNs ? $"{podNs}/{podName}" : podName) : null)
            ?? (ns.Found.Owner?.ContainerId is { } id ? (id.Length > 12 && id.All(char.IsAsciiHexDigit) ? id[..12] : id) : null)
            ?? (ns.Found.IsInitial ? "host" : inode);
        return (name, owner);
    }

    /// <summary>"4026532281 (pod default/web-0 (containerd))", or "4026532281 (gone)".</summary>
    public string Label(string inode)
    {
        (string name, string owner) = Describe(inode);
        string words = owner.Length > 0 ? owner : name;
        return words == inode ? inode : $"{inode} ({words})";
    }
}
