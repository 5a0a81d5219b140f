using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Netlink;
using ConntrackTuning.Engine.Removal;

namespace ConntrackTuning.Commands;

/// <summary>
/// Remove-ConntrackEntry: deletes conntrack entries over ctnetlink, selected by the filters of Get-ConntrackEntry
/// and conntrack -D's (reply direction, NAT, status, timeout, age), or exactly the entries piped in. The dump
/// streams and the matches are deleted in batches on a second socket; it ends with one ConntrackRemoval.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "ConntrackEntry", DefaultParameterSetName = FilterSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(ConntrackRemoval))]
[OutputType(typeof(ConntrackEntry))]
public sealed class RemoveConntrackEntryCommand : ConntrackFilterCmdlet
{
    private const string FilterSet = "Filter";
    private const string InputSet = "InputObject";
    private const int ErrorsWritten = 10;

    private RemovalFilter? _filter;
    private RemovalSession? _session;
    private PipedRemoval? _piped;
    private readonly List<ConntrackEntry> _held = [];
    private bool _preview;
    private bool _whatIf;
    private long _errorsWritten;

    /// <summary>The running system only ("/"); a captured root can be previewed with -WhatIf.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public override string Root { get; set; } = "/";

    /// <summary>Entries from Get-ConntrackEntry: deleted by tuple, zone and id.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputSet)]
    public ConntrackEntry[]? InputObject { get; set; }

    // The entry filters are the base's, named here once more to keep them out of the InputObject set: piped
    // entries are deleted exactly as they are, so no filter applies to them.
    [Parameter(ParameterSetName = FilterSet)]
    [ArgumentCompleter(typeof(ConntrackProtocolCompleter))]
    [ValidateNotNullOrEmpty]
    public override string[]? Protocol { get; set; }

    [Parameter(ParameterSetName = FilterSet)]
    [ArgumentCompleter(typeof(ConntrackStateCompleter))]
    [ValidateNotNullOrEmpty]
    public override string[]? State { get; set; }

    [Parameter(ParameterSetName = FilterSet)]
    [ValidateNotNullOrEmpty]
    public override string[]? Source { get; set; }

    [Parameter(ParameterSetName = FilterSet)]
    [ValidateNotNullOrEmpty]
    public override string[]? Destination { get; set; }

    [Parameter(ParameterSetName = FilterSet)]
    [ValidateNotNullOrEmpty]
    public override int[]? Port { get; set; }

    [Parameter(ParameterSetName = FilterSet)]
    [ValidateNotNullOrEmpty]
    public override int[]? SourcePort { get; set; }

    [Parameter(ParameterSetName = FilterSet)]
    [ValidateNotNullOrEmpty]
    public override int[]? DestinationPort { get; set; }

    /// <summary>Source addresses of the reply direction (where replies come from: the backend after DNAT).</summary>
    [Parameter(ParameterSetName = FilterSet)]
    [ValidateNotNullOrEmpty]
    public string[]? ReplySource { get; set; }

    [Parameter(ParameterSetName = FilterSet)]
    [ValidateNotNullOrEmpty]
    public string[]? ReplyDestination { get; set; }

    [Parameter(ParameterSetName = FilterSet)]
    [ValidateNotNullOrEmpty]
    public int[]? ReplySourcePort { get; set; }

    [Parameter(ParameterSetName = FilterSet)]
    [ValidateNotNullOrEmpty]
    public int[]? ReplyDestinationPort { get; set; }

    [Parameter(ParameterSetName = FilterSet)]
    public SwitchParameter SourceNat { get; set; }

    [Parameter(ParameterSetName = FilterSet)]
    public SwitchParameter DestinationNat { get; set; }

    [Parameter(ParameterSetName = FilterSet)]
    public SwitchParameter AnyNat { get; set; }

    /// <summary>The address NAT translated to: the reply destination for source NAT, the reply source for destination NAT.</summary>
    [Parameter(ParameterSetName = FilterSet)]
    [ValidateNotNullOrEmpty]
    public string[]? NatAddress { get; set; }

    /// <summary>Status bits that must all be set (SeenReply, Assured, SourceNat, Offload, ...).</summary>
    [Parameter(ParameterSetName = FilterSet)]
    public ConntrackEntryStatus[]? Status { get; set; }

    [Parameter(ParameterSetName = FilterSet)]
    [ValidateNotNullOrEmpty]
    public override string? Mark { get; set; }

    [Parameter(ParameterSetName = FilterSet)]
    [ValidateRange(0, 65535)]
    public override int Zone { get; set; }

