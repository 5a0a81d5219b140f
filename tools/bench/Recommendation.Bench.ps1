# What a recommendation costs once the module is loaded: median wall time of Get-ConntrackRecommendation
# -Profile All on this machine (probe, limits, slab, namespace census) and planned without a machine (arithmetic
# only), with the managed memory allocated per call.
param([Parameter(Mandatory)] [string] $ModulePath, [int] $Runs = 51)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../Common.ps1')
Import-Module $ModulePath

function Measure-Call([scriptblock] $Call) {
    $null = & $Call   # warm up: JIT, file cache
    $times = [Collections.Generic.List[double]]::new()
    $bytes = [Collections.Generic.List[long]]::new()
    for ($i = 0; $i -lt $Runs; $i++) {
        $before = [GC]::GetAllocatedBytesForCurrentThread()
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $null = & $Call
        $watch.Stop()
        $bytes.Add([GC]::GetAllocatedBytesForCurrentThread() - $before)
        $times.Add($watch.Elapsed.TotalMilliseconds)
    }
    [pscustomobject]@{ MedianMs = Get-Median $times; MedianKiB = (Get-Median $bytes) / 1KB }
}

$live = Measure-Call { Get-ConntrackRecommendation -Profile All -WarningAction SilentlyContinue }
$plan = Measure-Call { Get-ConntrackRecommendation -Profile All -MemoryBytes 512MB -PointerBits 32 -KernelVersion 2.6.5 -WarningAction SilentlyContinue }
'Get-ConntrackRecommendation -Profile All, this machine:   {0,7:N2} ms, {1,8:N0} KiB allocated (median of {2})' -f $live.MedianMs, $live.MedianKiB, $Runs
'Get-ConntrackRecommendation -Profile All, planned:        {0,7:N2} ms, {1,8:N0} KiB allocated' -f $plan.MedianMs, $plan.MedianKiB
