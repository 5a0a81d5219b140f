using System;
using System.Diagnostics;
using System.IO;
using ConntrackTuning.Engine.Platform;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>A fact that needs root (to chown, mknod or act as another user); skipped elsewhere with the reason.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!ProcessIdentity.IsRoot)
        {
            Skip = "needs root (run the tests as root to include it)";
        }
        else if (!File.Exists(AsNobody.Python) || !File.Exists("/usr/bin/setpriv") || !File.Exists("/usr/bin/mkfifo"))
        {
            Skip = $"needs {AsNobody.Python}, setpriv and mkfifo (apt-get install python3 util-linux coreutils)";
        }
    }
}

/// <summary>A fact that needs root and nothing else (to chown a file to another user); skipped elsewhere with the reason.</summary>
public sealed class RootOnlyFactAttribute : FactAttribute
{
    public RootOnlyFactAttribute()
    {
        if (!ProcessIdentity.IsRoot)
        {
            Skip = "needs root to give a file another owner (run the tests as root to include it)";
        }
    }
}

/// <summary>A fact that reads the running kernel's conntrack; skipped where nf_conntrack is not loaded.</summary>
public sealed class LiveConntrackFactAttribute : FactAttribute
{
    public LiveConntrackFactAttribute()
    {
        if (!File.Exists("/proc/sys/net/netfilter/nf_conntrack_max"))
        {
            Skip = "this kernel has no nf_conntrack loaded (modprobe nf_conntrack, or run where it is)";
        }
    }
}

/// <summary>
/// A helper process run as the unprivileged user nobody (setpriv, all groups dropped): a small python3 script that
/// prints "ready" once it has done its setup, then works until it is stopped. Disposing kills it.
/// </summary>
public sealed class AsNobody : IDisposable
{
    public const string Python = "/usr/bin/python3";

    private readonly Process _process;

    public AsNobody(string script, params string[] arguments)
    {
        var start = new ProcessStartInfo("/usr/bin/setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { "--reuid=nobody", "--regid=nogroup", "--clear-groups", Python, "-c", script })
        {
            start.ArgumentList.Add(a);
        }

        foreach (string a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        _process = Process.Start(start)!;
        string? first = _process.StandardOutput.ReadLine();
        if (first != "ready")
        {
            string error = _process.StandardError.ReadToEnd();
            Dispose();
            throw new InvalidOperationException($"The helper run as nobody did not start: {first} {error}");
        }
    }

    /// <summary>Stops the helper and returns what it printed after "ready".</summary>
    public string Stop()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        _process.WaitForExit();
        return _process.StandardOutput.ReadToEnd();
    }

    /// <summary>Runs a script as nobody to its end and returns its exit code.</summary>
    public static int Run(string script, params string[] arguments)
    {
        var start = new ProcessStartInfo("/usr/bin/setpriv") { UseShellExecute = false, RedirectStandardError = true };
        foreach (string a in new[] { "--reuid=nobody", "--regid=nogroup", "--clear-groups", Python, "-c", script })
        {
            start.ArgumentList.Add(a);
        }

        foreach (string a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using Process p = Process.Start(start)!;
        p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode;
    }

    /// <summary>Gives a whole tree to nobody, as a customer's tree belongs to whoever made it.</summary>
    public static void Chown(string path)
    {
        using Process p = Process.Start("/bin/chown", ["-R", "nobody:nogroup", path])!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
    }
}
