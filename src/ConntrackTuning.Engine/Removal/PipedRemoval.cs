using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Netlink;

namespace ConntrackTuning.Engine.Removal;

/// <summary>Tells the cmdlet what became of one entry handed to <see cref="PipedRemoval.Add"/>.</summary>
internal delegate void PipedDeleteObserver(ConntrackEntry entry, DeleteResult result, int errno);

/// <summary>
/// Deletes entries handed in one at a time (from the pipeline or -InputObject), each in the network namespace its
/// table was read from: an entry of a pod's namespace names a tuple that the host's table may hold too (the same
/// connection, tracked and translated there), so deleting it in the namespace the command runs in would cut the
/// wrong one. One <see cref="RemovalSession"/> per namespace, opened when its first entry comes.
/// </summary>
internal sealed class PipedRemoval : IDisposable
{
    private readonly Func<string?, DeleteObserver, RemovalSession> _open;
    private readonly PipedDeleteObserver _observe;
    private readonly Dictionary<string, Target> _targets = new(StringComparer.Ordinal);
    private readonly List<Target> _order = [];
    private readonly Dictionary<string, Unreachable> _unreachable = new(StringComparer.Ordinal);

    /// <param name="open">
    /// Opens a session inside the namespace named (null: the one the command runs in), with the observer it is
    /// to report each delete to; the cmdlet enters the namespace and probes its kernel.
    /// </param>
    /// <param name="observe">Called once for each entry added, in the order the kernel answers them.</param>
    public PipedRemoval(Func<string?, DeleteObserver, RemovalSession> open, PipedDeleteObserver observe)
    {
        _open = open;
        _observe = observe;
    }

    /// <summary>
    /// Queues <paramref name="entry"/> for deletion in <paramref name="networkNamespace"/> (the typed
    /// -NetworkNamespace, or else the namespace the entry was read from). False, and nothing queued, when that
    /// namespace could not be entered for an earlier entry: the error was written then, and
    /// <see cref="Skipped"/> counts the rest.
    /// </summary>
    /// <exception cref="ConntrackException">
    /// The entry lacks what a delete names (InvalidEntryFilter), the namespace cannot be entered or the session
    /// opened (the first time only), or a typed namespace is not the one the entry was read from
    /// (EntryNamespaceMismatch).
    /// </exception>
    public bool Add(ConntrackEntry entry, string? networkNamespace, bool typed)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var record = default(EntryRecord);
        if (!EntryKey.TryFromEntry(entry, ref record, out string? problem))
        {
            throw new ConntrackException(ErrorIds.InvalidEntryFilter, ErrorKind.InvalidArgument,
                $"The entry {EntryKey.Describe(entry)} cannot be deleted: {problem}.", EntryKey.Describe(entry),
                "Pipe entries read from the live table (Get-ConntrackEntry without -Path).");
        }

        string key = networkNamespace ?? "";
        if (_unreachable.TryGetValue(key, out Unreachable? gone))
        {
            gone.Entries++;
            return false;
        }

        Target target = TargetFor(key, networkNamespace);
        if (typed && entry.NetworkNamespace is { } readIn && readIn != target.Session.NetworkNamespace)
        {
            throw Mismatch(entry, readIn, networkNamespace!, target.Session.NetworkNamespace);
        }

        target.Pending.Enqueue(entry);
        target.Session.Add(ref record);
        return true;
    }

    /// <summary>Entries not queued because their namespace could not be entered, by the name they came with.</summary>
    public IEnumerable<(string NetworkNamespace, long Entries)> Skipped =>
        _unreachable.Where(u => u.Value.Entries > 0).Select(u => (u.Key, u.Value.Entries));

    /// <summary>Sends what is still queued and gives one record for each namespace, in the order their first entry came.</summary>
    public IEnumerable<ConntrackRemoval> Finish(string filterText)
    {
        // A session whose every entry was refused (EntryNamespaceMismatch) deleted nothing and says nothing.
        foreach (Target target in _order.Where(t => t.Session.Matched > 0))
        {
            target.Session.Flush();
            yield return target.Session.Result(filterText);
        }
    }

    public void Dispose()
    {
        foreach (Target target in _order)
        {
            target.Session.Dispose();
        }

        _order.Clear();
        _targets.Clear();
    }

    private Target TargetFor(string key, string? networkNamespace)
    {
        if (_targets.TryGetValue(key, out Target? target))
        {
            return target;
        }

        var pending = new Queue<ConntrackEntry>();
        RemovalSession session;
        try
        {
            session = _open(networkNamespace, (ref EntryRecord r, DeleteResult result, int errno) =>
            {
                // The deleter answers in the order the entries were added, so the head of the queue is this one.
                if (pending.TryDequeue(out ConntrackEntry? input))
                {
                    _observe(input, result, errno);
                }
            });
        }
        catch (ConntrackException)
        {
            _unreachable[key] = new Unreachable();
            throw;
        }

        target = new Target(session, pending);
        _targets.Add(key, target);
        _order.Add(target);
        return target;
    }

    private static ConntrackException Mismatch(ConntrackEntry entry, string readIn, string typed, string? typedInode) =>
        new(ErrorIds.EntryNamespaceMismatch, ErrorKind.InvalidArgument,
            $"The entry {EntryKey.Describe(entry)} was read in network namespace {readIn}, but -NetworkNamespace {typed} is "
            + (typedInode is null ? "this process's own" : "namespace " + typedInode) + "; it was not deleted there.",
            EntryKey.Describe(entry),
            "Leave out -NetworkNamespace: a piped entry is deleted in the namespace it was read from.");

    private sealed record Target(RemovalSession Session, Queue<ConntrackEntry> Pending);

    private sealed class Unreachable
    {
        public long Entries { get; set; }
    }
}
