using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// The one list of error ids (ErrorIds) against the code and the tests, read as text: every id is emitted by the
/// module and provoked by a test that asserts it; no code emits an id from outside the list; no test asserts an id
/// that is not on it (or one of PowerShell's own parameter-binding ids).
/// </summary>
public partial class ErrorIdTests
{
    private static readonly string Repository = Path.GetDirectoryName(Path.GetDirectoryName(FixtureTree.FixturesDirectory)!)!;

    private static readonly string[] Ids = typeof(ErrorIds).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToArray();

    /// <summary>Ids PowerShell itself gives when parameter binding fails, which Pester tests assert too.</summary>
    private static readonly string[] PowerShellIds =
        ["ParameterArgumentValidationError", "CannotConvertArgumentNoMessage", "AmbiguousParameterSet", "ParameterArgumentTransformationError",
         "MissingMandatoryParameter", "NamedParameterNotFound", "ParameterBindingFailed", "InputObjectNotBound", "CommandNotFoundException"];

    private static IEnumerable<(string File, string Text)> Sources(string folder, string pattern, params string[] except) =>
        Directory.EnumerateFiles(Path.Combine(Repository, folder), pattern, SearchOption.AllDirectories)
            .Select(f => (Relative: "/" + Path.GetRelativePath(Repository, f), Full: f))
            // On the path inside the repository: a clone under, say, /srv/bin/ must not hide every file.
            .Where(f => !f.Relative.Contains("/obj/", StringComparison.Ordinal) && !f.Relative.Contains("/bin/", StringComparison.Ordinal))
            .Where(f => !except.Contains(Path.GetFileName(f.Full)))
            .Select(f => (f.Relative[1..], File.ReadAllText(f.Full)));

    // A FullyQualifiedErrorId asserted in Pester: 'Id,ConntrackTuning.Commands.X' or "Id,$cmd".
    [GeneratedRegex("""['"](?<id>[A-Za-z]+),(?:ConntrackTuning\.|\$)""")]
    private static partial Regex PesterLiteral();

    // Test cases that pass the id in: @{ ...; Id = 'X' } in a file asserting "$Id,...".
    [GeneratedRegex("""\bId\s*=\s*'(?<id>[A-Za-z]+)'""", RegexOptions.IgnoreCase)]
    private static partial Regex PesterTestCase();

    // ErrorIds.X on a line that asserts it: Assert..., Refused(..., [InlineData(...)], an expectation row "XError: ErrorIds.X".
    [GeneratedRegex("""^.*(?:Assert|Refused\(|InlineData\(|Error:|ErrorId).*$""", RegexOptions.Multiline)]
    private static partial Regex AssertingLine();

    [GeneratedRegex("""ErrorIds\.(?<id>[A-Za-z]+)""")]
    private static partial Regex ErrorIdReference();

    private static HashSet<string> ProvokedInPester()
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach ((_, string text) in Sources("tests", "*.Tests.ps1"))
        {
            ids.UnionWith(PesterLiteral().Matches(text).Select(m => m.Groups["id"].Value));
            if (text.Contains("\"$Id,", StringComparison.OrdinalIgnoreCase))
            {
                ids.UnionWith(PesterTestCase().Matches(text).Select(m => m.Groups["id"].Value));
            }
        }

        return ids;
    }

    private static HashSet<string> ProvokedInXunit() =>
        Sources(Path.Combine("tests", "ConntrackTuning.Engine.Tests"), "*.cs", "ErrorIdTests.cs")
            .SelectMany(s => AssertingLine().Matches(s.Text))
            .SelectMany(line => ErrorIdReference().Matches(line.Value).Select(m => m.Groups["id"].Value))
            .ToHashSet(StringComparer.Ordinal);

    [Fact]
    public void Every_error_id_is_provoked_by_a_test_that_asserts_it()
    {
        HashSet<string> pester = ProvokedInPester();
        HashSet<string> xunit = ProvokedInXunit();
        Assert.DoesNotContain(Ids, id => !pester.Contains(id) && !xunit.Contains(id));
    }

    [Fact]
    public void Every_error_id_is_emitted_by_the_module()
    {
        HashSet<string> used = Sources("src", "*.cs", "ErrorIds.cs")
            .SelectMany(s => ErrorIdReference().Matches(s.Text).Select(m => m.Groups["id"].Value))
            .ToHashSet(StringComparer.Ordinal);
        Assert.DoesNotContain(Ids, id => !used.Contains(id));
    }

    // Where an id is given when a failure is made: new ConntrackException(id, ...), a target-typed new(id, ErrorKind...),
    // and new ErrorRecord(exception, id, ...).
    [GeneratedRegex("""new\s+ConntrackException\s*\(\s*(?<id>[^,()]*)""")]
    private static partial Regex ExceptionConstruction();

    [GeneratedRegex("""new\s*\(\s*(?<id>[^,()]*),\s*(?:\w+\s*\?\s*)?ErrorKind\.""")]
    private static partial Regex TargetTypedConstruction();

    [GeneratedRegex("""new\s+ErrorRecord\s*\(\s*[^,]+,\s*(?<id>[^,()]*)""")]
    private static partial Regex ErrorRecordConstruction();

    [Fact]
    public void No_code_emits_an_error_id_from_outside_the_list()
    {
        var offenders = new List<string>();
        List<(string File, string Text)> sources = Sources("src", "*.cs").ToList();
        foreach ((string file, string text) in sources)
        {
            foreach (Match m in ExceptionConstruction().Matches(text).Concat(TargetTypedConstruction().Matches(text)).Concat(ErrorRecordConstruction().Matches(text)))
            {
                string id = m.Groups["id"].Value.Trim();
                // An id from the list (or a choice of two), or one carried over from a ConntrackException already made
                // (a rethrow, the error record).
                string[] choices = id.Contains('?', StringComparison.Ordinal) ? id[(id.IndexOf('?', StringComparison.Ordinal) + 1)..].Split(':') : [id];
                bool listed = choices.Select(c => c.Trim()).All(c => c.StartsWith("ErrorIds.", StringComparison.Ordinal) && Ids.Contains(c["ErrorIds.".Length..]));
                if (!listed && !id.EndsWith(".ErrorId", StringComparison.Ordinal))
                {
                    offenders.Add($"{file}: {m.Value}");
                }
            }
        }

        Assert.Empty(offenders);
        // The scan must see the constructions at all: a regex that matches nothing would pass vacuously.
        Assert.True(sources.Sum(s => ExceptionConstruction().Count(s.Text) + TargetTypedConstruction().Count(s.Text)) > 50);
    }

    [Fact]
    public void Tests_assert_only_ids_that_exist()
    {
        var unknown = new List<string>();
        foreach ((string file, string text) in Sources("tests", "*.Tests.ps1"))
        {
            IEnumerable<string> asserted = PesterLiteral().Matches(text).Select(m => m.Groups["id"].Value);
            if (text.Contains("\"$Id,", StringComparison.OrdinalIgnoreCase))
            {
                asserted = asserted.Concat(PesterTestCase().Matches(text).Select(m => m.Groups["id"].Value));
            }

            unknown.AddRange(asserted.Where(id => !Ids.Contains(id) && !PowerShellIds.Contains(id)).Select(id => $"{file}: {id}"));
        }

        Assert.Empty(unknown);
    }
}
