using System.Diagnostics;
using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Netlink;

namespace ConntrackTuning.Engine.Events;

/// <summary>
/// The receive loop: datagrams are read in bursts (recvmmsg) into the slots of one <see cref="EventBatch"/>, each
/// netlink message parsed in place and counted, filtered and visited; an overrun (ENOBUFS) grows the default
/// receive queue. Nothing here allocates per event.
/// </summary>
internal sealed partial class EventListener
{
    private void Receive(EventVisitor visitor, Action<long> onOverrun, Action<TimeSpan>? tick, CancellationToken cancellation)
    {
        using var batch = new EventBatch();
        var record = new EventRecord();
        record.Entry.Clear();
        var clock = Stopwatch.StartNew();
        long deadline = _options.Duration is { } d ? (long)(d.TotalSeconds * Stopwatch.Frequency) : long.MaxValue;
        EntryFilter filter = _options.Filter;
        bool filtered = !filter.IsEmpty;
        long count = _options.Count ?? long.MaxValue;
        long nextTick = Stopwatch.Frequency / 2;
        bool gather = false;
        while (true)
        {
            if (tick is not null && clock.ElapsedTicks >= nextTick)
            {
                nextTick = clock.ElapsedTicks + Stopwatch.Frequency / 2;
                tick(clock.Elapsed);
            }

            if (cancellation.IsCancellationRequested)
            {
                EndedBy = "Stopped";
                return;
            }

            if (clock.ElapsedTicks >= deadline)
            {
                EndedBy = "Duration";
                return;
            }

            if (gather)
            {
                gather = false;
                Thread.Sleep(_options.GatherMilliseconds);
            }

            EventReceiveStatus status = _socket.ReceiveEvents(batch, out int datagrams);
            if (status == EventReceiveStatus.Timeout)
            {
                continue;
            }

            if (status == EventReceiveStatus.Overrun)
            {
                long overruns = Interlocked.Increment(ref _overruns);
                Grow();
                onOverrun(overruns);
                continue;
            }

            if (datagrams < batch.Slots && _options.GatherMilliseconds > 0)
            {
                // The queue is empty now: sleeping a moment before the next read lets the next events arrive together.
                gather = true;
            }

            // One clock read per burst: the datagrams of one recvmmsg were all received at this moment.
            DateTimeOffset received = DateTimeOffset.UtcNow;
            long now = received.ToUnixTimeSeconds();
            for (int i = 0; i < datagrams; i++)
            {
                if (batch.Length(i) > EventBatch.SlotBytes)
                {
                    Malformed++;
                }

                ReadOnlySpan<byte> datagram = batch.Datagram(i);
                for (int off = 0; off + NetlinkWire.HeaderLength <= datagram.Length;)
                {
                    int len = (int)NetlinkWire.H32(datagram[off..]);
                    if (len < NetlinkWire.HeaderLength || off + len > datagram.Length)
                    {
                        Malformed++;
                        break;
                    }

                    ReadOnlySpan<byte> message = datagram.Slice(off, len);
                    off += NetlinkWire.Align4(len);
                    if (NetlinkWire.H16(message[4..]) < NetlinkWire.NlmsgMinType)
                    {
                        continue;
                    }

                    if (!EventParser.TryParse(message, ref record, now))
                    {
                        Malformed++;
                        continue;
                    }

                    Received++;
                    _byType[(int)record.Type]++;
                    if (filtered && !filter.Matches(ref record.Entry))
                    {
                        continue;
                    }

                    Matched++;
                    if (record.Type == ConntrackEventType.New)
                    {
                        MatchedNew++;
                        Interlocked.Increment(ref _matchedNewShared);
                        _summary?.Add(ref record.Entry);
                    }

                    if (!visitor(ref record, received))
                    {
                        EndedBy = "Stopped";
                        return;
                    }

                    if (Matched >= count)
                    {
                        EndedBy = "Count";
                        return;
                    }
                }
            }
        }
    }

    // The default queue doubles at each overrun, up to a cap; one the user sized stays as sized.
    private void Grow()
    {
        if (_options.BufferBytes is not null || Buffer.Requested >= MaxGrownBufferBytes)
        {
            return;
        }

        try
        {
            Buffer = _socket.Resize(Math.Min(MaxGrownBufferBytes, Buffer.Requested * 2));
        }
        catch (NetlinkErrnoException e)
        {
            _root.Log.Verbose($"The event receive queue could not grow: {e.Message}");
        }
    }
}