    [Parameter(ParameterSetName = FilterSet)]
    [ValidateSet("IPv4", "IPv6")]
    public override string? Family { get; set; }

    [Parameter(ParameterSetName = FilterSet)]
    public override SwitchParameter Unreplied { get; set; }

    [Parameter(ParameterSetName = FilterSet)]
    public override SwitchParameter Assured { get; set; }

    /// <summary>Only entries with fewer seconds left than this.</summary>
    [Parameter(ParameterSetName = FilterSet)]
    [ValidateRange(0, long.MaxValue)]
    public long TimeoutBelow { get; set; }

    /// <summary>Only entries created at least this long ago (needs nf_conntrack_timestamp = 1 when they were created).</summary>
    [Parameter(ParameterSetName = FilterSet)]
    [SecondsTransformation]
    public TimeSpan OlderThan { get; set; }

    /// <summary>Emit each deleted entry.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>
    /// The network namespace whose entries are deleted, by ip netns name, inode, process id or nsfs path: its
    /// dump and delete sockets are created inside it. Piped entries need none: each is deleted in the namespace
    /// it was read from. The running system only.
    /// </summary>
    [Parameter]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        _whatIf = Bound("WhatIf") ?? (GetVariableValue("WhatIfPreference") is SwitchParameter s ? s.IsPresent : GetVariableValue("WhatIfPreference") is true);
        _preview = _whatIf || (Bound("Confirm") ?? (GetVariableValue("ConfirmPreference") is ConfirmImpact c && c != ConfirmImpact.None && c <= ConfirmImpact.High));
        if (ParameterSetName != FilterSet)
        {
            return;
        }

