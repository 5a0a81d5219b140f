namespace ConntrackTuning.Commands;

/// <summary>
/// Base of the image cmdlets whose answer depends on the RAM the kernel computes its defaults for (the next boot's
/// max and hash size): -MemoryBytes stands in for MemTotal, and for an image it is the RAM the image will run with.
/// </summary>
public abstract class ConntrackImageMemoryCmdlet : ConntrackImageCmdlet
{
    /// <summary>The RAM the kernel defaults are computed for, instead of MemTotal.</summary>
    [Parameter]
    [ValidateMemoryBytes]
    public long? MemoryBytes { get; set; }

    protected override long? MemoryBytesToProbe => MemoryBytes;
}
