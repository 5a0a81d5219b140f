using System.Collections;
using System.Management.Automation.Language;

namespace ConntrackTuning.Completers;

/// <summary>
/// What every completer of the module shares: the word typed so far without its quotes, the -Root typed so far
/// resolved the way the cmdlet will resolve it, and the rule that completion never throws at the user.
/// </summary>
public abstract class ConntrackCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        try
        {
            // Listed here, inside the guard: a lazy query would fail only once PowerShell enumerates it.
            return Complete(fakeBoundParameters, (wordToComplete ?? "").Trim('\'', '"')).ToList();
        }
        catch (Exception e) when (e is ConntrackException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            // A root still being typed, no tracker, a file this user cannot read: nothing to offer, and no error.
            return [];
        }
    }

    /// <summary>The candidates for <paramref name="prefix"/>, given what else the command line binds so far.</summary>
    private protected abstract IEnumerable<CompletionResult> Complete(IDictionary? bound, string prefix);

    /// <summary>The names that start with <paramref name="prefix"/> (any case), in the order given.</summary>
    private protected static IEnumerable<CompletionResult> StartingWith(IEnumerable<string> names, string prefix) =>
        names
            .Where(n => n.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            .Select(n => new CompletionResult(n, n, CompletionResultType.ParameterValue, n));

    /// <summary>The -Root typed so far ("/" when none), opened without a stop signal: completion reads a few small files.</summary>
    private protected static SystemRoot TypedRoot(IDictionary? bound) => SystemRoot.Open(RootFrom(bound));

    private static string RootFrom(IDictionary? bound)
    {
        string root = bound?["Root"] is string r && r.Length > 0 ? r : "/";
        if (Path.IsPathRooted(root))
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

        return Path.GetFullPath(root, here ?? Environment.CurrentDirectory);
    }
}
