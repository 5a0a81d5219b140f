# Remove-ConntrackEntry against 'conntrack -D' with the same filter, on a real table in a throwaway network
# namespace: 200,000 unreplied UDP entries, of which the 100,000 sent from one source port are deleted. Each run
# refills those 100,000 first; the tools take turns, and the median of the runs is printed side by side (goal: at
# most half of conntrack's time). Then, in a fresh pwsh, the peak memory a removal adds (goal: under 5 MiB).
# Figures are printed, never asserted. Needs root, unshare, nft and conntrack, and holds the real-kernel lock.
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [ValidateSet('Main', 'Namespace', 'Memory')] [string] $Phase = 'Main',
    [int] $Entries = 200000,
    [int] $Runs = 3
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot '../Common.ps1')

# The deleted half comes from this source port, the kept half from the next one.
$script:DeletePort = 40000
$script:KeepPort = 40001

# The deleted half is sent from $DeletePort to 127.10.x.1, the kept half from $KeepPort to 127.11.x.1.
function Add-UdpEntry([int] $SourcePort, [int] $Block, [int] $Count) { Add-BenchUdpEntry -Count $Count -SourcePort $SourcePort -SecondOctet (10 + $Block) }

switch ($Phase) {
    'Memory' {
        # In the namespace, in a fresh pwsh: a small removal first (JIT, the module's first use), then the
        # high-water mark is reset and the large one measured.
        Import-Module $ModulePath
        $half = [int]($Entries / 2)
        $start = Get-BenchEntryCount
        Add-UdpEntry -SourcePort 40002 -Block 5 -Count 1000
        Wait-BenchEntryCount ($start + 1000)
        $null = Remove-ConntrackEntry -Protocol udp -SourcePort 40002 -Confirm:$false
        [GC]::Collect()
        $process = [Diagnostics.Process]::GetCurrentProcess()
        $rssBefore = Get-BenchProcessBytes VmRSS
        $privateBefore = $process.PrivateMemorySize64
        Reset-BenchPeakMemory
        $allocated = [GC]::GetTotalAllocatedBytes($true)
        $result = Remove-ConntrackEntry -Protocol udp -SourcePort $DeletePort -Confirm:$false
        $allocated = [GC]::GetTotalAllocatedBytes($true) - $allocated
        $process.Refresh()
        [pscustomobject]@{
            Deleted          = $result.Deleted
            PeakAddedBytes   = (Get-BenchProcessBytes VmHWM) - $rssBefore
            PrivateAddedBytes = $process.PrivateMemorySize64 - $privateBefore
            AllocatedBytes   = $allocated
            Expected         = $half
        } | ConvertTo-Json -Compress
        return
    }

    'Namespace' {
        Import-Module $ModulePath
        Initialize-BenchNamespace
        $half = [int]($Entries / 2)
        Add-UdpEntry -SourcePort $KeepPort -Block 1 -Count $half
        Wait-BenchEntryCount $half

        $conntrack = [Collections.Generic.List[double]]::new()
        $module = [Collections.Generic.List[double]]::new()
        $checks = [Collections.Generic.List[string]]::new()
        # One warm-up of the module's path (JIT, first use), not counted.
        Add-UdpEntry -SourcePort $DeletePort -Block 0 -Count 1000
        $null = Remove-ConntrackEntry -Protocol udp -SourcePort $DeletePort -Confirm:$false
        for ($run = 0; $run -lt $Runs; $run++) {
            foreach ($tool in 'conntrack', 'module') {
                Add-UdpEntry -SourcePort $DeletePort -Block 0 -Count $half
                Wait-BenchEntryCount $Entries
                $clock = [Diagnostics.Stopwatch]::StartNew()
                if ($tool -eq 'conntrack') {
                    & conntrack -D -p udp --sport $DeletePort > /dev/null 2>&1
                    $clock.Stop(); $conntrack.Add($clock.Elapsed.TotalSeconds)
                    $deleted = $Entries - (Get-BenchEntryCount)
                }
                else {
                    $r = Remove-ConntrackEntry -Protocol udp -SourcePort $DeletePort -Confirm:$false
                    $clock.Stop(); $module.Add($clock.Elapsed.TotalSeconds)
                    $deleted = $r.Deleted
                }
                $checks.Add("$tool deleted $deleted, left $(Get-BenchEntryCount)")
                if ((Get-BenchEntryCount) -ne $half) { throw "After $tool the table holds $(Get-BenchEntryCount) entries, not $half." }
            }
        }

        Add-UdpEntry -SourcePort $DeletePort -Block 0 -Count $half
        Wait-BenchEntryCount $Entries
        $pwsh = Get-PwshCommand
        $memory = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -File $PSCommandPath -ModulePath $ModulePath -Phase Memory -Entries $Entries
        if ($LASTEXITCODE) { throw "The memory probe failed: $memory" }
        [pscustomobject]@{
            Entries   = $Entries
            Deleted   = $half
            Conntrack = Get-Median $conntrack.ToArray()
            Module    = Get-Median $module.ToArray()
            AllConntrack = $conntrack.ToArray()
            AllModule = $module.ToArray()
            Checks    = $checks.ToArray()
            Memory    = $memory | Select-Object -Last 1 | ConvertFrom-Json
        } | ConvertTo-Json -Depth 3 -Compress
        return
    }
}

$skip = Get-BenchSkipReason 'unshare', 'nft', 'conntrack', 'ip'
if ($skip) {
    "Remove-ConntrackEntry figures skipped: $skip."
    return
}

$json = Invoke-BenchInNamespace $PSCommandPath -ModulePath $ModulePath -ArgumentList '-ModulePath', $ModulePath, '-Phase', 'Namespace', '-Entries', $Entries, '-Runs', $Runs
$r = $json | ConvertFrom-Json
"Machine load while measuring: $((Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3) (2 CPUs shared with other work)"
'Deleting {0:N0} of {1:N0} unreplied UDP entries (udp, source port {2}) in a throwaway namespace; median of {3} runs, taking turns:' -f $r.Deleted, $r.Entries, $DeletePort, $Runs
'  conntrack -D -p udp --sport {0}                       {1,8:N3} s   (runs: {2})' -f $DeletePort, $r.Conntrack, (($r.AllConntrack | ForEach-Object { $_.ToString('N3') }) -join ', ')
'  Remove-ConntrackEntry -Protocol udp -SourcePort {0}   {1,8:N3} s   (runs: {2}; {3:N2} x conntrack, goal: 0.5 or less)' -f $DeletePort, $r.Module, (($r.AllModule | ForEach-Object { $_.ToString('N3') }) -join ', '), ($r.Module / $r.Conntrack)
'Peak memory a removal of {0:N0} entries adds (fresh pwsh, high-water mark reset before the call; goal: under 5 MiB):' -f $r.Memory.Deleted
'  {0,6:N2} MiB resident (VmHWM), {1,6:N2} MiB private bytes, {2,6:N1} MiB allocated by the GC over the run' -f ($r.Memory.PeakAddedBytes / 1MB), ($r.Memory.PrivateAddedBytes / 1MB), ($r.Memory.AllocatedBytes / 1MB)
