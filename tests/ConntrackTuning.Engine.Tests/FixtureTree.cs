using System;
using System.IO;
using ConntrackTuning.Engine.Platform;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// A private copy of a fixture tree from tests/fixtures, with the file modes recorded in its .modes file
/// applied (git keeps only the executable bit, and modes are what tell the engine a knob is writable).
/// Disposing deletes the copy.
/// </summary>
public sealed class FixtureTree : IDisposable
{
    /// <summary>The copies' folder names begin with this; under it, proc/ and sys/ files stand in for a kernel.</summary>
    public static readonly string KernelPrefix = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ctt-fixture-");

    static FixtureTree() => Environment.SetEnvironmentVariable(PlatformHooks.KernelRootsVariable, KernelPrefix);

    /// <param name="simulatesKernel">False for a copy that is a capture like any a user names (a sosreport): no run-time write.</param>
    public FixtureTree(string name, bool simulatesKernel = true)
    {
        Name = name;
        Path = simulatesKernel
            ? KernelPrefix + Guid.NewGuid().ToString("n")
            : System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ctt-capture-" + Guid.NewGuid().ToString("n"));
        string source = System.IO.Path.Combine(FixturesDirectory, name);
        if (!Directory.Exists(source))
        {
            throw new DirectoryNotFoundException($"No fixture '{name}' under {FixturesDirectory}.");
        }

        CopyDirectory(source, Path);
        string modes = System.IO.Path.Combine(FixturesDirectory, name + ".modes");
        if (System.IO.File.Exists(modes))
        {
            foreach (string line in System.IO.File.ReadAllLines(modes))
            {
                string[] parts = line.Trim().Split(' ', 2, StringSplitOptions.RemoveEmptyEntries);
                string target = parts.Length == 2 ? System.IO.Path.Combine(Path, parts[1]) : "";
                if (parts.Length == 2 && System.IO.File.Exists(target))
                {
                    System.IO.File.SetUnixFileMode(target, (UnixFileMode)Convert.ToInt32(parts[0], 8));
                }
            }
        }
    }

    public string Name { get; }

    public string Path { get; }

    internal SystemRoot Open(IEngineLog? log = null) => SystemRoot.Open(Path, log);

    public string File(string relative) => System.IO.Path.Combine(Path, relative);

    public void Write(string relative, string content)
    {
        string full = File(relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        System.IO.File.WriteAllText(full, content);
    }

    public void Delete(string relative)
    {
        string full = File(relative);
        if (Directory.Exists(full))
        {
            Directory.Delete(full, recursive: true);
        }
        else
        {
            System.IO.File.Delete(full);
        }
    }

    public void Chmod(string relative, string octal) =>
        System.IO.File.SetUnixFileMode(File(relative), (UnixFileMode)Convert.ToInt32(octal, 8));

    public static string FixturesDirectory { get; } = FindFixtures();

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string FindFixtures()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = System.IO.Path.GetDirectoryName(dir))
        {
            string candidate = System.IO.Path.Combine(dir, "tests", "fixtures");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("tests/fixtures not found above " + AppContext.BaseDirectory);
    }

    private static void CopyDirectory(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (string file in Directory.EnumerateFiles(source))
        {
            System.IO.File.Copy(file, System.IO.Path.Combine(destination, System.IO.Path.GetFileName(file)));
        }

        foreach (string dir in Directory.EnumerateDirectories(source))
        {
            CopyDirectory(dir, System.IO.Path.Combine(destination, System.IO.Path.GetFileName(dir)));
        }
    }
}

/// <summary>Collects what the engine logs, so tests can assert on warnings.</summary>
public sealed class RecordingLog : IEngineLog
{
    public System.Collections.Generic.List<string> Verbose { get; } = [];

    public System.Collections.Generic.List<string> Warnings { get; } = [];

    void IEngineLog.Verbose(string message) => Verbose.Add(message);

    void IEngineLog.Warning(string message) => Warnings.Add(message);
}
