using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using System.Management.Automation;
using ConntrackTuning.Engine;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Platform;

namespace ConntrackTuning.Commands;

/// <summary>
/// What every cmdlet shares: the -Root parameter, one kernel probe per root, the bridge from the engine's log
/// to the verbose and warning streams, and the translation of engine failures into error records.
/// </summary>
public abstract class ConntrackCmdlet : PSCmdlet, IEngineLog
{
    private readonly Dictionary<string, ConntrackKernel> _kernels = new(StringComparer.Ordinal);

    private readonly CancellationTokenSource _stopping = new();

    /// <summary>Cancelled by Ctrl+C or PowerShell.Stop(); handed to the engine with every root this invocation opens.</summary>
    protected CancellationToken Cancellation => _stopping.Token;

    protected override void StopProcessing()
    {
        _stopping.Cancel();
        base.StopProcessing();
    }

    /// <summary>
    /// The folder under which proc/, sys/, etc/ and var/log/ are read and written. Each family of cmdlets
    /// declares how it binds from the pipeline (see <see cref="ConntrackReadCmdlet"/>).
    /// </summary>
    public abstract string Root { get; set; }

    void IEngineLog.Verbose(string message) => WriteVerbose(message);

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

    /// <summary>Opens the root given to this invocation, resolved against the current PowerShell location.</summary>
    protected SystemRoot OpenRoot() => SystemRoot.Open(ResolveRoot(), this, Cancellation);

    /// <summary>-Root as an absolute path. A NUL (which no path holds) is the engine's RootPathInvalid, not PowerShell's ArgumentException.</summary>
    protected string ResolveRoot() =>
        Root.Contains('\0', StringComparison.Ordinal) ? throw SystemRoot.InvalidRootPath(Root) : SessionState.Path.GetUnresolvedProviderPathFromPSPath(Root);

    /// <summary>Probes the kernel under the current root once per root for the life of the pipeline.</summary>
    protected ConntrackKernel ProbeKernel()
    {
        SystemRoot root = OpenRoot();
        if (!_kernels.TryGetValue(root.Path, out ConntrackKernel? kernel))
        {
            kernel = KernelProbe.Probe(root);
            _kernels[root.Path] = kernel;
        }

        return kernel;
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
