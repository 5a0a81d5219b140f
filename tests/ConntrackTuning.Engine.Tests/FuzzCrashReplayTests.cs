using System;
using System.IO;
using System.Linq;
using ConntrackTuning.Fuzz;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// Every input the fuzzer ever saved (tests/fuzz-crashes/&lt;target&gt;/*.bin) goes through its target again: what
/// once crashed must now give a result or the engine's own error.
/// </summary>
public class FuzzCrashReplayTests
{
    private static readonly string Crashes = Path.Combine(Path.GetDirectoryName(FixtureTree.FixturesDirectory)!, "fuzz-crashes");

    public static TheoryData<string, string> SavedInputs()
    {
        var data = new TheoryData<string, string>();
        foreach (string folder in Directory.EnumerateDirectories(Crashes).Order(StringComparer.Ordinal))
        {
            foreach (string file in Directory.EnumerateFiles(folder).Order(StringComparer.Ordinal))
            {
                data.Add(Path.GetFileName(folder), Path.GetFileName(file));
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SavedInputs))]
    public void A_saved_finding_passes_its_target(string target, string file)
    {
        FuzzTarget fuzz = Targets.Get(target);
        fuzz.Setup(FixtureTree.FixturesDirectory);
        try
        {
            Exception? crash = FuzzRunner.RunOne(fuzz, File.ReadAllBytes(Path.Combine(Crashes, target, file)));
            Assert.True(crash is null, $"{target}/{file}: {crash}");
        }
        finally
        {
            fuzz.Teardown();
        }
    }

    [Fact]
    public void Every_folder_of_saved_findings_names_a_target()
    {
        // A renamed target would otherwise leave its findings unreplayed without a word.
        string[] names = Targets.All.Select(t => t.Name).ToArray();
        Assert.All(Directory.EnumerateDirectories(Crashes), d => Assert.Contains(Path.GetFileName(d), names));
        Assert.NotEmpty(SavedInputs());
    }

    [Fact]
    public void Every_target_runs_its_seeds_without_a_finding()
    {
        // The seeds are what each run starts from; one that fails would stop the fuzzer before any mutation.
        foreach (FuzzTarget fuzz in Targets.All)
        {
            fuzz.Setup(FixtureTree.FixturesDirectory);
            try
            {
                byte[][] seeds = fuzz.Seeds(FixtureTree.FixturesDirectory).ToArray();
                Assert.True(seeds.Length > 0, $"{fuzz.Name} has no seeds");
                Assert.All(seeds, s => Assert.Null(FuzzRunner.RunOne(fuzz, s)));
            }
            finally
            {
                fuzz.Teardown();
            }
        }
    }
}
