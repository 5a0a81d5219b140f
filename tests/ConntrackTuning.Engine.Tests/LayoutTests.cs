using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// The layout docs/ARCHITECTURE.md promises a newcomer: namespace = folder, every engine folder described, and no
/// source file grown past the size at which it starts to hold several concepts. Read from the source tree, so a
/// new folder or a drifting namespace fails here rather than in a reviewer's head.
/// </summary>
public class LayoutTests
{
    private const int MaxLinesPerFile = 400;

    private static readonly string Repo = FindRepo();

    private static string Engine => Path.Combine(Repo, "src", "ConntrackTuning.Engine");

    private static string[] SourceFiles(string folder) => Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories)
        .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
        .ToArray();

    [Fact]
    public void Every_engine_file_is_in_the_namespace_of_its_folder()
    {
        var wrong = SourceFiles(Engine).Select(file =>
        {
            string folder = Path.GetRelativePath(Engine, Path.GetDirectoryName(file)!).Replace(Path.DirectorySeparatorChar, '.');
            // Model keeps the user-facing namespace (ARCHITECTURE.md, "The Model namespace exception").
            string expected = folder == "." ? "ConntrackTuning.Engine" : folder == "Model" ? "ConntrackTuning" : "ConntrackTuning.Engine." + folder;
            string? actual = Regex.Match(File.ReadAllText(file), @"^namespace ([\w.]+);", RegexOptions.Multiline) is { Success: true } m ? m.Groups[1].Value : null;
            return (file: Path.GetRelativePath(Engine, file), expected, actual);
        }).Where(x => x.actual != x.expected).Select(x => $"{x.file}: namespace {x.actual ?? "(none)"}, expected {x.expected}").ToArray();

        Assert.True(wrong.Length == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void Engine_types_are_internal_but_the_output_types_and_the_top_level_error_contract()
    {
        // A user sees the Model types (namespace ConntrackTuning) and the error contract at the top level; the
        // feature folders are the engine's own business, reached by the cmdlets through InternalsVisibleTo.
        string[] exposed = typeof(ConntrackException).Assembly.GetExportedTypes()
            .Where(t => t.Namespace is not ("ConntrackTuning" or "ConntrackTuning.Engine"))
            .Select(t => t.FullName!)
            .ToArray();

        Assert.True(exposed.Length == 0, "public outside Model and the top level: " + string.Join(", ", exposed));
    }

    [Fact]
    public void Architecture_names_every_engine_folder()
    {
        string architecture = File.ReadAllText(Path.Combine(Repo, "docs", "ARCHITECTURE.md"));
        string[] missing = Directory.EnumerateDirectories(Engine).Select(Path.GetFileName).OfType<string>()
            .Where(name => name is not ("bin" or "obj") && !architecture.Contains($"`{name}/`"))
            .ToArray();

        Assert.True(missing.Length == 0, "docs/ARCHITECTURE.md does not describe: " + string.Join(", ", missing));
    }

    [Fact]
    public void No_source_file_is_longer_than_the_layout_allows()
    {
        string[] tooLong = SourceFiles(Path.Combine(Repo, "src"))
            .Select(f => (file: Path.GetRelativePath(Repo, f), lines: File.ReadLines(f).Count()))
            .Where(x => x.lines > MaxLinesPerFile)
            .Select(x => $"{x.file}: {x.lines} lines")
            .ToArray();

        Assert.True(tooLong.Length == 0, $"split by concept (at most {MaxLinesPerFile} lines): " + string.Join("; ", tooLong));
    }

    private static string FindRepo()
    {
        for (string? dir = System.AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "ConntrackTuning.sln")))
            {
                return dir;
            }
        }

        throw new DirectoryNotFoundException("ConntrackTuning.sln not found above " + System.AppContext.BaseDirectory);
    }
}
