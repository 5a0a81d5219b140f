namespace ConntrackTuning.Engine.Changes;

/// <summary>
/// Applies a planned change: takes the root's lock, plans again from fresh reads, writes the kernel first and the
/// configuration second, and undoes the kernel write (and every file already replaced) if a later step fails, so
/// a change is either whole or absent.
/// </summary>
internal static class ChangeApplier
{
    internal static readonly TimeSpan DefaultLockTimeout = TimeSpan.FromSeconds(60);


    /// <summary>
    /// Applies a change under the root's lock. The plan is made again from fresh reads once the lock is held, so
    /// a second invocation that finished meanwhile is seen (and a rerun of the same change does nothing).
    /// </summary>
    internal static ConntrackChange Apply(SystemRoot root, Func<ChangePlan> planner, TimeSpan lockTimeout)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(planner);
        using IDisposable writeLock = root.AcquireWriteLock(lockTimeout);
        ChangePlan plan = planner();
        if (!plan.Changes)
        {
            root.Log.Verbose($"{plan.Setting} is already {plan.Expected} everywhere asked; nothing to do.");
            return ChangeRecord.Of(plan, applied: true, plan.OldValue ?? plan.Expected, plan.Files, plan.NextBoot?.Invoke(null));
        }

        long newValue = plan.Expected;
        bool runtimeWritten = false;
        bool runtimeChanged = plan.RuntimeChanges;
        if (plan.RuntimeChanges)
        {
            WriteRuntime(plan, plan.Requested);
            runtimeWritten = true;
            TestHooks.AfterRuntimeWrite?.Invoke(root.Full(plan.RuntimeRelative!));
            long? back = root.TryReadInt64(plan.RuntimeRelative!);
            newValue = back ?? plan.Expected;
            if (back is { } b && b != plan.Expected)
            {
                plan.Warn($"{root.Full(plan.RuntimeRelative!)} reads back {b} after {plan.Requested} was written (expected {plan.Expected}); {b} is what the kernel uses, and what is persisted.");
            }

            // A kernel that rounds further than predicted (bigger pages) may land on the value it already had: then
            // nothing changed, and the record must say so, or every rerun (an Ansible play) reports a change.
            if (back is { } same && same == plan.OldValue)
            {
                runtimeChanged = false;
            }
        }

        IReadOnlyList<FileEdit> files = plan.Files;
        var written = new List<FileEdit>();
        // Folders a write creates (etc/sysctl.d in an image, etc/modules-load.d), noted by the write as it makes each,
        // so that a write failing after it made them is undone too, and a folder it never made is never named.
        var createdFolders = new List<string>();
        try
        {
            if (plan.BuildFiles is not null && plan.Mode != ApplyMode.PersistentOnly && newValue != plan.Expected)
            {
                files = plan.BuildFiles(newValue);
            }

            foreach (FileEdit edit in files.Where(f => f.Changes))
            {
                TestHooks.BeforeConfigFileWrite?.Invoke(root.Full(edit.Relative));
                root.WriteConfigFileAtomic(edit.Relative, edit.After, createdFolders);
                written.Add(edit);
            }
        }
        catch (Exception e) when (e is ConntrackException or System.IO.IOException or UnauthorizedAccessException)
        {
            string undone = Undo(plan, written, runtimeWritten, createdFolders);
            ConntrackException inner = e as ConntrackException ?? new ConntrackException(ErrorIds.FileWriteFailed, ErrorKind.WriteError, e.Message, null, null, e);
            throw new ConntrackException(inner.ErrorId, inner.Kind, inner.Message + " " + undone, inner.Target, inner.RecommendedAction, e);
        }

