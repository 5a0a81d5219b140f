namespace ConntrackTuning.Engine.KernelLog;

/// <summary>Reads drop events from log inputs, one input after another, through one scanner.</summary>
internal static class DropEventReader
{
    /// <summary>The kernel log of a root: the journal and ring buffer of the live system, or the log files of a tree.</summary>
    public static IReadOnlyList<LogInput> DefaultInputs(SystemRoot root, TimeWindow window)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (root.IsLive)
        {
            return KernelLogSources.Live(root, window);
        }

        IReadOnlyList<LogInput> inputs = KernelLogSources.UnderRoot(root, window);
        if (inputs.Count == 0)
        {
            throw new ConntrackException(ErrorIds.KernelLogNotFound, ErrorKind.ObjectNotFound,
                $"No kernel log under {root.Path}: none of var/log/{string.Join(", var/log/", KernelLogSources.TextFamilies)} (or their rotations), no journal in var/log/journal and no dmesg capture ({string.Join(", ", KernelLogSources.DmesgFiles)}).",
                root.Path,
                "Give the log files with -Path, or pipe them in: Get-Content <file> | Get-ConntrackDropEvent.");
        }

        return inputs;
    }

    /// <summary>
    /// The events of the inputs, in order. <paramref name="progress"/>, when given, learns where the scan is; the
    /// caller made it over all the inputs it will read (possibly over several calls) and disposes it at the end.
    /// </summary>
    public static IEnumerable<ConntrackDropEvent> Read(IEnumerable<LogInput> inputs, DropEventScanner scanner, LogScanProgress? progress = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(scanner);
        var found = new List<ConntrackDropEvent>();
        foreach (LogInput input in inputs)
        {
            progress?.Begin(input);
            IEnumerable<IReadOnlyList<string>> batches = input.Read(progress?.Advanced);
            scanner.AddSource(input.Name);
            foreach (IReadOnlyList<string> batch in batches)
            {
                scanner.FeedAll(batch, input.Context, input.Name, found);
                foreach (ConntrackDropEvent drop in found)
                {
                    yield return drop;
                }

                found.Clear();
            }

            progress?.End(input);
        }
    }

    /// <summary>
    /// Reads everything and keeps only the summary; for callers that need counts, not events. Progress goes to
    /// <paramref name="log"/> when given (the root's log, which a cmdlet shows).
    /// </summary>
    public static DropEventScanner Scan(IReadOnlyList<LogInput> inputs, TimeWindow window, IEngineLog? log = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var scanner = new DropEventScanner(window);
        using LogScanProgress? progress = log is null ? null : new LogScanProgress(log, inputs);
        foreach (ConntrackDropEvent _ in Read(inputs, scanner, progress))
        {
        }

        return scanner;
    }
}
