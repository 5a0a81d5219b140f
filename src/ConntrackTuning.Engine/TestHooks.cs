namespace ConntrackTuning.Engine;

/// <summary>
/// The one seam for test hooks (PSResourceGet's InternalHooks pattern). Only tests and tools set these: xunit
/// directly, Pester and tools/ through reflection
/// (<c>[SystemRoot].Assembly.GetType('ConntrackTuning.Engine.TestHooks').GetProperty('NetlinkReplayPath', 'NonPublic,Static')</c>),
/// each setting one back to null in a finally. Production never sets any of them: all null is the engine as shipped.
/// Hooks that are given paths get absolute ones, so a test reacts only to its own root while other tests run in
/// parallel. A new hook belongs here, with who sets it and why.
/// </summary>
internal static class TestHooks
{
    /// <summary>
    /// A capture file (ReplayTransport's format) whose datagrams answer every ctnetlink request instead of the
    /// kernel. Set by the netlink replay tests (EntryReaderTests, MetricTests, NetlinkStatisticsTests, the Pester
    /// files for Get-ConntrackEntry and Remove-ConntrackEntry) to run the whole module against a committed capture.
    /// </summary>
    internal static string? NetlinkReplayPath { get; set; }

    /// <summary>A file every datagram received from the kernel is appended to; set by tests/…/Data/New-CtnetlinkCapture.ps1 to make a capture.</summary>
    internal static string? NetlinkRecordPath { get; set; }

    /// <summary>
    /// Called with the absolute path of each configuration file just before a change replaces it, so a test
    /// (SafeWriteTests, WriterEdgeTests) can make a late step fail and check that the earlier ones are undone.
    /// </summary>
    internal static Action<string>? BeforeConfigFileWrite { get; set; }

    /// <summary>
    /// Called with the absolute path of a run-time file right after a change wrote it and before it is read back,
    /// so a test (SafeWriteTests) can stand in for a kernel that rounds a value differently than predicted.
    /// </summary>
    internal static Action<string>? AfterRuntimeWrite { get; set; }
}
