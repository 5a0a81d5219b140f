using ConntrackTuning.Engine.Persistence;
using ConntrackTuning.Engine.Changes;
using ConntrackTuning.Engine.Writers;

namespace ConntrackTuning.Commands;

/// <summary>
/// Base of the cmdlets that change a system. -Root binds by property name only (a value bound by value could be
/// any string from the pipeline, and these commands write). -Persist and -PersistOnly are two parameter sets, so
/// PowerShell itself refuses both at once.
/// </summary>
public abstract class ConntrackSetCmdlet : ConntrackCmdlet
{
    protected const string ApplySet = "Apply";

    protected const string PersistOnlySet = "PersistOnly";

    /// <summary>The folder under which proc/, sys/ and etc/ are written; "/" for this machine.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public override string Root { get; set; } = "/";

    /// <summary>Also write the configuration the next boot applies.</summary>
    [Parameter(ParameterSetName = ApplySet)]
    public SwitchParameter Persist { get; set; }

    /// <summary>Write only the configuration the next boot applies; the running kernel is not touched.</summary>
    [Parameter(ParameterSetName = PersistOnlySet, Mandatory = true)]
    public SwitchParameter PersistOnly { get; set; }

    /// <summary>Go ahead where the command would refuse: a max below the count or above the memory, a persisted value another file overrides.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Emit a ConntrackChange record for each setting (also under -WhatIf, marked Applied = False).</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>The network namespace a cmdlet with -NetworkNamespace changes; null for this process's own.</summary>
    private protected virtual string? TargetNamespace => null;

    private protected ApplyMode Mode => PersistOnly ? ApplyMode.PersistentOnly : Persist ? ApplyMode.RuntimeAndPersistent : ApplyMode.Runtime;

    /// <summary>
    /// Plans a change, asks ShouldProcess with "setting: old -> new", applies it (the engine plans again under the
    /// root's lock) and emits the record. Nothing is written, not even the lock file, unless ShouldProcess agrees.
    /// </summary>
    private protected void Change(Func<ConntrackKernel, ChangePlan> planner)
    {
        ArgumentNullException.ThrowIfNull(planner);
        Run(() =>
        {
            using IDisposable? inside = EnterNetworkNamespace(TargetNamespace);
            if (inside is not null && Mode != ApplyMode.Runtime)
            {
                // sysctl.d and modprobe.d are applied at boot to the initial namespace only; a container's
                // namespace is made again by its runtime, which sets its own sysctls.
                throw new ConntrackException(ErrorIds.NamespaceCannotPersist, ErrorKind.InvalidArgument,
                    $"-Persist and -PersistOnly cannot keep a setting of network namespace {TargetNamespace}: the files the next boot applies set the initial namespace only.",
                    TargetNamespace, "Leave out -Persist, and have the container's runtime set it at start (docker run --sysctl, a pod's securityContext.sysctls, ip netns exec ... sysctl in the unit that creates it).");
            }

            ConntrackKernel kernel = ProbeKernel();
            ChangePlan plan = planner(kernel);
            // The warnings given here belong to the change's record too, also to the plan made again under the lock.
            var advices = new List<string>();
            if (inside is null && kernel.IsInitialNamespace)
            {
                // kube-proxy rewrites the host's max and two TCP timeouts at every start: say when it will undo this one.
                advices.AddRange(KubeProxyAdvice.ForChange(kernel.SystemRoot, plan.Setting, plan.Expected));
            }

            // A run-time change that the next boot would undo is worth saying.
            PersistedValue? persisted = plan.Mode == ApplyMode.Runtime ? plan.NextBoot?.Invoke(null) : null;
            if (persisted is not null && !plan.KeptAtBoot(persisted))
            {
                advices.Add($"{plan.Setting} is not persisted: the next boot applies {persisted.Value} from {persisted.Source}. Add -Persist to keep {plan.Expected}.");
            }

            plan.Warn(advices);

            if (!plan.Changes)
            {
                WriteVerbose($"{plan.Setting} is already {plan.Expected}{(plan.Mode == ApplyMode.Runtime ? "" : " and persisted")}; nothing to change.");
                if (PassThru)
                {
                    WriteObject(ChangeRecord.Of(plan, applied: true, plan.OldValue ?? plan.Expected, plan.Files, plan.NextBoot?.Invoke(null)));
                }

                return;
            }

            if (!ShouldProcess(plan.Description, $"Change {plan.Description}?", "Change a connection-tracking setting"))
            {
                if (PassThru)
                {
                    WriteObject(ChangeRecord.Of(plan, applied: false, plan.Expected, plan.Files, plan.ProposedNextBoot()));
                }

                return;
            }

            ConntrackChange change = ChangeApplier.Apply(kernel.SystemRoot, () =>
            {
                ChangePlan fresh = planner(kernel);
                fresh.Warn(advices);
                return fresh;
            }, ChangeApplier.DefaultLockTimeout);
            if (PassThru)
            {
                WriteObject(change);
            }
        });
    }
}
