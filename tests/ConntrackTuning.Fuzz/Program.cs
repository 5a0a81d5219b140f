using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using ConntrackTuning.Fuzz;

// Usage: ConntrackTuning.Fuzz [--seconds N per target] [--seed S] [--target NAME] [--fixtures DIR] [--crashes DIR] [--hang-seconds N]
//        ConntrackTuning.Fuzz --replay tests/fuzz-crashes/TARGET/FILE
var options = Options.Parse(args);
var targets = Targets.All.Where(t => options.Target is null || t.Name == options.Target).ToList();
if (targets.Count == 0)
{
    Console.Error.WriteLine($"No fuzz target named '{options.Target}'. Targets: {string.Join(", ", Targets.All.Select(t => t.Name))}");
    return 2;
}

if (options.Replay is { } replay)
{
    // One saved input through its target (--target names it, or the folder it is saved in does), with the full trace.
    FuzzTarget target = Targets.Get(options.Target ?? Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(replay)))!);
    target.Setup(options.Fixtures);
    try
    {
        Exception? found = FuzzRunner.RunOne(target, File.ReadAllBytes(replay));
        Console.WriteLine(found is null ? $"{target.Name}: {replay} passes" : $"{target.Name}: {found}");
        return found is null ? 0 : 1;
    }
    finally
    {
        target.Teardown();
    }
}

// A hang is a finding like a crash: the input in progress is saved and the run ends, since the stuck call cannot be
// stopped from inside the process.
var current = new Current();
using var watchdog = new Timer(_ =>
{
    if (current.Started is { } started && current.Target is { } t && current.Input is { } input
        && Stopwatch.GetElapsedTime(started).TotalSeconds > options.HangSeconds)
    {
        string file = FuzzRunner.Save(options.Crashes, t.Name, input);
        Console.WriteLine($"{t.Name}: {current.Executions} executions, CRASH (no answer within {options.HangSeconds} s) saved to {file}");
        Console.Out.Flush();
        Environment.Exit(1);
    }
}, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

long total = 0;
int crashed = 0;
var all = Stopwatch.StartNew();
foreach (FuzzTarget target in targets)
{
    target.Setup(options.Fixtures);
    var corpus = target.Seeds(options.Fixtures).ToList();
    var mutator = new Mutator(FuzzRunner.TargetSeed(options.Seed, target.Name));
    long executions = 0;
    string? crash = null;
    var watch = Stopwatch.StartNew();
    try
    {
        // Seeds first, as they are; then mutants until the time is up.
        foreach (byte[] seed in corpus)
        {
            crash ??= Execute(target, seed);
            executions++;
        }

        while (crash is null && watch.Elapsed.TotalSeconds < options.Seconds)
        {
            byte[] input = mutator.Mutate(corpus[mutator.Next(corpus.Count)], corpus);
            crash = Execute(target, input);
            executions++;
        }
    }
    finally
    {
        current.Started = null;
        target.Teardown();
    }

    total += executions;
    if (crash is not null)
    {
        crashed++;
    }

    Console.WriteLine($"{target.Name}: {executions} executions in {watch.Elapsed.TotalSeconds:F1} s, {(crash is null ? "no crash" : "CRASH saved to " + crash)}");

    string? Execute(FuzzTarget t, byte[] input)
    {
        (current.Target, current.Input, current.Executions) = (t, input, executions);
        current.Started = Stopwatch.GetTimestamp();
        Exception? e = FuzzRunner.RunOne(t, input);
        current.Started = null;
        if (e is null)
        {
            return null;
        }

        Console.Error.WriteLine($"{t.Name}: {e.GetType().Name}: {e.Message}");
        return FuzzRunner.Save(options.Crashes, t.Name, input);
    }
}

Console.WriteLine($"fuzz: {total} executions over {targets.Count} targets in {all.Elapsed.TotalSeconds:F0} s, {crashed} crashed, seed {options.Seed}");
return crashed == 0 ? 0 : 1;

/// <summary>What the watchdog looks at: the input under way and since when.</summary>
internal sealed class Current
{
    private long _started = -1;

    public FuzzTarget? Target { get; set; }

    public byte[]? Input { get; set; }

    public long Executions { get; set; }

    public long? Started
    {
        get => Interlocked.Read(ref _started) is var s and >= 0 ? s : null;
        set => Interlocked.Exchange(ref _started, value ?? -1);
    }
}

internal sealed record Options(double Seconds, int Seed, string? Target, string Fixtures, string Crashes, double HangSeconds, string? Replay = null)
{
    public static Options Parse(string[] args)
    {
        string repo = FuzzRunner.FindRepo();
        var o = new Options(2, 1, null, Path.Combine(repo, "tests", "fixtures"), Path.Combine(repo, "tests", "fuzz-crashes"), 20);
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            o = args[i] switch
            {
                "--seconds" => o with { Seconds = double.Parse(args[i + 1], CultureInfo.InvariantCulture) },
                "--seed" => o with { Seed = int.Parse(args[i + 1], CultureInfo.InvariantCulture) },
                "--target" => o with { Target = args[i + 1] },
                "--fixtures" => o with { Fixtures = args[i + 1] },
                "--crashes" => o with { Crashes = args[i + 1] },
                "--replay" => o with { Replay = args[i + 1] },
                "--hang-seconds" => o with { HangSeconds = double.Parse(args[i + 1], CultureInfo.InvariantCulture) },
                _ => throw new ArgumentException($"Unknown option {args[i]}."),
            };
        }

        return o;
    }
}
