using System.Collections;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Settings;

namespace ConntrackTuning.Completers;

/// <summary>
/// Completes -Name of Get- and Set-ConntrackSetting with the settings the era table knows (tcp_be_liberal, acct, ...);
/// a word that already starts with the era's prefix or the sysctl key (nf_conntrack_tcp, net.netfilter.) completes to
/// the full names and keys of the kernel under -Root, which -Name takes as well.
/// </summary>
public sealed class SettingNameCompleter : ConntrackCompleter
{
    private protected override IEnumerable<CompletionResult> Complete(IDictionary? bound, string prefix)
    {
        List<CompletionResult> names = StartingWith(EraSettings.Rows.Select(r => r.Name), prefix).ToList();
        if (names.Count > 0 || prefix.Length == 0)
        {
            return names;
        }

        IReadOnlyList<EraSettingFile> settings = SettingReader.List(KernelProbe.Probe(TypedRoot(bound)));
        return StartingWith(settings.Select(s => s.Name).Concat(settings.Select(s => s.Key)), prefix);
    }
}
