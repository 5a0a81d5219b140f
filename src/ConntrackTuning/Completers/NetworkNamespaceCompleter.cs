using System.Collections;
using System.Management.Automation.Language;
using ConntrackTuning.Engine.Namespaces;

namespace ConntrackTuning.Commands;

/// <summary>
/// Completes -NetworkNamespace with this machine's namespaces: ip netns names first, then the inodes (with the
/// owner as the tooltip), as Get-ConntrackNamespace finds them. Nothing is entered and no table is read.
/// </summary>
public sealed class NetworkNamespaceCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string prefix = (wordToComplete ?? "").Trim('\'', '"');
        List<(FoundNamespace Found, PodInfo? Pod)> found;
        try
        {
            found = NamespaceReader.Find(SystemRoot.Open("/"));
        }
        catch (Exception e) when (e is ConntrackTuning.Engine.ConntrackException or System.IO.IOException or UnauthorizedAccessException)
        {
            return [];
        }

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
            string inode = ns.Inode.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (inode.StartsWith(prefix, StringComparison.Ordinal))
            {
                string owner = NamespaceReader.Describe(ns, ns.Owner, pod).Words;
                results.Add(new CompletionResult(inode, inode, CompletionResultType.ParameterValue, owner.Length > 0 ? owner : inode));
            }
        }

        return results;
    }
}
