using System;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using ConntrackTuning.Engine;
using ConntrackTuning.Engine.Platform;

namespace ConntrackTuning.Commands;

/// <summary>
/// The one way every cmdlet turns a path parameter into file-system paths, as PowerShell's own cmdlets do:
/// relative to the current location, through any drive of the FileSystem provider (a PSDrive too). -Path expands
/// wildcards (so [brackets] there are a character class, and `[ escapes one); -LiteralPath, -Root and a file to
/// create are taken as written, brackets, spaces and a leading dash included.
/// </summary>
public abstract partial class ConntrackCmdlet
{
    /// <summary>
    /// The files or folders one -Path (<paramref name="literal"/> false) or -LiteralPath value names (<paramref name="what"/>
    /// says what they are, for the message: "log file"). A path that
    /// names nothing throws <paramref name="notFoundId"/> with category ObjectNotFound and the absolute path as
    /// its target; so does a path on a drive that is not the file system.
    /// </summary>
    private protected IReadOnlyList<string> ResolveExistingPaths(string path, bool literal, string what, string notFoundId, string recommendedAction)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (literal)
        {
            string full = ResolveLiteralPath(path, notFoundId, recommendedAction);
            return File.Exists(full) || Directory.Exists(full) ? [full] : throw PathNotFound(what, notFoundId, full, recommendedAction);
        }

        RejectNul(path, notFoundId, recommendedAction);
        try
        {
            var found = SessionState.Path.GetResolvedProviderPathFromPSPath(path, out ProviderInfo provider);
            if (provider.Name != "FileSystem")
            {
                throw NotFileSystem(notFoundId, path, provider.Name, recommendedAction);
            }

            // A wildcard that matches nothing comes back empty rather than as ItemNotFoundException: for a
            // command that reads what it is named, that is as absent as a missing file.
            return found.Count > 0 ? found : throw PathNotFound(what, notFoundId, UnresolvedOrAsGiven(path), recommendedAction);
        }
        catch (ItemNotFoundException)
        {
            throw PathNotFound(what, notFoundId, UnresolvedOrAsGiven(path), recommendedAction);
        }
        catch (Exception e) when (e is System.Management.Automation.DriveNotFoundException or ProviderNotFoundException or NotSupportedException or PSArgumentException or PSInvalidOperationException)
        {
            throw new ConntrackException(notFoundId, ErrorKind.ObjectNotFound, $"'{path}' names no file-system path ({e.Message})", path, recommendedAction, e);
        }
    }

    /// <summary>
    /// A path taken as written (-LiteralPath, -Root, a file to create) as an absolute file-system path; whether it
    /// exists is the caller's question. A path off the file system, or one holding NUL, throws <paramref name="errorId"/>.
    /// </summary>
    private protected string ResolveLiteralPath(string path, string errorId, string recommendedAction)
    {
        ArgumentNullException.ThrowIfNull(path);
        RejectNul(path, errorId, recommendedAction);
        try
        {
            string full = SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out ProviderInfo provider, out _);
            return provider.Name == "FileSystem" ? full : throw NotFileSystem(errorId, path, provider.Name, recommendedAction);
        }
        catch (Exception e) when (e is System.Management.Automation.DriveNotFoundException or ProviderNotFoundException or NotSupportedException or PSArgumentException or PSInvalidOperationException)
        {
            throw new ConntrackException(errorId, ErrorKind.InvalidArgument, $"'{path}' is not a file-system path ({e.Message})", path, recommendedAction, e);
        }
    }

    /// <summary>-Root as an absolute path, resolved like a -LiteralPath; a NUL is the engine's RootPathInvalid, not PowerShell's ArgumentException.</summary>
    protected string ResolveRoot() =>
        Root.Contains('\0', StringComparison.Ordinal)
            ? throw SystemRoot.InvalidRootPath(Root)
            : ResolveLiteralPath(Root, ErrorIds.RootPathInvalid, "Give -Root a folder of the file system (a path such as /mnt/image or ./sosreport, or a FileSystem drive).");

    private string UnresolvedOrAsGiven(string path)
    {
        try
        {
            return SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
        }
        catch (Exception e) when (e is System.Management.Automation.DriveNotFoundException or ProviderNotFoundException or NotSupportedException or PSArgumentException or PSInvalidOperationException)
        {
            return path;
        }
    }

    private static void RejectNul(string path, string errorId, string recommendedAction)
    {
        if (path.Contains('\0', StringComparison.Ordinal))
        {
            string shown = path.Replace("\0", "\\0", StringComparison.Ordinal);
            throw new ConntrackException(errorId, ErrorKind.InvalidArgument,
                $"The path '{shown}' holds a NUL character (shown as \\0), which no Linux path can contain.", shown, recommendedAction);
        }
    }

    private static ConntrackException PathNotFound(string what, string errorId, string full, string recommendedAction) =>
        new(errorId, ErrorKind.ObjectNotFound, $"The {what} '{full}' does not exist.", full, recommendedAction);

    private static ConntrackException NotFileSystem(string errorId, string path, string provider, string recommendedAction) =>
        new(errorId, ErrorKind.InvalidArgument, $"'{path}' is on the {provider} drive, not in the file system.", path, recommendedAction);
}
