using System.Collections;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;

namespace ConntrackTuning.Completers;

/// <summary>
/// Completes -Protocol from the timeouts the kernel under -Root (as typed so far on the command line, else "/")
/// really has: the set changes across versions, so it is read, not listed here.
/// </summary>
public sealed class TimeoutProtocolCompleter : ConntrackCompleter
{
    private protected override IEnumerable<CompletionResult> Complete(IDictionary? bound, string prefix) =>
        TimeoutCompletion.Complete(TypedRoot(bound), prefix, list => list
            .GroupBy(t => t.Protocol)
            .Select(g => (g.Key, $"{g.Key}: {string.Join(", ", g.Select(t => t.State ?? "(one timeout)"))}")));
}

/// <summary>Completes -State from the states the kernel has for the -Protocol given (all states when none is).</summary>
public sealed class TimeoutStateCompleter : ConntrackCompleter
{
    private protected override IEnumerable<CompletionResult> Complete(IDictionary? bound, string prefix)
    {
        string? protocol = bound?["Protocol"] switch
        {
            string s => s,
            string[] { Length: 1 } a => a[0],
            _ => null,
        };
        return TimeoutCompletion.Complete(TypedRoot(bound), prefix, list => list
            .Where(t => t.State is not null && (protocol is null || string.Equals(t.Protocol, protocol, StringComparison.OrdinalIgnoreCase)))
            .GroupBy(t => t.State!)
            .Select(g => (g.Key, $"{g.Key} ({string.Join(", ", g.Select(t => t.Protocol))})")));
    }
}

internal static class TimeoutCompletion
{
    // A wildcard prefix, as Get-ConntrackTimeout's own -Protocol and -State take wildcards; sorted, with the states
    // (or protocols) as the tooltip.
    internal static IEnumerable<CompletionResult> Complete(SystemRoot root, string prefix,
        Func<IReadOnlyList<TimeoutSysctl>, IEnumerable<(string Text, string Tip)>> select)
    {
        var pattern = WildcardPattern.Get(prefix + "*", WildcardOptions.IgnoreCase);
        return select(TimeoutReader.List(KernelProbe.Probe(root)))
            .Where(c => pattern.IsMatch(c.Text))
            .OrderBy(c => c.Text, StringComparer.Ordinal)
            .Select(c => new CompletionResult(c.Text, c.Text, CompletionResultType.ParameterValue, c.Tip));
    }
}
