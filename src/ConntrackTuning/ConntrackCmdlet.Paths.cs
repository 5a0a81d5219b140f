namespace ConntrackTuning.Commands;

/// <summary>What a path parameter names: it picks the stable error id, the wording and the advice of its errors.</summary>
internal enum PathUse
{
    /// <summary>Get-ConntrackDropEvent -Path/-LiteralPath: LogFileNotFound.</summary>
    LogFile,

    /// <summary>Get-ConntrackEntry -Path/-LiteralPath: EntryFileNotFound.</summary>
    SavedTable,

    /// <summary>-Root: RootPathInvalid (whether it exists is SystemRoot's RootNotFound).</summary>
    Root,

    /// <summary>Export-ConntrackMetric -Path/-LiteralPath, Watch-Conntrack -MetricsPath/-LiteralPath: MetricPathInvalid.</summary>
    MetricFile,

    /// <summary>Get-ConntrackBpfMap -Path/-LiteralPath: BpfPathNotFound.</summary>
    BpfFolder,
}

/// <summary>
/// The one way every cmdlet turns a path parameter into file-system paths, as PowerShell's own cmdlets do:
/// relative to the current location, through any drive of the FileSystem provider (a PSDrive too). -Path expands
/// wildcards (so [brackets] there are a character class, and `[ escapes one); -LiteralPath, -Root and a file to
/// create are taken as written, brackets, spaces and a leading dash included.
/// </summary>
public abstract partial class ConntrackCmdlet
{
    /// <summary>
    /// The files or folders one -Path (<paramref name="literal"/> false) or -LiteralPath value names. A path that
    /// names nothing, or a wildcard that matches nothing, is the not-found id of <paramref name="use"/> with
    /// category ObjectNotFound and the absolute path as its target.
    /// </summary>
    private protected IReadOnlyList<string> ResolveExistingPaths(string path, bool literal, PathUse use)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (literal)
        {
            string full = ResolveLiteralPath(path, use);
            return File.Exists(full) || Directory.Exists(full) ? [full] : throw PathError(use, ErrorKind.ObjectNotFound, $"The {Noun(use)} '{full}' does not exist.", full);
        }

