using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using ConntrackTuning.Engine;
using ConntrackTuning.Fuzz;

// Usage: ConntrackTuning.Fuzz [--seconds N per target] [--seed S] [--target NAME] [--fixtures DIR] [--crashes DIR]
var options = Options.Parse(args);
var targets = Targets.All.Where(t => options.Target is null || t.Name == options.Target).ToList();
if (targets.Count == 0)
{
    Console.Error.WriteLine($"No fuzz target named '{options.Target}'. Targets: {string.Join(", ", Targets.All.Select(t => t.Name))}");
    return 2;
}

long total = 0;
int crashed = 0;
foreach (FuzzTarget target in targets)
{
    var corpus = target.Seeds(options.Fixtures).ToList();
    var mutator = new Mutator(options.Seed ^ target.Name.GetHashCode(StringComparison.Ordinal));
    target.Setup();
    long executions = 0;
    string? crash = null;
    var watch = Stopwatch.StartNew();
    try
    {
        // Seeds first, as they are; then mutants until the time is up.
        foreach (byte[] seed in corpus)
        {
            crash ??= Execute(target, seed, options);
            executions++;
        }

        while (crash is null && watch.Elapsed.TotalSeconds < options.Seconds)
        {
            byte[] input = mutator.Mutate(corpus[mutator.Next(corpus.Count)], corpus);
            crash = Execute(target, input, options);
            executions++;
        }
    }
    finally
    {
        target.Teardown();
    }

    total += executions;
    if (crash is not null)
    {
        crashed++;
    }

    Console.WriteLine($"{target.Name}: {executions} executions in {watch.Elapsed.TotalSeconds:F1} s, {(crash is null ? "no crash" : "CRASH saved to " + crash)}");
}

Console.WriteLine($"fuzz: {total} executions over {targets.Count} targets, {crashed} crashed, seed {options.Seed}");
return crashed == 0 ? 0 : 1;

static string? Execute(FuzzTarget target, byte[] input, Options options)
{
    try
    {
        target.Run(input);
        return null;
    }
    catch (ConntrackException)
    {
        return null;
    }
    catch (Exception e)
    {
        string dir = Path.Combine(options.Crashes, target.Name);
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, Convert.ToHexString(SHA256.HashData(input))[..16].ToLowerInvariant() + ".bin");
        File.WriteAllBytes(file, input);
        Console.Error.WriteLine($"{target.Name}: {e.GetType().Name}: {e.Message}");
        return file;
    }
}

internal sealed record Options(double Seconds, int Seed, string? Target, string Fixtures, string Crashes)
{
    public static Options Parse(string[] args)
    {
        string repo = FindRepo();
        var o = new Options(2, 1, null, Path.Combine(repo, "tests", "fixtures"), Path.Combine(repo, "tests", "fuzz-crashes"));
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            o = args[i] switch
            {
                "--seconds" => o with { Seconds = double.Parse(args[i + 1], CultureInfo.InvariantCulture) },
                "--seed" => o with { Seed = int.Parse(args[i + 1], CultureInfo.InvariantCulture) },
                "--target" => o with { Target = args[i + 1] },
                "--fixtures" => o with { Fixtures = args[i + 1] },
                "--crashes" => o with { Crashes = args[i + 1] },
                _ => throw new ArgumentException($"Unknown option {args[i]}."),
            };
        }

        return o;
    }

    private static string FindRepo()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "ConntrackTuning.sln")))
            {
                return dir;
            }
        }

        return Directory.GetCurrentDirectory();
    }
}
