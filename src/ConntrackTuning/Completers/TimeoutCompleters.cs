using System.Collections;
using System.Management.Automation.Language;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;

namespace ConntrackTuning.Commands;

/// <summary>
/// Completes -Protocol from the timeouts the kernel under -Root (as typed so far on the command line, else "/")
/// really has: the set changes across versions, so it is read, not listed here.
/// </summary>
public sealed class TimeoutProtocolCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        TimeoutCompletion.Complete(fakeBoundParameters, wordToComplete, list => list
            .GroupBy(t => t.Protocol)
            .Select(g => (g.Key, $"{g.Key}: {string.Join(", ", g.Select(t => t.State ?? "(one timeout)"))}")));
}

/// <summary>Completes -State from the states the kernel has for the -Protocol given (all states when none is).</summary>
public sealed class TimeoutStateCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string? protocol = fakeBoundParameters?["Protocol"] switch
        {
            string s => s,
            string[] { Length: 1 } a => a[0],
            _ => null,
        };
        return TimeoutCompletion.Complete(fakeBoundParameters, wordToComplete, list => list
            .Where(t => t.State is not null && (protocol is null || string.Equals(t.Protocol, protocol, StringComparison.OrdinalIgnoreCase)))
            .GroupBy(t => t.State!)
            .Select(g => (g.Key, $"{g.Key} ({string.Join(", ", g.Select(t => t.Protocol))})")));
    }
}

internal static class TimeoutCompletion
{
    internal static IEnumerable<CompletionResult> Complete(IDictionary? bound, string word,
        Func<IReadOnlyList<TimeoutSysctl>, IEnumerable<(string Text, string Tip)>> select)
    {
        IReadOnlyList<TimeoutSysctl> list;
        try
        {
            SystemRoot root = SystemRoot.Open(RootFrom(bound));
            list = TimeoutReader.List(KernelProbe.Probe(root));
        }
        catch (Exception e) when (e is ConntrackException or System.IO.IOException or UnauthorizedAccessException or ArgumentException)
        {
            // Completion must never throw at the user; no root, no tracker: nothing to offer.
            return [];
        }

        var pattern = WildcardPattern.Get((word ?? "").Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
        return select(list)
            .Where(c => pattern.IsMatch(c.Text))
            .OrderBy(c => c.Text, StringComparer.Ordinal)
            .Select(c => new CompletionResult(c.Text, c.Text, CompletionResultType.ParameterValue, c.Tip))
            .ToList();
    }

    private static string RootFrom(IDictionary? bound)
    {
        string root = bound?["Root"] is string r && r.Length > 0 ? r : "/";
        if (System.IO.Path.IsPathRooted(root))
        {
            return root;
        }

        // Relative to the session's location, as the cmdlet itself would resolve it. The session state proxy gives
        // nothing while the completion pipeline runs; a nested pipeline in the current runspace does.
        string? here = null;
        try
        {
            using var location = PowerShell.Create(RunspaceMode.CurrentRunspace);
            here = location.AddCommand("Microsoft.PowerShell.Management\\Get-Location").Invoke<PathInfo>().FirstOrDefault()?.ProviderPath;
        }
        catch (Exception e) when (e is PSInvalidOperationException or InvalidOperationException or RuntimeException)
        {
            here = null;
        }

        return System.IO.Path.GetFullPath(root, here ?? Environment.CurrentDirectory);
    }
}
