namespace ConntrackTuning.Engine.Platform;

/// <summary>The undo of a change that failed half-way: the files and folders it created go again, through descriptors.</summary>
internal sealed partial class SystemRoot
{
    /// <summary>
    /// Removes a folder this invocation created, when the change it belonged to is rolled back. A folder that is not
    /// empty (something else put a file there meanwhile) stays.
    /// </summary>
    internal void RemoveCreatedFolder(string relative)
    {
        if (RemoveAt(relative, Native.AT_REMOVEDIR))
        {
            Log.Verbose($"Removed the folder {Full(relative)}, created for the change");
        }
    }

    /// <summary>Removes a configuration file this invocation created, when the change it belonged to is rolled back.</summary>
    internal void RemoveConfigFile(string relative)
    {
        string target = ResolveInRoot(relative);
        if (RemoveAt(target, 0))
        {
            Log.Verbose($"Removed {Full(target)}");
        }
    }

    /// <summary>unlinkat relative to the folder's descriptor; false when there was nothing to remove (or a folder is not empty).</summary>
    private bool RemoveAt(string relative, int flags)
    {
        if (TryOpenDirectory(ParentOf(relative), Walk.FollowInRoot, out DirectoryFd? directory) != 0)
        {
            return false;
        }

        using (directory!)
        {
            if (Native.UnlinkAt(directory!.Fd, FileNameOf(relative), flags) != 0)
            {
                return false;
            }

            _ = Native.Fsync(directory.Fd);
            return true;
        }
    }
}
