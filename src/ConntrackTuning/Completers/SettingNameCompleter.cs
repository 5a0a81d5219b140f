using System.Collections;
using ConntrackTuning.Engine.Kernel;

namespace ConntrackTuning.Completers;

/// <summary>Completes -Name of Get- and Set-ConntrackSetting with the settings the era table knows (tcp_be_liberal, acct, ...).</summary>
public sealed class SettingNameCompleter : ConntrackCompleter
{
    private protected override IEnumerable<CompletionResult> Complete(IDictionary? bound, string prefix) => StartingWith(EraSettings.Rows.Select(r => r.Name), prefix);
}
