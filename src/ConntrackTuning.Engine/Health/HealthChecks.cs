using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Engine.Health;

/// <summary>
/// Every check Test-ConntrackHealth runs, in the order of its output. A check is a small function of the
/// shared <see cref="HealthContext"/>; it yields nothing when what it needs is missing (the Statistics and
/// KernelLog checks say why once). A check that needs another engine (the persisted configuration, next) is
/// one more entry in <see cref="Default"/>.
/// </summary>
internal static class HealthChecks
{
    public static IReadOnlyList<HealthCheck> Default { get; } =
    [
        new("Loaded", TableChecks.Loaded),
        new("Namespace", TableChecks.Namespace),
        new("Usage", TableChecks.Usage),
        new("ExpectationUsage", ExpectationChecks.Usage),
        new("KernelDefault", TableChecks.KernelDefaultCheck),
        new("Statistics", CounterChecks.Statistics),
        new("Drop", CounterChecks.Drop),
        new("EarlyDrop", CounterChecks.EarlyDrop),
        new("InsertFailed", CounterChecks.InsertFailed),
        new("KernelLog", KernelLogChecks.KernelLog),
        new("TableFullEvents", KernelLogChecks.TableFullEvents),
        new("Namespaces", NamespaceHealth.Check),
        new("KubeProxy", WriterHealth.KubeProxyCheck),
        new("BpfConntrack", WriterHealth.BpfCheck),
        new("EntriesPerBucket", TableChecks.EntriesPerBucket),
        new("TcpEstablishedTimeout", TimeoutChecks.TcpEstablishedTimeout),
        new("Persistence", PersistenceChecks.Persistence),
        new("BootOrder", PersistenceChecks.BootOrder),
    ];

    public static IEnumerable<ConntrackHealthFinding> Run(HealthContext context, IReadOnlyList<HealthCheck>? checks = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        foreach (HealthCheck check in checks ?? Default)
        {
            if (!context.Kernel.IsLoaded && check.Name != "Loaded")
            {
                continue;
            }

            foreach (HealthResult r in check.Run(context))
            {
                yield return r.ToFinding(check.Name, context.Kernel);
            }
        }
    }
}
