using ConntrackTuning.Engine.Settings;

namespace ConntrackTuning.Commands;

/// <summary>
/// Get-ConntrackSetting: the tracker's sysctls other than the max, the hash size and the timeouts, with value,
/// kernel default, meaning, scope, whether it can be changed here, and the persisted value.
/// </summary>
[Cmdlet(VerbsCommon.Get, "ConntrackSetting")]
[OutputType(typeof(ConntrackSetting))]
public sealed class GetConntrackSettingCommand : ConntrackReadCmdlet
{
    /// <summary>Names with or without the prefix (tcp_be_liberal, nf_conntrack_acct) or sysctl keys; all when not given.</summary>
    [Parameter(Position = 0)]
    [ArgumentCompleter(typeof(SettingNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[]? Name { get; set; }

    protected override void ProcessRecord()
    {
        Run(() =>
        {
            ConntrackKernel kernel = ProbeKernel();
            if (Name is null)
            {
                foreach (EraSettingFile s in SettingReader.List(kernel))
                {
                    WriteVerbose("Reading " + kernel.SystemRoot.Full(s.Relative) + ".");
                    WriteObject(SettingReader.Read(kernel, s));
                }

                return;
            }

            foreach (string name in Name)
            {
                Run(() => WriteObject(SettingReader.Read(kernel, SettingReader.Find(kernel, name))));
            }
        });
    }
}
