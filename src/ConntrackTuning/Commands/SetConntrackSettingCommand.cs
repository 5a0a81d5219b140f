using ConntrackTuning.Engine.Changes;

namespace ConntrackTuning.Commands;

/// <summary>
/// Set-ConntrackSetting: sets one of the tracker's other sysctls (tcp_be_liberal, tcp_loose, acct, timestamp,
/// events, log_invalid, checksum, expect_max, ...) now and, with -Persist, for the next boot; the same plan,
/// checks, atomic writes, undo and change record as the other Set- cmdlets.
/// </summary>
[Cmdlet(VerbsCommon.Set, "ConntrackSetting", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ApplySet)]
[OutputType(typeof(ConntrackChange))]
public sealed class SetConntrackSettingCommand : ConntrackSetCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(SettingNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    [Parameter(Mandatory = true, Position = 1)]
    public long Value { get; set; }

    protected override void ProcessRecord() => Change(kernel => SettingPlanner.Plan(kernel, Name, Value, Mode, Force));
}
