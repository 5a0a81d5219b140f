using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace ConntrackTuning.Engine.Namespaces;

/// <summary>
/// A thread of our own that lives in another network namespace and runs the opens that must happen there.
/// setns(CLONE_NEWNET) changes the namespace of the calling thread only, so it never runs on a pool or pipeline
/// thread; what is opened on this thread keeps its namespace after the thread hands it back: a netlink socket
/// stays in the namespace it was created in, and a /proc/sys/net file answers for the namespace of its opener.
/// /proc/net is /proc/self/net, the main thread's, so the per-namespace procfs files are opened as
/// /proc/thread-self/net (see <see cref="NamespaceContext"/>).
/// </summary>
internal sealed class NamespaceThread : IDisposable
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _entered = new();
    private int _enterErrno;

    private NamespaceThread(int fd, ulong inode, string path)
    {
        Inode = inode;
        InodeText = inode.ToString(CultureInfo.InvariantCulture);
        Path = path;
        _thread = new Thread(() => Loop(fd)) { IsBackground = true, Name = "netns " + inode };
        _thread.Start();
        _entered.Wait();
    }

    /// <summary>The namespace's inode.</summary>
    public ulong Inode { get; }

    /// <summary>The inode as the records carry it, made once: every entry read inside the namespace names it.</summary>
    public string InodeText { get; }

    /// <summary>The nsfs path it was entered from.</summary>
    public string Path { get; }

    /// <summary>
    /// Enters the namespace at an nsfs path (/proc/PID/ns/net, /run/netns/NAME). Throws a ConntrackException
    /// (NamespaceEnterFailed) when the path cannot be opened or setns refuses it.
    /// </summary>
    public static NamespaceThread Enter(string nsfsPath, ulong inode)
    {
        int fd = Native.Open(nsfsPath, Native.O_RDONLY | Native.O_CLOEXEC);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw Failed(nsfsPath, inode, "open", errno);
        }

        var thread = new NamespaceThread(fd, inode, nsfsPath);
        if (thread._enterErrno != 0)
        {
            int errno = thread._enterErrno;
            thread.Dispose();
            throw Failed(nsfsPath, inode, "setns", errno);
        }

        return thread;
    }

    /// <summary>Runs a function on the namespace's thread and returns its result, or rethrows what it threw.</summary>
    public T Invoke<T>(Func<T> function)
    {
        ArgumentNullException.ThrowIfNull(function);
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        using var done = new ManualResetEventSlim();
        // The caller's context flows along, so the function sees the same NamespaceContext.Current as its caller.
        ExecutionContext? context = ExecutionContext.Capture();
        _work.Add(() =>
        {
            try
            {
                if (context is null)
                {
                    result = function();
                }
                else
                {
                    ExecutionContext.Run(context, _ => result = function(), null);
                }
            }
#pragma warning disable CA1031 // Whatever the open threw belongs to the caller, on the caller's thread.
            catch (Exception e)
#pragma warning restore CA1031
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
            finally
            {
                done.Set();
            }
        });
        done.Wait();
        failure?.Throw();
        return result;
    }

    private void Loop(int fd)
    {
        try
        {
            if (Native.Setns(fd, Native.CLONE_NEWNET) != 0)
            {
                _enterErrno = Marshal.GetLastPInvokeError();
                return;
            }

            // A /proc/PID/ns/net path may have been a reused pid by now: the namespace entered must be the one meant.
            if (NamespaceDiscovery.ParseLink(new System.IO.FileInfo("/proc/thread-self/ns/net").LinkTarget) is { } entered && entered != Inode)
            {
                _enterErrno = Errno.ENOENT;
                return;
            }
        }
        finally
        {
            _ = Native.Close(fd);
            _entered.Set();
        }

        // The thread ends in the other namespace; it is ours alone, so nothing else ever runs on it.
        foreach (Action action in _work.GetConsumingEnumerable())
        {
            action();
        }
    }

    private static ConntrackException Failed(string path, ulong inode, string call, int errno) =>
        new(ErrorIds.NamespaceEnterFailed, errno is Errno.EPERM or Errno.EACCES ? ErrorKind.PermissionDenied : ErrorKind.ResourceUnavailable,
            $"Cannot enter network namespace {inode} ({path}): {call} failed with {Errno.Message(errno)}.", path,
            errno is Errno.EPERM or Errno.EACCES
                ? "Run pwsh as root: entering another network namespace needs CAP_SYS_ADMIN."
                : "The namespace may have just gone; list the current ones with Get-ConntrackNamespace.");

    public void Dispose()
    {
        _work.CompleteAdding();
        if (_thread.IsAlive)
        {
            _thread.Join();
        }

        _work.Dispose();
        _entered.Dispose();
    }
}

