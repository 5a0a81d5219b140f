using System.Diagnostics;
using System.Text.RegularExpressions;
using ConntrackTuning.Engine.Progress;

namespace ConntrackTuning.Engine.KernelLog;

/// <summary>One place kernel log lines come from, opened only when it is read.</summary>
internal sealed class LogInput
{
    public required string Name { get; init; }

    public required LogContext Context { get; init; }

    /// <summary>The candidate lines (those that may matter), streamed a batch at a time; a batch is consumed before the next is read.</summary>
    public required Func<IEnumerable<IReadOnlyList<string>>> Batches { get; init; }

    /// <summary>The bytes on disk when the input is a file, so a scan can tell how far it has got; null otherwise.</summary>
    public long? Length { get; init; }

    /// <summary>The same batches, telling the callback how many bytes of <see cref="Length"/> have been read so far.</summary>
    public Func<Action<long>, IEnumerable<IReadOnlyList<string>>>? MeteredBatches { get; init; }

    /// <summary>The batches, metered when the input can be and someone listens.</summary>
    public IEnumerable<IReadOnlyList<string>> Read(Action<long>? advanced) =>
        advanced is not null && MeteredBatches is { } metered ? metered(advanced) : Batches();
}

/// <summary>
/// Where the kernel log is, for the live system, a -Root tree, or files given by path; and reading it all
/// through one <see cref="DropEventScanner"/> in one pass.
/// </summary>
internal static partial class KernelLogSources
{
    public const string RingBufferName = "kernel ring buffer";
    public const string JournalName = "journal";

    /// <summary>
    /// Text logs that receive kernel messages, one family per distribution. Only the first family present is
    /// read: Debian writes kernel lines to both kern.log and syslog, and reading both would count each twice.
    /// </summary>
    internal static readonly string[] TextFamilies = ["kern.log", "messages", "syslog", "kernel.log", "kern"];

    /// <summary>Boot-time captures of the ring buffer: the last resort, since they end at boot.</summary>
    internal static readonly string[] DmesgFiles = ["var/log/dmesg", "sos_commands/kernel/dmesg", "sos_commands/kernel/dmesg_-T", "dmesg"];

    /// <summary>The journal (all boots, when present) and then the ring buffer records the journal does not have yet.</summary>
    public static IReadOnlyList<LogInput> Live(SystemRoot root, TimeWindow window, string? journalctl = null, string? kmsgDevice = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        DateTime? boot = BootTime(root);
        string? bootId = root.TryReadText("proc/sys/kernel/random/boot_id")?.Trim();
        string? hostName = root.TryReadText("proc/sys/kernel/hostname")?.Trim();
        var inputs = new List<LogInput>();
        string? journal = journalctl ?? FindJournalctl();
        bool hasJournal = journal is not null && (root.HasFiles("var/log/journal", "*.journal") || root.HasFiles("run/log/journal", "*.journal"));
        if (hasJournal)
        {
            inputs.Add(new LogInput
            {
                Name = JournalName,
                Context = new LogContext { YearReference = DateTime.Now, CurrentBootId = bootId, DefaultHost = hostName },
                Batches = () => Journal(root.Log, journal!, null, window, cancellation: root.Cancellation),
                MeteredBatches = advanced => Journal(root.Log, journal!, null, window, advanced, root.Cancellation),
            });
        }
        else
        {
            root.Log.Verbose(journal is null ? "No journalctl on this system; reading the ring buffer only." : "No journal files under /var/log/journal or /run/log/journal; reading the ring buffer only.");
        }

        inputs.Add(new LogInput
        {
            Name = RingBufferName,
            Context = new LogContext { YearReference = DateTime.Now, BootTime = RingBufferEpoch(root) ?? boot, DefaultHost = hostName, CurrentBootId = bootId },
            Batches = () => RingBuffer(root.Log, kmsgDevice ?? "/dev/kmsg", tolerant: hasJournal, root.Cancellation),
        });
        return inputs;
    }

    /// <summary>
    /// The kernel log files under a tree (a sosreport, an image): the first text family in var/log, oldest
    /// rotation first; else its journal; else a dmesg capture. Empty when there is none.
    /// </summary>
    public static IReadOnlyList<LogInput> UnderRoot(SystemRoot root, TimeWindow window, string? journalctl = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        IReadOnlyList<string> names = root.FileNames("var/log");
        foreach (string family in TextFamilies)
        {
            string[] members = RotationOrder(names.Where(n => RotationBase(n) == family)).ToArray();
            if (members.Length > 0)
            {
                return members.Select(n => FileInput(root, "var/log/" + n, null)).ToArray();
            }
        }

        string? journal = journalctl ?? FindJournalctl();
        if (journal is not null && root.HasFiles("var/log/journal", "*.journal"))
        {
            string directory = root.Full("var/log/journal");
            return
            [
                new LogInput
                {
                    Name = directory,
                    Context = new LogContext { YearReference = root.LastWriteTime("var/log/journal") ?? DateTime.Now },
                    Batches = () => Journal(root.Log, journal, directory, window, cancellation: root.Cancellation),
                    MeteredBatches = advanced => Journal(root.Log, journal, directory, window, advanced, root.Cancellation),
                },
            ];
        }

        // A dmesg capture is from the boot the tree's proc/ describes, so its times since boot have dates.
        DateTime? boot = BootTime(root);
        return DmesgFiles.Where(root.FileExists).Take(1).Select(f => FileInput(root, f, boot)).ToArray();
    }

