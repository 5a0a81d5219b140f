# The README's main job: this machine's conntrack state, read-only.
param([Parameter(Mandatory)] [string] $ModulePath)
$ErrorActionPreference = 'Stop'
Import-Module $ModulePath

Write-Host "`n== Kernel" -ForegroundColor Cyan
Get-ConntrackKernel | Format-List | Out-Host
Write-Host "== Limits" -ForegroundColor Cyan
Get-ConntrackLimit | Format-Table -AutoSize | Out-Host
Write-Host "== Recommended sizes (read-only; apply with Set-ConntrackLimit / Set-ConntrackHashSize)" -ForegroundColor Cyan
$recommendations = Get-ConntrackRecommendation -Profile All
$recommendations | Format-Table -AutoSize | Out-Host
Write-Host "Why Balanced:" -ForegroundColor Cyan
$recommendations | Where-Object Profile -eq 'Balanced' | ForEach-Object Reasons | ForEach-Object { "  $_" } | Out-Host
Write-Host "== What the next boot applies" -ForegroundColor Cyan
Get-ConntrackLimit | Format-List Max, PersistedMax, PersistedMaxSource, HashSize, PersistedHashSize, PersistedHashSizeSource, Drift, DriftReason | Out-Host
Write-Host "== Timeouts" -ForegroundColor Cyan
Get-ConntrackTimeout | Format-Table -AutoSize | Out-Host
Write-Host "== What raising the limit would change (-WhatIf: nothing is written)" -ForegroundColor Cyan
$current = (Get-ConntrackLimit).Max
if ($current) { Set-ConntrackLimit -Max ($current * 2) -Persist -WhatIf -PassThru -WarningAction SilentlyContinue | Format-List Setting, OldValue, NewValue, Changed, Applied, PersistedTo | Out-Host }
Write-Host "== Who fills the table" -ForegroundColor Cyan
# Reading the live table needs CAP_NET_ADMIN (or a readable /proc/net/nf_conntrack): say so rather than stop.
Get-ConntrackEntry -Summary -Top 5 -ErrorAction Continue | Out-Host
Write-Host "== Counters" -ForegroundColor Cyan
Get-ConntrackStatistic -ErrorAction Continue | Format-Table -AutoSize | Out-Host
Write-Host "== Table-full messages in the kernel log" -ForegroundColor Cyan
Get-ConntrackDropEvent -Summary -ErrorAction Continue | Format-List | Out-Host
Write-Host "== Health" -ForegroundColor Cyan
Test-ConntrackHealth | Out-Host
Write-Host "== Prometheus metrics, as node_exporter's textfile collector would read them (samples only; nothing is written)" -ForegroundColor Cyan
Export-ConntrackMetric -AsText | Where-Object { $_ -notlike '#*' } | Out-Host
