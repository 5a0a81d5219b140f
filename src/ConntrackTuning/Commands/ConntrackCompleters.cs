using System.Collections;
using System.Management.Automation.Language;
using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Images;

namespace ConntrackTuning.Commands;

/// <summary>Completes -Protocol with the protocols the kernel tracks by name.</summary>
public sealed class ConntrackProtocolCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Complete(ProtocolNames.Completable, wordToComplete);

    internal static IEnumerable<CompletionResult> Complete(IEnumerable<string> names, string? word)
    {
        string prefix = (word ?? "").Trim('\'', '"');
        return names
            .Where(n => n.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            .Select(n => new CompletionResult(n, n, CompletionResultType.ParameterValue, n));
    }
}

/// <summary>Completes -State with the TCP, SCTP and DCCP states.</summary>
public sealed class ConntrackStateCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        ConntrackProtocolCompleter.Complete(StateNames.Completable, wordToComplete);
}

/// <summary>Completes -KernelRelease with the kernels installed under the -Root being typed (lib/modules, usr/lib/modules).</summary>
public sealed class InstalledKernelCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string root = fakeBoundParameters?["Root"] as string ?? "/";
        try
        {
            string full = System.IO.Path.GetFullPath(root, Environment.CurrentDirectory);
            return ConntrackProtocolCompleter.Complete(InstalledKernels.Find(SystemRoot.Open(full)).Select(k => k.Release), wordToComplete);
        }
        catch (Exception e) when (e is ConntrackException or System.IO.IOException or UnauthorizedAccessException or ArgumentException)
        {
            // A root still being typed is no error; it simply completes nothing.
            return [];
        }
    }
}
