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
    private readonly Dictionary<string, DateTime?> _births = new(StringComparer.Ordinal);
    private readonly SystemRoot _root;

    private NamespaceDirectory(SystemRoot root, Dictionary<string, (FoundNamespace, PodInfo?)> byInode) => (_root, _byInode) = (root, byInode);

    public static NamespaceDirectory Read(SystemRoot root) =>
        new(root, NamespaceReader.Find(root).ToDictionary(f => f.Found.Inode.ToString(CultureInfo.InvariantCulture), f => f, StringComparer.Ordinal));

    /// <summary>
    /// The name and owner of the namespace that held this inode when a message was logged: "gone" twice when the
    /// namespace holding it now was born after the message (see <see cref="NamespaceBirth"/>).
    /// </summary>
    public (string Name, string Owner) Describe(string inode, DateTime? logged) =>
        Predates(inode, logged) ? (Gone, Gone) : Describe(inode);

    /// <summary>Whether a message of this time predates the namespace that holds this inode now.</summary>
    public bool Predates(string inode, DateTime? logged)
    {
        ArgumentNullException.ThrowIfNull(inode);
        if (logged is null || !_byInode.TryGetValue(inode, out (FoundNamespace Found, PodInfo? Pod) ns) || ns.Found.IsInitial)
        {
            return false;
        }

        if (!_births.TryGetValue(inode, out DateTime? birth))
        {
            _births[inode] = birth = NamespaceBirth.Of(_root, ns.Found);
        }

        return NamespaceBirth.Predates(logged, birth);
    }

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
