using System.Collections;
using ConntrackTuning.Engine.Entries;

namespace ConntrackTuning.Completers;

/// <summary>Completes -Protocol with the protocols the kernel tracks by name.</summary>
public sealed class ConntrackProtocolCompleter : ConntrackCompleter
{
    private protected override IEnumerable<CompletionResult> Complete(IDictionary? bound, string prefix) => StartingWith(ProtocolNames.Completable, prefix);
}

/// <summary>Completes -State with the states of the -Protocol typed so far (TCP, SCTP and DCCP states when none is).</summary>
public sealed class ConntrackStateCompleter : ConntrackCompleter
{
    private protected override IEnumerable<CompletionResult> Complete(IDictionary? bound, string prefix)
    {
        IEnumerable<string>? protocols = bound?["Protocol"] switch
        {
            string s => [s],
            object[] a => a.Select(o => o?.ToString() ?? ""),
            _ => null,
        };
        return StartingWith(StateNames.CompletableFor(protocols), prefix);
    }
}