    /// <summary>A file given by the user (absolute path), plain or gzip.</summary>
    public static LogInput File(SystemRoot fileSystem, string absolutePath) => FileInput(fileSystem, absolutePath, null);

    private static LogInput FileInput(SystemRoot root, string relative, DateTime? boot) => new()
    {
        Name = root.Full(relative),
        // Syslog has no year: the file's last change is the latest any of its lines can be.
        Context = new LogContext { YearReference = root.LastWriteTime(relative) ?? DateTime.Now, BootTime = boot },
        Batches = () => FileBatches(root, relative, null),
        MeteredBatches = advanced => FileBatches(root, relative, advanced),
        Length = FileLength(root.Full(relative)),
    };

    private static long? FileLength(string full)
    {
        try
        {
            var info = new FileInfo(full);
            return info.Exists ? info.Length : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static IEnumerable<IReadOnlyList<string>> FileBatches(SystemRoot root, string relative, Action<long>? advanced)
    {
        Stream? raw = root.OpenRead(relative);
        if (raw is null)
        {
            throw new ConntrackException(ErrorIds.LogFileNotFound, ErrorKind.ObjectNotFound,
                $"The log file '{root.Full(relative)}' does not exist.", root.Full(relative),
                "Check the path; rotated logs are named like kern.log.1 or messages-20261120.gz.");
        }

        // The stop signal is seen at every read of the file (under gzip, every 8 KiB of compressed input).
        using Stream stream = LogChunkReader.Decompressed(new ObservedStream(raw, root.Cancellation, advanced), root.Full(relative));
        int skipped = 0;
        foreach (IReadOnlyList<string> batch in LogChunkReader.MatchingBlocks(stream, () => skipped++))
        {
            yield return batch;
        }

        LogChunkReader.ThrowIfCutOff(stream);

        if (skipped > 0)
        {
            root.Log.Verbose($"{root.Full(relative)}: skipped {skipped} line(s) longer than {LogChunkReader.MaxLineLength} bytes (not log lines).");
        }
    }

    private static IEnumerable<IReadOnlyList<string>> RingBuffer(IEngineLog log, string device, bool tolerant, CancellationToken cancellation)
    {
        IEnumerable<string> records;
        try
        {
            records = KernelRingBuffer.ReadRecords(device);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            if (tolerant)
            {
                log.Warning($"The kernel ring buffer cannot be read ({e.Message}); the events come from the journal only, which may lag the kernel by a moment.");
                return [];
            }

            throw new ConntrackException(ErrorIds.KernelLogUnreadable,
                e is UnauthorizedAccessException ? ErrorKind.PermissionDenied : ErrorKind.ReadError,
                $"The kernel log cannot be read: {e.Message}", device,
                "Run pwsh as root (sudo), or give the log files with -Path, for example -Path /var/log/kern.log.", e);
        }

        log.Verbose($"Read {device}");
        // /dev/kmsg is opened non-blocking and ends at the newest record, so a check per record bounds a stop.
        return records.Where(r =>
        {
            cancellation.ThrowIfCancellationRequested();
            return DropEventScanner.IsCandidate(r);
        }).Chunk(256);
    }

    /// <summary>
    /// Kernel messages of every boot the journal holds, as JSON lines, from journalctl run with an argument
    /// list (never a shell). <paramref name="directory"/> reads a captured journal instead of the system's.
    /// </summary>
    internal static IEnumerable<IReadOnlyList<string>> Journal(IEngineLog log, string journalctl, string? directory, TimeWindow window,
        Action<long>? advanced = null, CancellationToken cancellation = default)
    {
        ProcessStartInfo info = JournalStartInfo(journalctl, directory, window);
        log.Verbose($"Running {journalctl} {string.Join(' ', info.ArgumentList)}");
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new IOException("no process");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException)
        {
            log.Warning($"{journalctl} could not be started ({e.Message}); the journal was not read.");
            return [];
        }

        return JournalLines(log, journalctl, process, advanced, cancellation);
    }

    internal static ProcessStartInfo JournalStartInfo(string journalctl, string? directory, TimeWindow window)
    {
        var info = new ProcessStartInfo(journalctl)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // _TRANSPORT=kernel rather than -k: -k implies --boot and would leave out the earlier boots.
        foreach (string arg in new[] { "--no-pager", "--quiet", "--output=json", "_TRANSPORT=kernel" })
        {
            info.ArgumentList.Add(arg);
        }

        if (directory is not null)
        {
            info.ArgumentList.Add("--directory=" + directory);
        }

        if (window.Since is { } since)
        {
            info.ArgumentList.Add("--since=" + since.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture));
        }

        if (window.Until is { } until)
        {
            // journalctl's --until is to the second; the scanner applies the exact bound.
            info.ArgumentList.Add("--until=" + until.AddSeconds(1).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture));
        }

