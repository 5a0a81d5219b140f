using System.Collections;
using ConntrackTuning.Engine.Entries;

namespace ConntrackTuning.Completers;

/// <summary>Completes -Protocol with the protocols the kernel tracks by name.</summary>
public sealed class ConntrackProtocolCompleter : ConntrackCompleter
{
    private protected override IEnumerable<CompletionResult> Complete(IDictionary? bound, string prefix) => StartingWith(ProtocolNames.Completable, prefix);
}

/// <summary>Completes -State with the TCP, SCTP and DCCP states.</summary>
public sealed class ConntrackStateCompleter : ConntrackCompleter
{
    private protected override IEnumerable<CompletionResult> Complete(IDictionary? bound, string prefix) => StartingWith(StateNames.Completable, prefix);
}
