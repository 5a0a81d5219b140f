namespace ConntrackTuning.Engine.Metrics;

/// <summary>
/// The .prom file node_exporter's textfile collector reads. It is replaced atomically by the root's writer
/// (temporary file in the same folder, flushed, renamed), so a scrape sees the old file or the new one, never
/// half of one. The temporary file's name ends in .tmp, which the collector does not read.
/// </summary>
internal static class MetricFile
{
    /// <summary>UTF-8 without a byte-order mark, as the exposition format is defined.</summary>
    internal static readonly Encoding TextEncoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

    /// <summary>
    /// Checks, before anything is read or written, that an absolute path can take the file: its folder exists
    /// and the path is not itself a folder.
    /// </summary>
    public static void CheckDestination(string full)
    {
        ArgumentNullException.ThrowIfNull(full);
        if (Directory.Exists(full))
        {
            throw new ConntrackException(ErrorIds.MetricPathIsFolder, ErrorKind.InvalidArgument,
                $"'{full}' is a folder; -Path takes the file to write, such as {full.TrimEnd('/')}/conntrack.prom.", full,
                $"Give the file name too: -Path {full.TrimEnd('/')}/conntrack.prom.");
        }

        string folder = Path.GetDirectoryName(full) ?? "/";
        if (File.Exists(folder))
        {
            throw new ConntrackException(ErrorIds.MetricFolderNotFound, ErrorKind.ObjectNotFound,
                $"'{folder}' is a file, not a folder, so '{full}' cannot be written.", folder,
                "Give a path whose folder exists.");
        }

        if (!Directory.Exists(folder))
        {
            throw new ConntrackException(ErrorIds.MetricFolderNotFound, ErrorKind.ObjectNotFound,
                $"The folder '{folder}' does not exist, so '{full}' cannot be written. It is not created: node_exporter reads only the folder given to its --collector.textfile.directory.",
                folder,
                "Give the folder node_exporter reads (Debian: /var/lib/prometheus/node-exporter), or create it first.");
        }
    }

    /// <summary>Replaces the file at an absolute path with the text, atomically; a new file gets mode 0644 so node_exporter can read it.</summary>
    public static void Write(string full, string text, IEngineLog log) => Write(full, text, OpenFileSystem(log));

    /// <summary>The file system a metrics file is written through: "/", the path being absolute.</summary>
    public static SystemRoot OpenFileSystem(IEngineLog log) => SystemRoot.Open("/", log);

    /// <summary>
    /// The same through a file system opened once (<see cref="OpenFileSystem"/>), for Watch-Conntrack, which rewrites
    /// the file at every interval: "/" is then not probed again each time.
    /// </summary>
    public static void Write(string full, string text, SystemRoot fileSystem)
    {
        ArgumentNullException.ThrowIfNull(full);
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(fileSystem);
        CheckDestination(full);
        try
        {
            fileSystem.WriteFileAtomic(full, TextEncoding.GetBytes(text), createDirectory: false);
        }
        catch (ConntrackException e) when (e.ErrorId == ErrorIds.FileWriteFailed && e.Kind == ErrorKind.PermissionDenied)
        {
            string folder = Path.GetDirectoryName(full) ?? "/";
            throw new ConntrackException(ErrorIds.MetricWriteDenied, ErrorKind.PermissionDenied,
                $"Cannot write '{full}': permission denied (the temporary file and the rename both need write access to '{folder}'); the file was left as it was.",
                full,
                ProcessIdentity.IsRoot
                    ? $"Check the mode of '{folder}' and the security policy (SELinux, AppArmor, a read-only bind mount)."
                    : $"Run the export as root (sudo, or a root systemd timer), or as a user who may write '{folder}'.",
                e);
        }
    }
}
