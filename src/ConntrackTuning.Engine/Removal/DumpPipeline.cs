using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Netlink;

namespace ConntrackTuning.Engine.Removal;

/// <summary>Handed each matched entry of a pipelined dump, on the calling thread.</summary>
internal delegate void MatchHandler(ref EntryRecord entry);

/// <summary>
/// Runs a table dump on a thread of its own while the calling thread deletes what it matched: the kernel builds
/// the next dump batch (in the reader's recv) while it deletes the previous matches (in the caller's send), so
/// the two halves of the work use two CPUs instead of taking turns. Matches travel in a few fixed chunks that
/// are reused, so memory stays flat at any table size. Every callback (the handler, progress) runs on the
/// calling thread, so a cmdlet can write from them; a stop, or a failure on either side, ends both.
/// </summary>
internal static class DumpPipeline
{
    public const int ChunkSize = 512;

    // Chunks waiting for the caller; with the one being filled and the one being deleted, at most four exist.
    private const int QueuedChunks = 2;

    private sealed class Chunk
    {
        public readonly EntryRecord[] Items = new EntryRecord[ChunkSize];
        public int Count;
    }

    /// <summary>
    /// Dumps with <paramref name="kernelFilter"/> and hands every entry <paramref name="matches"/> accepts to
    /// <paramref name="handler"/>; <paramref name="progress"/> gets the entries read so far, a few times a second.
    /// Errors of the dump are rethrown here, as they are; <paramref name="seen"/> says how many entries were read.
    /// </summary>
    public static DumpOutcome Run(CtnetlinkClient control, KernelFilter kernelFilter, EntryVisitor matches, MatchHandler handler,
        Action<long>? progress, CancellationToken cancellation, out long seen)
    {
        ArgumentNullException.ThrowIfNull(control);
        ArgumentNullException.ThrowIfNull(matches);
        ArgumentNullException.ThrowIfNull(handler);
        using var full = new BlockingCollection<Chunk>(QueuedChunks);
        var free = new ConcurrentBag<Chunk>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        CancellationToken token = stop.Token;
        DumpOutcome outcome = new();
        Exception? failure = null;
        long read = 0;
        var reader = new Thread(() =>
        {
            long count = 0;
            Chunk current = new();
            try
            {
                outcome = control.DumpEntries(kernelFilter, (ref EntryRecord r) =>
                {
                    if ((++count & 0x3FF) == 0)
                    {
                        Volatile.Write(ref read, count);
                        token.ThrowIfCancellationRequested();
                    }

                    if (matches(ref r))
                    {
                        current.Items[current.Count++] = r;
                        if (current.Count == ChunkSize)
                        {
                            full.Add(current, token);
                            current = free.TryTake(out Chunk? reused) ? reused : new Chunk();
                        }
                    }

                    return true;
                });
                if (current.Count > 0)
                {
                    full.Add(current, token);
                }
            }
#pragma warning disable CA1031 // handed to the calling thread, which rethrows it
            catch (Exception e)
#pragma warning restore CA1031
            {
                failure = e;
            }
            finally
            {
                Volatile.Write(ref read, count);
                full.CompleteAdding();
            }
        })
        {
            IsBackground = true,
            Name = "conntrack dump",
        };
        reader.Start();
        var clock = Stopwatch.StartNew();
        try
        {
            foreach (Chunk chunk in full.GetConsumingEnumerable(token))
            {
                for (int i = 0; i < chunk.Count; i++)
                {
                    handler(ref chunk.Items[i]);
                }

                chunk.Count = 0;
                free.Add(chunk);
                if (progress is not null && clock.ElapsedMilliseconds >= 200)
                {
                    clock.Restart();
                    progress(Volatile.Read(ref read));
                }
            }
        }
        finally
        {
            // A failed delete or a stop also ends the dump: the reader leaves at its next entry or chunk.
            stop.Cancel();
            reader.Join();
        }

        seen = Volatile.Read(ref read);
        cancellation.ThrowIfCancellationRequested();
        if (failure is not null)
        {
            ExceptionDispatchInfo.Throw(failure);
        }

        return outcome;
    }
}
