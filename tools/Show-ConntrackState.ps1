# The README's main job: this machine's conntrack state, read-only.
param([Parameter(Mandatory)] [string] $ModulePath)
$ErrorActionPreference = 'Stop'
Import-Module $ModulePath

Write-Host "`n== Kernel" -ForegroundColor Cyan
Get-ConntrackKernel | Format-List | Out-Host
Write-Host "== Limits" -ForegroundColor Cyan
Get-ConntrackLimit | Format-Table -AutoSize | Out-Host
Write-Host "== Counters" -ForegroundColor Cyan
Get-ConntrackStatistic -ErrorAction Continue | Format-Table -AutoSize | Out-Host
Write-Host "== Table-full messages in the kernel log" -ForegroundColor Cyan
Get-ConntrackDropEvent -Summary -ErrorAction Continue | Format-List | Out-Host
Write-Host "== Health" -ForegroundColor Cyan
Test-ConntrackHealth | Out-Host
