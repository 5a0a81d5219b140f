namespace ConntrackTuning.Engine.Images;

/// <summary>
/// What kind of system a root is. Live: the running system. Capture: a sosreport or saved tree, whose proc/ and
/// sys/ files are a picture of a kernel that ran once (nothing is behind them, even when they are writable).
/// Image: a mounted disk image, an unpacked container or cloud image, a chroot: configuration and installed
/// kernels only, no captured proc/ or sys/.
/// </summary>
internal static class RootKinds
{
    public const string Live = "Live";

    public const string Capture = "Capture";

    public const string Image = "Image";

    public static string Detect(SystemRoot root)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (root.IsLive)
        {
            return Live;
        }

        // A disk image keeps proc/ and sys/ as empty mount points; any file in them is something captured.
        return HasEntries(root, "proc") || HasEntries(root, "sys") || root.DirectoryExists("sos_commands")
            || root.FileExists(SystemRoot.SysctlSnapshotPath) || root.FileExists("uname")
            ? Capture
            : Image;
    }

    private static bool HasEntries(SystemRoot root, string relative)
    {
        string full = root.Full(relative);
        try
        {
            return Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Unreadable means something is there to hide: not an empty mount point.
            return true;
        }
    }
}
