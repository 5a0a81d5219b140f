using System.Collections;
using System.Management.Automation.Language;
using ConntrackTuning.Commands;
using ConntrackTuning.Engine.Kernel;

namespace ConntrackTuning.Completers;

/// <summary>Completes -Name of Get- and Set-ConntrackSetting with the settings the era table knows (tcp_be_liberal, acct, ...).</summary>
public sealed class SettingNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        ConntrackProtocolCompleter.Complete(EraSettings.Rows.Select(r => r.Name), wordToComplete);
}
