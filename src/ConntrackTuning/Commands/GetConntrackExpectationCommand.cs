using ConntrackTuning.Completers;
using ConntrackTuning.Engine.Expectations;

namespace ConntrackTuning.Commands;

/// <summary>
/// Get-ConntrackExpectation: the expectation table (conntrack -L expect) as objects: the expected tuple and its
/// mask, the master connection, the helper, the timeout, the flags, the class and the zone. A sibling of
/// Get-ConntrackEntry rather than a -Table switch on it, since expectations are another type with other filters.
/// </summary>
[Cmdlet(VerbsCommon.Get, "ConntrackExpectation")]
[OutputType(typeof(ConntrackExpectation))]
public sealed class GetConntrackExpectationCommand : ConntrackReadCmdlet
{
    /// <summary>Only expectations of these helpers (ftp, sip, h323, ...).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? Helper { get; set; }

    /// <summary>
    /// The network namespace to list the expectations of, by ip netns name, inode, process id or nsfs path; binds by
    /// property name from Get-ConntrackNamespace. The running system only.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    // The dump socket (or proc/net/nf_conntrack_expect without CAP_NET_ADMIN) is opened inside the namespace.
    protected override void ProcessRecord() => RunInNetworkNamespace(NetworkNamespace, kernel =>
    {
        RequireTable(kernel);
        ExpectationReader.Read(kernel, e =>
        {
            if (Helper is null || Helper.Any(h => string.Equals(h, e.Helper, StringComparison.OrdinalIgnoreCase)))
            {
                WriteObject(e);
            }

            return true;
        });
    });
}
