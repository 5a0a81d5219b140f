namespace ConntrackTuning.Engine.Changes;

/// <summary>Which layers a Set-Conntrack* command changes.</summary>
internal enum ApplyMode
{
    /// <summary>The running kernel only (lost at the next boot or module reload).</summary>
    Runtime,

    /// <summary>The running kernel, then the configuration the next boot applies (-Persist).</summary>
    RuntimeAndPersistent,

    /// <summary>Only the configuration, for building images or kernels that cannot change at run time (-PersistOnly).</summary>
    PersistentOnly,
}
