using System.Collections;
using ConntrackTuning.Engine.Namespaces;

namespace ConntrackTuning.Completers;

/// <summary>
/// Completes -NetworkNamespace with this machine's namespaces: ip netns names first, then the inodes (with the
/// owner as the tooltip), as Get-ConntrackNamespace finds them. Nothing is entered and no table is read.
/// </summary>
public sealed class NetworkNamespaceCompleter : ConntrackCompleter
{
    private protected override IEnumerable<CompletionResult> Complete(IDictionary? bound, string prefix)
    {
        // -NetworkNamespace names a namespace of the running system whatever -Root says.
        List<(FoundNamespace Found, PodInfo? Pod)> found = NamespaceReader.Find(SystemRoot.Open("/"));
        var results = new List<CompletionResult>();
        foreach ((FoundNamespace ns, PodInfo? pod) in found.Where(f => f.Found.Name is not null).OrderBy(f => f.Found.Name, StringComparer.Ordinal))
        {
            if (ns.Name!.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                results.Add(new CompletionResult(ns.Name, ns.Name, CompletionResultType.ParameterValue, $"ip netns {ns.Name} (inode {ns.Inode})"));
            }
        }

        foreach ((FoundNamespace ns, PodInfo? pod) in found)
        {
            string inode = ns.Inode.ToString(CultureInfo.InvariantCulture);
            if (inode.StartsWith(prefix, StringComparison.Ordinal))
            {
                string owner = NamespaceReader.Describe(ns, ns.Owner, pod).Words;
                results.Add(new CompletionResult(inode, inode, CompletionResultType.ParameterValue, owner.Length > 0 ? owner : inode));
            }
        }

        return results;
    }
}