/// <summary>
/// The network namespace the current operation reads and writes in, when it is not this process's own: set by a
/// cmdlet's -NetworkNamespace for the length of one unit of work. The netlink transport and the live root's
/// per-namespace files (proc/sys/net, proc/net) consult it; everything else is shared by every namespace.
/// </summary>
internal static class NamespaceContext
{
    private static readonly AsyncLocal<NamespaceThread?> CurrentThread = new();

    public static NamespaceThread? Current => CurrentThread.Value;

    /// <summary>
    /// The inode of the namespace entered with -NetworkNamespace, as the records that name it carry it; null in this
    /// process's own namespace, where the records say nothing.
    /// </summary>
    public static string? CurrentInode => CurrentThread.Value?.InodeText;

    /// <summary>Makes a namespace current until the returned scope is disposed (which also leaves its thread).</summary>
    public static IDisposable Use(NamespaceThread thread)
    {
        NamespaceThread? previous = CurrentThread.Value;
        CurrentThread.Value = thread;
        return new Scope(previous, thread);
    }

    /// <summary>
    /// Leaves the current namespace until the returned scope is disposed, without ending it: a cmdlet's output runs
    /// the next command of the pipeline on this thread, inside the call that writes it, and that command must
    /// start in the process's own namespace rather than read and change the one this command entered.
    /// </summary>
    public static SuspendedScope Suspend()
    {
        NamespaceThread? previous = CurrentThread.Value;
        CurrentThread.Value = null;
        return new SuspendedScope(previous);
    }

    /// <summary>Puts the suspended namespace back.</summary>
    public readonly struct SuspendedScope(NamespaceThread? previous) : IDisposable
    {
        public void Dispose() => CurrentThread.Value = previous;
    }

    /// <summary>Whether a root-relative path answers differently in each network namespace.</summary>
    public static bool IsPerNamespace(string relative)
    {
        relative = relative.TrimStart('/');
        return relative.StartsWith("proc/sys/net/", StringComparison.Ordinal) || relative == "proc/sys/net"
            || relative.StartsWith("proc/net/", StringComparison.Ordinal) || relative == "proc/net"
            || relative.StartsWith("proc/self/net/", StringComparison.Ordinal)
            || relative == "proc/self/ns/net";
    }

    /// <summary>proc/net and proc/self/net name the main thread's namespace; the namespace thread's own is thread-self.</summary>
    public static string Rewrite(string relative)
    {
        string t = relative.TrimStart('/');
        if (t == "proc/net" || t.StartsWith("proc/net/", StringComparison.Ordinal))
        {
            return "proc/thread-self/net" + t[8..];
        }

        return t.StartsWith("proc/self/", StringComparison.Ordinal) ? "proc/thread-self/" + t[10..] : relative;
    }

    /// <summary>Runs an open on the current namespace's thread when the path is per-namespace and the root is live; otherwise here.</summary>
    public static T Run<T>(bool live, string relative, Func<T> open) =>
        live && Current is { } thread && IsPerNamespace(relative) ? thread.Invoke(open) : open();

    private sealed class Scope(NamespaceThread? previous, NamespaceThread thread) : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (!_disposed)
            {
                _disposed = true;
                CurrentThread.Value = previous;
                thread.Dispose();
            }
        }
    }
}