        info.Environment["SYSTEMD_PAGER"] = "";
        info.Environment["SYSTEMD_COLORS"] = "0";
        return info;
    }

    private static IEnumerable<IReadOnlyList<string>> JournalLines(IEngineLog log, string journalctl, Process process, Action<long>? advanced, CancellationToken cancellation)
    {
        using (process)
        {
            // journalctl can search a large journal for a long time before it writes a line, and a read of its pipe
            // blocks until it does: a stop kills it, which ends the pipe, and the read below then sees the signal.
            using CancellationTokenRegistration stop = cancellation.Register(() => Kill(process));
            var errors = new System.Text.StringBuilder();
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null && errors.Length < 4096)
                {
                    lock (errors)
                    {
                        errors.AppendLine(e.Data);
                    }
                }
            };
            process.BeginErrorReadLine();
            bool finished = false;
            try
            {
                foreach (IReadOnlyList<string> batch in LogChunkReader.MatchingBlocks(new ObservedStream(process.StandardOutput.BaseStream, cancellation, advanced)))
                {
                    yield return batch;
                }

                cancellation.ThrowIfCancellationRequested();
                process.WaitForExit();
                finished = true;
                if (process.ExitCode != 0)
                {
                    string detail;
                    lock (errors)
                    {
                        detail = errors.ToString().Trim();
                    }

                    log.Warning($"{journalctl} exited with {process.ExitCode}: {detail}");
                }
            }
            finally
            {
                // Enumeration stopped early (Select-Object -First, Ctrl+C): do not leave journalctl behind.
                if (!finished)
                {
                    Kill(process);
                }
            }
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // It ended on its own meanwhile.
        }
    }

    private static string? FindJournalctl()
    {
        string path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin";
        foreach (string dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(["/usr/bin", "/bin"]))
        {
            string candidate = Path.Combine(dir, "journalctl");
            if (System.IO.File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>When the running boot began: btime in proc/stat, else now minus proc/uptime (live only).</summary>
    internal static DateTime? BootTime(SystemRoot root)
    {
        foreach (string line in root.ReadLines("proc/stat"))
        {
            if (line.StartsWith("btime ", StringComparison.Ordinal)
                && long.TryParse(line.AsSpan(6).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long seconds)
                && seconds is > 0 and < 253402300799L)
            {
                return DateTimeOffset.FromUnixTimeSeconds(seconds).LocalDateTime;
            }
        }

        if (root.IsLive && root.TryReadText("proc/uptime") is { } uptime
            && double.TryParse(uptime.Split(' ')[0], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double up))
        {
            return DateTime.Now.AddSeconds(-up);
        }

        return null;
    }

    [GeneratedRegex(@"^(?<base>.+?)(?:\.(?<n>\d{1,4})|-(?<date>\d{8}))?(?:\.gz)?$", RegexOptions.CultureInvariant)]
    private static partial Regex Rotation();

    /// <summary>"kern.log.2.gz" and "messages-20261120" to their family name "kern.log" and "messages".</summary>
    internal static string RotationBase(string name) => Rotation().Match(name).Groups["base"].Value;

    /// <summary>Oldest first: numbered rotations from the highest number, dated ones by date, the live file last.</summary>
    internal static IEnumerable<string> RotationOrder(IEnumerable<string> names) =>
        names.Select(n => (Name: n, Match: Rotation().Match(n)))
            .OrderBy(x => x.Match.Groups["base"].Value, StringComparer.Ordinal)
            .ThenBy(x => x.Match.Groups["n"].Success ? 0 : x.Match.Groups["date"].Success ? 1 : 2)
            .ThenByDescending(x => x.Match.Groups["n"].Success ? int.Parse(x.Match.Groups["n"].Value, CultureInfo.InvariantCulture) : 0)
            .ThenBy(x => x.Match.Groups["date"].Value, StringComparer.Ordinal)
            .Select(x => x.Name);
}
