# What the module adds to a pwsh start. Three commands run interleaved, so drift in machine load hits all alike:
#   bare       pwsh -Command exit
#   reference  Import-Module Microsoft.PowerShell.Utility; Get-Date   (PowerShell's own module: what the first
#              Import-Module of any manifest module costs in a fresh pwsh)
#   module     Import-Module ConntrackTuning; Get-ConntrackLimit
# Medians of wall time.
param([Parameter(Mandatory)] [string] $ModulePath, [int] $Runs = 21)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../Common.ps1')
$commands = [ordered]@{
    bare      = 'exit'
    reference = 'Import-Module Microsoft.PowerShell.Utility; $null = Get-Date'
    module    = "Import-Module '$ModulePath'; `$null = Get-ConntrackLimit"
}
$wall = Measure-PwshStart $commands $Runs
"median wall time of $Runs runs each"
foreach ($name in $commands.Keys) { '  {0,-10} {1,8:N1} ms' -f $name, $wall[$name] }
'Import-Module + Get-ConntrackLimit over a bare start: {0,6:N1} ms (goal: under 50 ms)' -f ($wall.module - $wall.bare)
'  the first Import-Module of PowerShell''s own Utility module costs {0:N1} ms over a bare start;' -f ($wall.reference - $wall.bare)
'  ConntrackTuning beyond that reference: {0:N1} ms' -f ($wall.module - $wall.reference)
