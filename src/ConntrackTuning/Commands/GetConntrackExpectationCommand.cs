using ConntrackTuning.Engine.Expectations;

namespace ConntrackTuning.Commands;

/// <summary>
/// Get-ConntrackExpectation: the expectation table (conntrack -L expect) as objects: the expected tuple and its
/// mask, the master connection, the helper, the timeout, the flags, the class and the zone. A sibling of
/// Get-ConntrackEntry rather than a -Table switch on it, since expectations are another type with other filters.
/// </summary>
[Cmdlet(VerbsCommon.Get, "ConntrackExpectation")]
[OutputType(typeof(ConntrackExpectation))]
public sealed class GetConntrackExpectationCommand : ConntrackNamespaceReadCmdlet
{
    /// <summary>Only expectations of these helpers (ftp, sip, h323, ...).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? Helper { get; set; }

    // The dump socket (or proc/net/nf_conntrack_expect without CAP_NET_ADMIN) is opened inside the namespace.
    private protected override void Read(ConntrackKernel kernel)
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
    }
}