        RejectNul(path, use);
        try
        {
            var found = SessionState.Path.GetResolvedProviderPathFromPSPath(path, out ProviderInfo provider);
            if (provider.Name != "FileSystem")
            {
                throw PathError(use, ErrorKind.InvalidArgument, $"'{path}' is on the {provider.Name} drive, not in the file system.", path);
            }

            // A wildcard that matches nothing comes back empty rather than as ItemNotFoundException: for a
            // command that reads what it is named, that is as absent as a missing file.
            return found.Count > 0 ? found : throw NotFound(use, path);
        }
        catch (ItemNotFoundException)
        {
            throw NotFound(use, path);
        }
        catch (Exception e) when (e is System.Management.Automation.DriveNotFoundException or ProviderNotFoundException or NotSupportedException or PSArgumentException or PSInvalidOperationException)
        {
            throw PathError(use, ErrorKind.ObjectNotFound, $"'{path}' names no file-system path ({e.Message})", path);
        }
    }

    /// <summary>
    /// What a -Path and a -LiteralPath that may be given together name, their values in that order (see
    /// <see cref="ResolveExistingPaths"/>). A value that names nothing is its own non-terminating error and the
    /// others still count; the values are resolved as the caller goes, so it works on the files of one before the next.
    /// </summary>
    private protected IEnumerable<string> ExistingPaths(string[]? paths, string[]? literalPaths, PathUse use)
    {
        foreach ((string path, bool literal) in (paths ?? []).Select(p => (p, false)).Concat((literalPaths ?? []).Select(p => (p, true))))
        {
            IReadOnlyList<string> found = [];
            Run(() => found = ResolveExistingPaths(path, literal, use));
            foreach (string file in found)
            {
                yield return file;
            }
        }
    }

    /// <summary>
    /// A path taken as written (-LiteralPath, -Root, a file to create) as an absolute file-system path; whether it
    /// exists is the caller's question. A path off the file system, or one holding NUL, is the id of <paramref name="use"/>.
    /// </summary>
    private protected string ResolveLiteralPath(string path, PathUse use)
    {
        ArgumentNullException.ThrowIfNull(path);
        RejectNul(path, use);
        try
        {
            string full = SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out ProviderInfo provider, out _);
            return provider.Name == "FileSystem" ? full : throw PathError(use, ErrorKind.InvalidArgument, $"'{path}' is on the {provider.Name} drive, not in the file system.", path);
        }
        catch (Exception e) when (e is System.Management.Automation.DriveNotFoundException or ProviderNotFoundException or NotSupportedException or PSArgumentException or PSInvalidOperationException)
        {
            throw PathError(use, ErrorKind.InvalidArgument, $"'{path}' is not a file-system path ({e.Message})", path);
        }
    }

    /// <summary>
    /// A file to create or replace, named by -Path (<paramref name="literal"/> false) or -LiteralPath, taken the way
    /// Out-File and Export-Csv take theirs: a -Path with wildcards names the one existing file it matches (none, or
    /// several, is the id of <paramref name="use"/>); a -Path without any is the file to create, with its `
    /// escapes removed; a -LiteralPath is taken as written.
    /// </summary>
    private protected string ResolveDestinationPath(string path, bool literal, PathUse use)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (literal)
        {
            return ResolveLiteralPath(path, use);
        }

        RejectNul(path, use);
        if (!WildcardPattern.ContainsWildcardCharacters(path))
        {
            return ResolveLiteralPath(WildcardPattern.Unescape(path), use);
        }

        IReadOnlyList<string> found;
        try
        {
            found = ResolveExistingPaths(path, literal: false, use);
        }
        catch (ConntrackException e) when (e.Kind == ErrorKind.ObjectNotFound)
        {
            throw PathError(use, ErrorKind.ObjectNotFound,
                $"-Path '{path}' holds wildcard characters and matches no file. Give -LiteralPath to create a file whose name holds [brackets], * or ?.", e.Target ?? path);
        }

        return found.Count == 1 ? found[0] : throw PathError(use, ErrorKind.InvalidArgument,
            $"-Path '{path}' matches {found.Count} files ({string.Join(", ", found)}); one file is written.", path);
    }

    /// <summary>-Root as an absolute path, resolved like a -LiteralPath; a NUL is the engine's RootPathInvalid, not PowerShell's ArgumentException.</summary>
    protected string ResolveRoot() =>
        Root.Contains('\0', StringComparison.Ordinal) ? throw SystemRoot.InvalidRootPath(Root) : ResolveLiteralPath(Root, PathUse.Root);

    private ConntrackException NotFound(PathUse use, string path)
    {
        string full;
        try
        {
            full = SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
        }
        catch (Exception e) when (e is System.Management.Automation.DriveNotFoundException or ProviderNotFoundException or NotSupportedException or PSArgumentException or PSInvalidOperationException)
        {
            full = path;
        }

        return PathError(use, ErrorKind.ObjectNotFound, $"The {Noun(use)} '{full}' does not exist.", full);
    }

    private static void RejectNul(string path, PathUse use)
    {
        if (path.Contains('\0', StringComparison.Ordinal))
        {
            string shown = path.Replace("\0", "\\0", StringComparison.Ordinal);
            throw PathError(use, ErrorKind.InvalidArgument, $"The path '{shown}' holds a NUL character (shown as \\0), which no Linux path can contain.", shown);
        }
    }

    private static string Noun(PathUse use) => use switch
    {
        PathUse.LogFile => "log file",
        PathUse.SavedTable => "saved table",
        PathUse.Root => "root folder",
        PathUse.BpfFolder => "bpffs folder",
        _ => "file",
    };

    // One construction per id, so each path error of a kind carries the same id and advice wherever it arises.
    private static ConntrackException PathError(PathUse use, ErrorKind kind, string message, string target) => use switch
    {
        PathUse.LogFile => new ConntrackException(ErrorIds.LogFileNotFound, kind, message, target,
            "Check the path; rotated logs are named like kern.log.1, kern.log.2.gz or messages-20261120 (-LiteralPath takes brackets and other wildcard characters as they are)."),
        PathUse.SavedTable => new ConntrackException(ErrorIds.EntryFileNotFound, kind, message, target,
            "Give -Path a saved copy of /proc/net/nf_conntrack or the output of 'conntrack -L' (-LiteralPath for a name with brackets)."),
        PathUse.Root => new ConntrackException(ErrorIds.RootPathInvalid, kind, message, target,
            "Give -Root a folder of the file system (a path such as /mnt/image or ./sosreport, or a FileSystem drive)."),
        PathUse.BpfFolder => new ConntrackException(ErrorIds.BpfPathNotFound, kind, message, target,
            "Give -Path a folder where a bpffs is mounted (findmnt -t bpf lists them), or leave it out to search every bpffs mount (-LiteralPath for a name with brackets)."),
        _ => new ConntrackException(ErrorIds.MetricPathInvalid, kind, message, target,
            "Give a file path such as /var/lib/prometheus/node-exporter/conntrack.prom, or leave the path out to get the samples as objects."),
    };
}
