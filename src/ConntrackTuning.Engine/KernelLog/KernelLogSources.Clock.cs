namespace ConntrackTuning.Engine.KernelLog;

/// <summary>The clock of the running kernel's ring buffer, to date /dev/kmsg records on the wall clock.</summary>
internal static partial class KernelLogSources
{
    /// <summary>
    /// The wall-clock moment the running kernel's ring-buffer clock read zero, to date /dev/kmsg records. That clock
    /// (local_clock) stands still in suspend as CLOCK_MONOTONIC does, while btime counts suspend and is whole
    /// seconds (up to a second early); and a time namespace shifts btime and CLOCK_MONOTONIC but not the ring
    /// buffer, so its monotonic offset is taken back out. Null off the live system.
    /// </summary>
    internal static DateTime? RingBufferEpoch(SystemRoot root)
    {
        if (!root.IsLive
            || Native.ClockGetTime(Native.CLOCK_MONOTONIC, out Native.Timespec before) != 0
            || Native.ClockGetTime(Native.CLOCK_REALTIME, out Native.Timespec wall) != 0
            || Native.ClockGetTime(Native.CLOCK_MONOTONIC, out Native.Timespec after) != 0)
        {
            return null;
        }

        // The wall clock was read between the two monotonic reads: their midpoint is its monotonic moment.
        double monotonic = (before.Seconds + after.Seconds) / 2.0 + (before.Nanoseconds + after.Nanoseconds) / 2e9
            - TimeNamespaceMonotonicOffset(root);
        DateTime now = DateTimeOffset.FromUnixTimeSeconds(wall.Seconds).AddTicks(wall.Nanoseconds / 100).LocalDateTime;
        return now.AddTicks(-(long)Math.Round(monotonic * TimeSpan.TicksPerSecond));
    }

    /// <summary>Seconds a time namespace adds to CLOCK_MONOTONIC (proc/self/timens_offsets, Linux 5.6+); 0 without one.</summary>
    internal static double TimeNamespaceMonotonicOffset(SystemRoot root)
    {
        foreach (string line in root.ReadLines("proc/self/timens_offsets"))
        {
            string[] fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 3 && fields[0] == "monotonic"
                && long.TryParse(fields[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long seconds)
                && long.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out long nanoseconds))
            {
                return seconds + nanoseconds / 1e9;
            }
        }

        return 0;
    }
}
