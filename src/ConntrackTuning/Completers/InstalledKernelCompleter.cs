using System.Collections;
using ConntrackTuning.Engine.Images;

namespace ConntrackTuning.Completers;

/// <summary>Completes -KernelRelease with the kernels installed under the -Root being typed (lib/modules, usr/lib/modules).</summary>
public sealed class InstalledKernelCompleter : ConntrackCompleter
{
    private protected override IEnumerable<CompletionResult> Complete(IDictionary? bound, string prefix) =>
        StartingWith(InstalledKernels.Find(TypedRoot(bound)).Select(k => k.Release), prefix);
}
