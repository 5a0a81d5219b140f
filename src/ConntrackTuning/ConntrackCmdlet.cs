using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;
using ConntrackTuning.Engine.Namespaces;

namespace ConntrackTuning.Commands;

/// <summary>
/// What every cmdlet shares: the -Root parameter, one kernel probe per root, the bridge from the engine's log
/// to the verbose and warning streams, and the translation of engine failures into error records.
/// </summary>
public abstract partial class ConntrackCmdlet : PSCmdlet, IEngineLog, IDisposable
{
    private readonly Dictionary<string, ConntrackKernel> _kernels = new(StringComparer.Ordinal);

    private readonly CancellationTokenSource _stopping = new();

    /// <summary>Cancelled by Ctrl+C or PowerShell.Stop(); handed to the engine with every root this invocation opens.</summary>
    protected CancellationToken Cancellation => _stopping.Token;

    protected override void StopProcessing()
    {
        try
        {
            _stopping.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The pipeline ended (and disposed this cmdlet) while the stop was on its way: nothing is left to stop.
        }

        base.StopProcessing();
    }

    /// <summary>PowerShell disposes a cmdlet that is IDisposable when its pipeline ends; the stop signal goes with it.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stopping.Dispose();
        }
    }

    /// <summary>
    /// The folder under which proc/, sys/, etc/ and var/log/ are read and written. Each family of cmdlets
    /// declares how it binds from the pipeline (see <see cref="ConntrackReadCmdlet"/>).
    /// </summary>
    public abstract string Root { get; set; }

    // After Ctrl+C the pipeline refuses every write: the engine's notes are dropped then, so the work that still
    // runs (Get-ConntrackEvent's summary into -SummaryVariable) is not cut short by one.
    void IEngineLog.Verbose(string message)
    {
        if (!Stopping)
        {
            WriteVerbose(message);
        }
    }

    // Before the pipeline binds anything, the bound parameters are the ones typed on the command line.
    private bool _networkNamespaceTyped;

    protected override void BeginProcessing()
    {
        _networkNamespaceTyped = MyInvocation.BoundParameters.ContainsKey("NetworkNamespace");
        base.BeginProcessing();
    }

    // One invocation reads some files for several purposes (Test-ConntrackHealth reads the sysctl files for the
    // limits, the boot order and the timeouts); a damaged file is one fact, so its warning is written once.
    private readonly HashSet<string> _warnings = new(StringComparer.Ordinal);

    void IEngineLog.Warning(string message)
    {
        if (_warnings.Add(message))
        {
            WriteWarning(message);
        }
    }

    // The engine throttles its records (at most one per 200 ms, none for work under 400 ms), so each goes out.
    // WriteProgress itself drops them under $ProgressPreference or -ProgressAction SilentlyContinue or Ignore.
    void IEngineLog.Progress(EngineProgress progress)
    {
        var record = new ProgressRecord((int)progress.Activity, progress.Title, progress.Status.Length == 0 ? " " : progress.Status)
        {
            PercentComplete = progress.PercentComplete,
            SecondsRemaining = progress.Remaining is { } left ? (int)Math.Ceiling(left.TotalSeconds) : -1,
            RecordType = progress.Completed ? ProgressRecordType.Completed : ProgressRecordType.Processing,
        };
        try
        {
            WriteProgress(record);
        }
        catch (PipelineStoppedException) when (progress.Completed)
        {
            // Ending the bar of work that was stopped: the host clears it with the pipeline anyway.
        }
    }

    /// <summary>Opens the root given to this invocation, resolved against the current PowerShell location.</summary>
    private protected SystemRoot OpenRoot() => SystemRoot.Open(ResolveRoot(), this, Cancellation);

    /// <summary>Opens an absolute folder (a file's folder, "/" for files given by path) with this invocation's log and stop signal.</summary>
    private protected SystemRoot OpenFolder(string fullPath) => SystemRoot.Open(fullPath, this, Cancellation);

    /// <summary>Images: which installed kernel to read (-KernelRelease of the cmdlets that offer it); null for the newest.</summary>
    protected virtual string? KernelReleaseToProbe => null;

    /// <summary>The RAM to compute kernel defaults for instead of MemTotal (-MemoryBytes where a cmdlet offers it for that).</summary>
    protected virtual long? MemoryBytesToProbe => null;

    /// <summary>Probes the kernel under the current root once per root for the life of the pipeline.</summary>
    protected ConntrackKernel ProbeKernel()
    {
        SystemRoot root = OpenRoot();
        // Inside -NetworkNamespace the per-namespace files answer differently, so each namespace has its own probe.
        string key = NamespaceContext.Current is { } ns ? $"{root.Path}|netns {ns.Inode}" : root.Path;
        if (!_kernels.TryGetValue(key, out ConntrackKernel? kernel))
        {
            kernel = KernelProbe.Probe(root, KernelReleaseToProbe, MemoryBytesToProbe);
            _kernels[key] = kernel;
        }

        return kernel;
    }

    /// <summary>
    /// Makes -NetworkNamespace current for one unit of work: the netlink sockets and the per-namespace files
    /// (proc/sys/net, proc/net) of the live root are then opened inside it, on a thread of its own. Null, and
    /// nothing entered, when no namespace was given or it is the one this process is in already.
    /// </summary>
    protected IDisposable? EnterNetworkNamespace(string? networkNamespace)
    {
        if (string.IsNullOrWhiteSpace(networkNamespace))
        {
            return null;
        }

        SystemRoot root = OpenRoot();
        if (!root.IsLive && !_networkNamespaceTyped)
        {
            // An object of a capture (Get-ConntrackKernel -Root X | ...) carries that capture's inode: it names no
            // namespace of this machine, and the capture is read as it is.
            WriteVerbose($"NetworkNamespace {networkNamespace} came with an object of {root.Path}; a capture is read as it was taken.");
            return null;
        }

        ResolvedNamespace resolved = NamespaceResolver.Resolve(root, networkNamespace);
        WriteVerbose($"-NetworkNamespace {networkNamespace}: network namespace {resolved.Inode} ({resolved.Path}){(resolved.IsOwn ? ", this process's own" : "")}.");
        return resolved.IsOwn ? null : NamespaceContext.Use(NamespaceThread.Enter(resolved.Path, resolved.Inode));
    }

    /// <summary>
    /// <see cref="Run"/> inside <paramref name="networkNamespace"/> (see <see cref="EnterNetworkNamespace"/>) on the
    /// kernel probed there: the sockets and per-namespace files the work opens are that namespace's, and the
    /// namespace is left when the work ends, however it ends.
    /// </summary>
    protected void RunInNetworkNamespace(string? networkNamespace, Action<ConntrackKernel> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        Run(() =>
        {
            using IDisposable? inside = EnterNetworkNamespace(networkNamespace);
            work(ProbeKernel());
        });
    }

    /// <summary>
    /// For the commands that read the table itself (entries, expectations, events): a running system whose tracker
    /// is not loaded has none, which is the engine's not-loaded error rather than an empty answer. A capture is
    /// read as it was taken.
    /// </summary>
    private protected static void RequireTable(ConntrackKernel kernel)
    {
        if (kernel.SystemRoot.IsLive && !kernel.IsLoaded)
        {
            throw LimitReader.NotLoaded(kernel);
        }
    }

    // The listeners run once, at the end of the pipeline; what it bound on the way is kept to refuse more than one namespace.
    private readonly List<string> _listenerNamespaces = [];

    /// <summary>For a listener's ProcessRecord: keeps each distinct -NetworkNamespace the pipeline binds.</summary>
    protected void KeepListenerNamespace(string? networkNamespace)
    {
        if (!string.IsNullOrWhiteSpace(networkNamespace) && !_listenerNamespaces.Contains(networkNamespace))
        {
            _listenerNamespaces.Add(networkNamespace);
        }
    }

    /// <summary>
    /// For the listeners (Get-ConntrackEvent, Watch-Conntrack), which run once at the end of the pipeline: runs
    /// <paramref name="listen"/> inside the one namespace kept (typed, or piped by property name), refusing several
    /// different ones (NamespaceOneAtATime) rather than silently listening in only the last.
    /// </summary>
    protected void ListenInOneNetworkNamespace(string listener, Action listen) => Run(() =>
    {
        using IDisposable? inside = EnterOneNetworkNamespace(listener);
        listen();
    });

    private IDisposable? EnterOneNetworkNamespace(string listener)
    {
        if (_listenerNamespaces.Count > 1 && OpenRoot() is { IsLive: true } root)
        {
            // One namespace may come by several names (its ip netns name and its inode): only distinct inodes count.
            var inodes = new HashSet<ulong>();
            foreach (string spec in _listenerNamespaces)
            {
                inodes.Add(NamespaceResolver.Resolve(root, spec).Inode);
            }

            if (inodes.Count > 1)
            {
                string all = string.Join(", ", _listenerNamespaces);
                throw new ConntrackException(ErrorIds.NamespaceOneAtATime, ErrorKind.InvalidArgument,
                    $"{listener} listens in one network namespace at a time; {inodes.Count} were given ({all}).", all,
                    "Pick one (Get-ConntrackNamespace | Where-Object Name -eq NAME | ...), or run one command per namespace, for example each in Start-ThreadJob.");
            }
        }

        return EnterNetworkNamespace(_listenerNamespaces.Count > 0 ? _listenerNamespaces[0] : null);
    }

    /// <summary>
    /// Runs one unit of work and turns the failures the engine foresees into non-terminating errors, so one bad
    /// root in a pipeline of many does not stop the others.
    /// </summary>
    protected void Run(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        try
        {
            work();
        }
        catch (OperationCanceledException) when (Cancellation.IsCancellationRequested)
        {
            // The engine saw Ctrl+C or PowerShell.Stop(): end the pipeline the way PowerShell's own commands do,
            // quietly, instead of as an error.
            throw new PipelineStoppedException();
        }
        catch (ConntrackException e)
        {
            WriteError(ToErrorRecord(e));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            WriteError(ToErrorRecord(new ConntrackException(ErrorIds.FileReadFailed,
                e is UnauthorizedAccessException ? ErrorKind.PermissionDenied : ErrorKind.ReadError,
                e.Message, Root, "Check that the file is readable by this user; files under /sys/module need root.", e)));
        }
    }

    /// <summary>
    /// Writes to the pipeline outside -NetworkNamespace: the next command runs inside this call, on this thread,
    /// and would otherwise inherit the namespace entered here, so that `Get-ConntrackTimeout -NetworkNamespace X |
    /// Set-ConntrackTimeout` changed X when streamed but the host when the objects were saved first.
    /// </summary>
    protected new void WriteObject(object? sendToPipeline)
    {
        if (NamespaceContext.Current is null)
        {
            base.WriteObject(sendToPipeline);
            return;
        }

        using NamespaceContext.SuspendedScope outside = NamespaceContext.Suspend();
        base.WriteObject(sendToPipeline);
    }

    protected new void WriteObject(object? sendToPipeline, bool enumerateCollection)
    {
        using NamespaceContext.SuspendedScope outside = NamespaceContext.Suspend();
        base.WriteObject(sendToPipeline, enumerateCollection);
    }

    protected static ErrorRecord ToErrorRecord(ConntrackException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        ErrorCategory category = Enum.TryParse(exception.Kind.ToString(), out ErrorCategory parsed)
            ? parsed
            : ErrorCategory.NotSpecified;
        var record = new ErrorRecord(exception, exception.ErrorId, category, exception.Target);
        if (exception.RecommendedAction is { } action)
        {
            // pwsh shows RecommendedAction under the message as "Recommendation:"; scripts read it from ErrorDetails.
            record.ErrorDetails = new ErrorDetails(exception.Message) { RecommendedAction = action };
        }

        return record;
    }
}
