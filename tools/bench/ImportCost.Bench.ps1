# What the module adds to a pwsh start: median wall time of a bare 'pwsh -Command exit' against
# 'Import-Module; Get-ConntrackLimit', the two interleaved so drift in machine load hits both alike.
param([Parameter(Mandatory)] [string] $ModulePath, [int] $Runs = 21)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../Common.ps1')
$pwsh = Get-PwshCommand

function Measure-Start([string] $Command) {
    $info = [Diagnostics.ProcessStartInfo]::new($pwsh[0])
    foreach ($a in @($pwsh | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive', '-Command', $Command)) { $info.ArgumentList.Add($a) }
    $info.RedirectStandardOutput = $true
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $p = [Diagnostics.Process]::Start($info)
    $null = $p.StandardOutput.ReadToEnd()
    $p.WaitForExit()
    $watch.Stop()
    if ($p.ExitCode) { throw "'$Command' exited with $($p.ExitCode)." }
    $watch.Elapsed.TotalMilliseconds
}

function Get-Median([double[]] $Values) {
    $sorted = $Values | Sort-Object
    $sorted[[int][math]::Floor($sorted.Count / 2)]
}

$withModule = "Import-Module '$ModulePath'; `$null = Get-ConntrackLimit"
$null = Measure-Start 'exit'; $null = Measure-Start $withModule   # warm the disk cache
$bare = [Collections.Generic.List[double]]::new()
$loaded = [Collections.Generic.List[double]]::new()
for ($i = 0; $i -lt $Runs; $i++) {
    $bare.Add((Measure-Start 'exit'))
    $loaded.Add((Measure-Start $withModule))
}
$b = Get-Median $bare
$l = Get-Median $loaded
'bare pwsh start:                      {0,7:N1} ms (median of {1})' -f $b, $Runs
'pwsh + Import-Module + Get-ConntrackLimit: {0,7:N1} ms' -f $l
'added by the module:                  {0,7:N1} ms (goal: under 50 ms)' -f ($l - $b)
