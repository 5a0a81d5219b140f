@{
    # The module's version lives here and nowhere else: build.ps1 stamps it into the assemblies and the package.
    ModuleVersion        = '0.1.0'
    RootModule           = 'ConntrackTuning.dll'
    GUID                 = '5c971e42-2845-446f-9a0e-7b3c1d2f6a01'
    Author               = 'ConntrackTuning contributors'
    CompanyName          = 'ConntrackTuning'
    Copyright            = '(c) ConntrackTuning contributors. MIT licence.'
    Description          = 'Keeps Linux netfilter connection tracking from overflowing: reads the conntrack limit, hash size, count and timeouts of any kernel from 2.4 ip_conntrack to 6.x nf_conntrack, recommends sizes for the RAM, applies them safely and persists them across reboots.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('ConntrackTuning.Format.ps1xml')
    CmdletsToExport      = @(
        'Get-ConntrackKernel'
        'Get-ConntrackLimit'
        'Get-ConntrackStatistic'
        'Get-ConntrackDropEvent'
        'Test-ConntrackHealth'
        'Get-ConntrackRecommendation'
        'Get-ConntrackEntry'
        'Get-ConntrackTimeout'
        'Set-ConntrackHashSize'
        'Set-ConntrackLimit'
        'Set-ConntrackTimeout'
        'Export-ConntrackMetric'
        'Remove-ConntrackEntry'
        'Clear-ConntrackTable'
        'Get-ConntrackExpectation'
        'Get-ConntrackSetting'
        'Set-ConntrackSetting'
        'Get-ConntrackNamespace'
        'Get-ConntrackBpfMap'
        'Get-ConntrackWriter'
        'Get-ConntrackEvent'
        'Watch-Conntrack'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('Linux', 'PSEdition_Core', 'conntrack', 'netfilter', 'nf_conntrack', 'sysctl', 'networking', 'firewall', 'NAT')
            # No public repository exists: no ProjectUri or LicenseUri. The licence and the release notes ship in the module.
            ReleaseNotes = 'See CHANGELOG.md in the module folder; the licence is LICENSE beside it.'
        }
    }
}