        return ChangeRecord.Of(plan, applied: true, newValue, files, plan.NextBoot?.Invoke(null), runtimeChanged);
    }

    private static string Undo(ChangePlan plan, List<FileEdit> written, bool runtimeWritten, List<string> createdFolders)
    {
        SystemRoot root = plan.Kernel.SystemRoot;
        var failures = new List<string>();
        foreach (FileEdit edit in Enumerable.Reverse(written))
        {
            try
            {
                if (edit.Before is null)
                {
                    root.RemoveConfigFile(edit.Relative);
                }
                else
                {
                    root.WriteConfigFileAtomic(edit.Relative, edit.Before);
                }
            }
            catch (Exception e) when (e is ConntrackException or System.IO.IOException or UnauthorizedAccessException)
            {
                failures.Add($"{root.Full(edit.Relative)} ({e.Message})");
            }
        }

        // Deepest first, so etc/sysctl.d goes before the etc it was created in.
        foreach (string folder in createdFolders.Distinct(StringComparer.Ordinal).OrderByDescending(f => f.Count(c => c == '/')))
        {
            try
            {
                root.RemoveCreatedFolder(folder);
            }
            catch (Exception e) when (e is ConntrackException or System.IO.IOException or UnauthorizedAccessException)
            {
                failures.Add($"{root.Full(folder)} ({e.Message})");
            }
        }

        if (runtimeWritten && plan.OldValue is { } old)
        {
            try
            {
                WriteRuntime(plan, old);
            }
            catch (ConntrackException e)
            {
                failures.Add($"{root.Full(plan.RuntimeRelative!)} ({e.Message})");
            }
        }

        return failures.Count == 0
            ? $"Everything written before the failure was undone{(runtimeWritten ? $": {plan.Setting} is back to {plan.OldValue}" : "")}."
            : "Undoing the earlier steps failed for: " + string.Join("; ", failures) + ". Check these by hand.";
    }

    private static void WriteRuntime(ChangePlan plan, long value)
    {
        SystemRoot root = plan.Kernel.SystemRoot;
        string text = value.ToString(CultureInfo.InvariantCulture) + "\n";
        int errno = root.TryWriteValueFile(plan.RuntimeRelative!, text);
        if (errno != 0)
        {
            throw RuntimeWriteFailed(plan, value, errno);
        }

        foreach (string alias in plan.RuntimeAliases)
        {
            // Only under a root that is not the live kernel: the alias files of a fixture or image are kept in step by hand.
            if (root.TryWriteValueFile(alias, text) == 0)
            {
                root.Log.Verbose($"Also wrote {root.Full(alias)}: under a root that is not the running kernel, nothing else keeps the alias in step.");
            }
        }
    }

    internal static ConntrackException RuntimeWriteFailed(ChangePlan plan, long value, int errno)
    {
        ConntrackKernel kernel = plan.Kernel;
        SystemRoot root = kernel.SystemRoot;
        string full = root.Full(plan.RuntimeRelative!);
        string why = Errno.Message(errno);
        return errno switch
        {
            Errno.EACCES or Errno.EPERM when root.IsLive && !ProcessIdentity.IsRoot => new ConntrackException(ErrorIds.RootRequired, ErrorKind.PermissionDenied,
                $"Writing {full} requires root ({why}). Nothing was changed.", full, "Run pwsh elevated (sudo pwsh)."),
            Errno.EACCES or Errno.EPERM or Errno.EOPNOTSUPP when !kernel.IsInitialNamespace || errno == Errno.EOPNOTSUPP => ChangeChecks.HostOwned(kernel, plan.Setting, full),
            Errno.EACCES or Errno.EPERM or Errno.EROFS => new ConntrackException(ErrorIds.SettingReadOnly, ErrorKind.PermissionDenied,
                $"The kernel refused the write to {full}: {why}{(errno == Errno.EROFS ? " (/proc/sys or /sys is mounted read-only, as in most containers)" : "")}. Nothing was changed.",
                full, "Run the command on the host, or use -PersistOnly to change only the configuration."),
            Errno.EINVAL or Errno.ERANGE or Errno.ENOMEM => new ConntrackException(ErrorIds.ValueRejectedByKernel,
                errno == Errno.ENOMEM ? ErrorKind.LimitsExceeded : ErrorKind.InvalidArgument,
                $"The kernel refused {value} for {plan.Setting} ({why}){(errno == Errno.ENOMEM ? ": it could not allocate a table that big" : "")}. Nothing was changed.",
                full, errno == Errno.ENOMEM ? "Choose a smaller value." : "Choose a value the kernel accepts (timeouts: at most 2147483647 / HZ seconds)."),
            _ => new ConntrackException(ErrorIds.FileWriteFailed, ErrorKind.WriteError,
                $"Writing {value} to {full} failed: {why}. Nothing was changed.", full, "Check that the tracker is still loaded and the file is writable."),
        };
    }
}
