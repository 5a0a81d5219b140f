using ConntrackTuning.Engine.Persistence;

namespace ConntrackTuning.Engine.Changes;

/// <summary>The user's record of a change (ConntrackChange), made from its plan: applied, or under -WhatIf what would be.</summary>
internal static class ChangeRecord
{
    /// <summary>The change record for a plan: applied, or under -WhatIf what would be.</summary>
    internal static ConntrackChange Of(ChangePlan plan, bool applied, long? newValue, IReadOnlyList<FileEdit> files, PersistedValue? nextBoot, bool? runtimeChanged = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(files);
        bool runtime = runtimeChanged ?? plan.RuntimeChanges;
        bool persistence = files.Any(f => f.Changes);
        SystemRoot root = plan.Kernel.SystemRoot;
        string? display(string? latin1) => latin1 is null ? null : Encoding.UTF8.GetString(SystemRoot.ConfigEncoding.GetBytes(latin1));
        return new ConntrackChange
        {
            Setting = plan.Setting,
            Key = plan.Key,
            Path = plan.RuntimeRelative is { } r ? root.Full(r) : null,
            OldValue = plan.OldValue,
            NewValue = newValue,
            RequestedValue = plan.Requested,
            Changed = runtime || persistence,
            RuntimeChanged = runtime,
            PersistenceChanged = persistence,
            Applied = applied,
            Mode = plan.Mode.ToString(),
            PersistedTo = plan.Mode == ApplyMode.Runtime ? [] : files.Select(f => root.Full(f.Relative)).ToArray(),
            Files = files.Select(f => new ConntrackFileChange
            {
                Path = root.Full(f.Relative),
                Action = !f.Changes ? "None" : f.Before is null ? "Create" : "Update",
                Before = display(f.Before),
                After = display(f.After),
                Purpose = f.Purpose,
            }).ToArray(),
            NextBootValue = nextBoot?.Number,
            NextBootSource = nextBoot?.Source,
            Protocol = plan.Protocol,
            State = plan.State,
            Warnings = plan.Warnings.ToArray(),
            Root = plan.Kernel.Root,
        };
    }
}
