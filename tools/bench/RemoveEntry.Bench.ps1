# Remove-ConntrackEntry against 'conntrack -D' with the same filter, on a real table in a throwaway network
# namespace: 200,000 unreplied UDP entries, of which the 100,000 sent from one source port are deleted. Each run
# refills those 100,000 first; the tools take turns, and the median of the runs is printed side by side (goal: at
# most half of conntrack's time). Then, in a fresh pwsh in a fresh namespace per table size (50,000, 100,000 and
# 200,000 entries, half of them deleted), the peak memory a removal adds and the process's VmHWM: flat memory
# means these stay about the same at every size (goal: under 5 MiB added).
# Figures are printed, never asserted. Needs root, unshare, nft and conntrack, and holds the real-kernel lock.
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [ValidateSet('Main', 'Namespace', 'Memory')] [string] $Phase = 'Main',
    [int] $Entries = 200000,
    [int] $Runs = 3,
    [int[]] $MemorySizes = @(50000, 100000, 200000)
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot '../Common.ps1')

# The deleted half comes from this source port, the kept half from the next one.
$script:DeletePort = 40000
$script:KeepPort = 40001

# Sends one datagram from a socket bound to $SourcePort to each of $Count (address, port) pairs on 127.0.0.0/8,
# so each makes one unreplied entry; $Block picks a separate set of addresses per source. python3 sends them,
# so the pwsh that measures its memory allocates nothing for them (and 100,000 sends take a fraction of a second).
function Add-UdpEntryFast([int] $SourcePort, [int] $Block, [int] $Count) {
    $code = 'import socket, sys
sp, block, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", sp))
for i in range(n):
    s.sendto(b"ct", ("127.%d.%d.1" % (10 + block, i // 50000 + 1), 10000 + i % 50000))'
    & python3 -c $code $SourcePort $Block $Count
    if ($LASTEXITCODE) { throw 'python3 failed to create the entries.' }
}





switch ($Phase) {
    'Memory' {
        # In a namespace of its own, in a fresh pwsh: the table is filled by a separate process (python3), so the
        # filling allocates nothing here; a small removal first (JIT, the module's first use), then the
        # high-water mark is reset and the large one measured.
        Import-Module $ModulePath
        Initialize-BenchNamespace
        $half = [int]($Entries / 2)
        Add-UdpEntryFast -SourcePort $KeepPort -Block 1 -Count $half
        Add-UdpEntryFast -SourcePort $DeletePort -Block 0 -Count $half
        Add-UdpEntryFast -SourcePort 40002 -Block 5 -Count 1000
        Wait-BenchEntryCount ($Entries + 1000)
        $null = Remove-ConntrackEntry -Protocol udp -SourcePort 40002 -Confirm:$false
        [GC]::Collect()
        $process = [Diagnostics.Process]::GetCurrentProcess()
        $rssBefore = Get-BenchProcessBytes VmRSS
        $privateBefore = $process.PrivateMemorySize64
        [IO.File]::WriteAllText('/proc/self/clear_refs', '5')   # resets VmHWM to the current RSS
        $allocated = [GC]::GetTotalAllocatedBytes($true)
        $result = Remove-ConntrackEntry -Protocol udp -SourcePort $DeletePort -Confirm:$false
        $allocated = [GC]::GetTotalAllocatedBytes($true) - $allocated
        $process.Refresh()
        [pscustomobject]@{
            Entries           = $Entries
            Deleted           = $result.Deleted
            Seconds           = $result.Seconds
            RssBefore         = $rssBefore
            VmHWM             = Get-BenchProcessBytes VmHWM
            PeakAddedBytes    = (Get-BenchProcessBytes VmHWM) - $rssBefore
            PrivateAddedBytes = $process.PrivateMemorySize64 - $privateBefore
            AllocatedBytes    = $allocated
            Expected          = $half
        } | ConvertTo-Json -Compress
        return
    }

    'Namespace' {
        Import-Module $ModulePath
        Initialize-BenchNamespace
        $half = [int]($Entries / 2)
        Add-UdpEntryFast -SourcePort $KeepPort -Block 1 -Count $half
        Wait-BenchEntryCount $half

        $conntrack = [Collections.Generic.List[double]]::new()
        $module = [Collections.Generic.List[double]]::new()
        $checks = [Collections.Generic.List[string]]::new()
        # One warm-up of the module's path (JIT, first use), not counted.
        Add-UdpEntryFast -SourcePort $DeletePort -Block 0 -Count 1000
        $null = Remove-ConntrackEntry -Protocol udp -SourcePort $DeletePort -Confirm:$false
        for ($run = 0; $run -lt $Runs; $run++) {
            foreach ($tool in 'conntrack', 'module') {
                Add-UdpEntryFast -SourcePort $DeletePort -Block 0 -Count $half
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

        [pscustomobject]@{
            Entries   = $Entries
            Deleted   = $half
            Conntrack = Get-Median $conntrack.ToArray()
            Module    = Get-Median $module.ToArray()
            AllConntrack = $conntrack.ToArray()
            AllModule = $module.ToArray()
            Checks    = $checks.ToArray()
        } | ConvertTo-Json -Depth 3 -Compress
        return
    }
}

$skip = Get-BenchSkipReason 'unshare', 'nft', 'conntrack', 'ip', 'python3'
if ($skip) {
    "Remove-ConntrackEntry figures skipped: $skip."
    return
}

$env:CONNTRACK_MODULE = $ModulePath   # tests/Common.ps1 imports the module from there
. (Join-Path $PSScriptRoot '../../tests/Common.ps1')
$lock = Enter-ConntrackLock
try {
    $pwsh = Get-PwshCommand
    $load = (Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3
    $json = & unshare -n -- @pwsh -NoProfile -NonInteractive -File $PSCommandPath -ModulePath $ModulePath -Phase Namespace -Entries $Entries -Runs $Runs
    if ($LASTEXITCODE) { throw "The namespace run failed: $json" }
    $memory = foreach ($size in $MemorySizes) {
        $probe = & unshare -n -- @pwsh -NoProfile -NonInteractive -File $PSCommandPath -ModulePath $ModulePath -Phase Memory -Entries $size
        if ($LASTEXITCODE) { throw "The memory probe at $size entries failed: $probe" }
        $probe | Select-Object -Last 1 | ConvertFrom-Json
    }
    $loadAfter = (Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3
}
finally {
    $lock.Dispose()
}
$r = $json | Select-Object -Last 1 | ConvertFrom-Json
"Machine load while measuring: $load before, $loadAfter after (1, 5, 15 min; $([Environment]::ProcessorCount) CPUs shared with other work)"
'Deleting {0:N0} of {1:N0} unreplied UDP entries (udp, source port {2}) in a throwaway namespace; median of {3} runs, taking turns:' -f $r.Deleted, $r.Entries, $DeletePort, $Runs
'  conntrack -D -p udp --sport {0}                       {1,8:N3} s   (runs: {2})' -f $DeletePort, $r.Conntrack, (($r.AllConntrack | ForEach-Object { $_.ToString('N3') }) -join ', ')
'  Remove-ConntrackEntry -Protocol udp -SourcePort {0}   {1,8:N3} s   (runs: {2}; {3:N2} x conntrack, goal: 0.5 or less)' -f $DeletePort, $r.Module, (($r.AllModule | ForEach-Object { $_.ToString('N3') }) -join ', '), ($r.Module / $r.Conntrack)
'Memory of a removal of half the table, by table size (fresh pwsh per size, high-water mark reset before the call; flat memory: the same at every size; goal: under 5 MiB added):'
'  {0,9} {1,9} {2,9} {3,12} {4,12} {5,14} {6,14}' -f 'entries', 'deleted', 'seconds', 'VmHWM MiB', 'added MiB', 'private MiB', 'GC alloc MiB'
foreach ($m in $memory) {
    '  {0,9:N0} {1,9:N0} {2,9:N3} {3,12:N2} {4,12:N2} {5,14:N2} {6,14:N1}' -f $m.Entries, $m.Deleted, $m.Seconds, ($m.VmHWM / 1MB), ($m.PeakAddedBytes / 1MB), ($m.PrivateAddedBytes / 1MB), ($m.AllocatedBytes / 1MB)
}