        try
        {
            NatMatch nat = AnyNat || (SourceNat && DestinationNat) ? NatMatch.Any : SourceNat ? NatMatch.Source : DestinationNat ? NatMatch.Destination : NatMatch.None;
            uint status = (uint)(Status ?? []).Aggregate(ConntrackEntryStatus.None, (a, f) => a | f);
            _filter = RemovalFilter.Create(Filter, ReplySource, ReplyDestination, ReplySourcePort, ReplyDestinationPort, nat, NatAddress, status,
                MyInvocation.BoundParameters.ContainsKey(nameof(TimeoutBelow)) ? TimeoutBelow : null,
                MyInvocation.BoundParameters.ContainsKey(nameof(OlderThan)) ? OlderThan : null);
        }
        catch (ConntrackException e)
        {
            ThrowTerminatingError(ToErrorRecord(e));
        }
    }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == FilterSet)
        {
            Guard(RemoveByFilter, NetworkNamespace);
            return;
        }

        Guard(() =>
        {
            foreach (ConntrackEntry entry in InputObject ?? [])
            {
                if (_preview)
                {
                    _held.Add(entry);
                }
                else
                {
                    Delete(entry);
                }
            }
        }, null);
    }

    protected override void EndProcessing()
    {
        if (ParameterSetName != InputSet)
        {
            return;
        }

        Guard(() =>
        {
            if (_preview)
            {
                if (!Ask(_held.Count, RemovalPreview.Groups(_held), "piped entries"))
                {
                    return;
                }

                foreach (ConntrackEntry entry in _held)
                {
                    Delete(entry);
                }
            }

            if (_piped is null)
            {
                return;
            }

            foreach ((string ns, long entries) in _piped.Skipped)
            {
                WriteWarning(string.Create(CultureInfo.InvariantCulture, $"{entries} more piped entries of network namespace {ns} were not deleted: it could not be entered (see the error)."));
            }

            foreach (ConntrackRemoval result in _piped.Finish("piped entries"))
            {
                Finish(result);
            }

            CloseSession();
        }, null);
    }

    private void RemoveByFilter()
    {
        ConntrackKernel kernel = ProbeKernel();
        if (!_whatIf)
        {
            RemovalSession.RequireLive(kernel.SystemRoot, "delete conntrack entries");
        }

        if (_preview)
        {
            var builder = new EntrySummaryBuilder();
            RemovalFilter filter = _filter!;
            EntryReader.ReadTable(kernel, filter.Entries, (ref EntryRecord r) =>
            {
                if (filter.MatchesRest(ref r))
                {
                    builder.Add(ref r);
                }

                return true;
            });
            ConntrackSummary summary = builder.Build(RemovalPreview.GroupsShown, "", "", null, null, kernel.Root);
            filter.WarnWithoutAge(kernel.SystemRoot.Log);
            if (!Ask(summary.Entries, RemovalPreview.Groups(summary), Describe()))
            {
                return;
            }
        }

        RemovalSession.RequireLive(kernel.SystemRoot, "delete conntrack entries");
        RemovalSession session = RemovalSession.Open(kernel, NetworkNamespacePath, ObserveFiltered);
        _session = session;
        var progress = new ProgressRecord(1, "Removing conntrack entries", "Dumping the table");
        session.RemoveMatching(_filter!, seen =>
        {
            progress.StatusDescription = string.Create(CultureInfo.InvariantCulture, $"{seen} entries read, {session.Matched} matched");
            WriteProgress(progress);
        });
        progress.RecordType = ProgressRecordType.Completed;
        WriteProgress(progress);
        Finish(session.Result(Describe()));
        CloseSession();
    }

    /// <summary>The namespace whose table is changed; null for this process's own (the -NetworkNamespace parameter hooks in here).</summary>
    private static string? NetworkNamespacePath => null;

    private void Delete(ConntrackEntry entry)
    {
        _piped ??= new PipedRemoval(OpenPipedSession, Observe);
        bool typed = !string.IsNullOrWhiteSpace(NetworkNamespace);
        try
        {
            _piped.Add(entry, typed ? NetworkNamespace : entry.NetworkNamespace, typed);
        }
        catch (ConntrackException e)
        {
            // One entry's fault (no ports, its namespace gone, a mismatch) is that entry's error: the rest still go.
            WriteError(ToErrorRecord(e));
        }
    }

    /// <summary>
    /// A delete session for the piped entries of one namespace: its sockets are made inside it, and it keeps them
    /// when the namespace is left, so the entries that follow need no second entry into it.
    /// </summary>
    private RemovalSession OpenPipedSession(string? networkNamespace, DeleteObserver observer)
    {
        using IDisposable? inside = EnterNetworkNamespace(networkNamespace);
        return RemovalSession.Open(ProbeKernel(), NetworkNamespacePath, observer);
    }

    private void ObserveFiltered(ref EntryRecord entry, DeleteResult result, int errno)
    {
        if ((result == DeleteResult.Deleted && PassThru) || result == DeleteResult.Failed)
        {
            Observe(new ConntrackEntry(ref entry), result, errno);
        }
    }

    private void Observe(ConntrackEntry entry, DeleteResult result, int errno)
    {
        if (result == DeleteResult.Deleted && PassThru)
        {
            WriteObject(entry);
        }
        else if (result == DeleteResult.Failed && _errorsWritten++ < ErrorsWritten)
        {
            string text = EntryKey.Describe(entry);
            WriteError(ToErrorRecord(new ConntrackException(ErrorIds.EntryDeleteFailed, ErrorKind.InvalidOperation,
                $"The kernel refused to delete {text}: {Errno.Describe(errno)}.", text,
                "Check the kernel log; run the command again to retry the entries that remain.")));
        }
    }

    private void Finish(ConntrackRemoval result)
    {
        if (result.Failed > ErrorsWritten)
        {
            WriteWarning(string.Create(CultureInfo.InvariantCulture, $"{result.Failed} deletes failed; the first {ErrorsWritten} were written as errors."));
        }

        WriteObject(result);
    }

    private bool Ask(long count, string groups, string filter)
    {
        string what = string.Create(CultureInfo.InvariantCulture, $"Remove {count} conntrack entr{(count == 1 ? "y" : "ies")} ({filter})")
            + (groups.Length == 0 ? "." : "; largest groups: " + groups + ".");
        return ShouldProcess(what, what + " Delete them?", "Remove-ConntrackEntry");
    }

    private string Describe() => _filter is null || _filter.IsEmpty ? "every entry" : _filter.Description;

    private bool? Bound(string name) =>
        MyInvocation.BoundParameters.TryGetValue(name, out object? value) ? value is SwitchParameter s ? s.IsPresent : value is true : null;

    // Ctrl+C cancels the engine's token; the engine throws OperationCanceledException, which is a stop, not an error.
    private void Guard(Action work, string? networkNamespace)
    {
        try
        {
            Run(() =>
            {
                // The filter's sockets (the preview's dump, the session's dump and deletes) are created inside
                // -NetworkNamespace; piped entries enter each one's own as its session opens.
                using IDisposable? inside = EnterNetworkNamespace(networkNamespace);
                work();
            });
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
    }

    /// <summary>PowerShell disposes the cmdlet also after Ctrl+C or an error: the delete session goes with it.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            CloseSession();
        }

        base.Dispose(disposing);
    }

    private void CloseSession()
    {
        _session?.Dispose();
        _session = null;
        _piped?.Dispose();
        _piped = null;
    }
}
