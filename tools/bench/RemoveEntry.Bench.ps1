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

# Sends one datagram from a socket bound to $SourcePort to each of $Count (address, port) pairs on 127.0.0.0/8,
# so each makes one unreplied entry; $Block picks a separate set of addresses per source.
function Add-UdpEntry([int] $SourcePort, [int] $Block, [int] $Count) {
    $udp = [Net.Sockets.UdpClient]::new([Net.IPEndPoint]::new([Net.IPAddress]::Loopback, $SourcePort))
    $payload = [byte[]](0x63, 0x74)
    try {
        for ($i = 0; $i -lt $Count; $i++) {
            $address = [Net.IPAddress]::new([byte[]](127, [byte](10 + $Block), [byte]([math]::Floor($i / 50000) + 1), 1))
            $null = $udp.Send($payload, 2, [Net.IPEndPoint]::new($address, 10000 + ($i % 50000)))
        }
    }
    finally { $udp.Dispose() }
}

function Get-Count { [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_count) }

function Wait-Count([long] $Expected) {
    $deadline = [datetime]::UtcNow.AddSeconds(60)
    while ((Get-Count) -lt $Expected) {
        if ([datetime]::UtcNow -gt $deadline) { throw "The table holds $(Get-Count) entries, not $Expected." }
        Start-Sleep -Milliseconds 100
    }
}

function Get-Status([string] $Key) { [long](((Get-Content /proc/self/status) -match "^${Key}:")[0] -replace '\D', '') * 1KB }

switch ($Phase) {
    'Memory' {
        # In the namespace, in a fresh pwsh: a small removal first (JIT, the module's first use), then the
        # high-water mark is reset and the large one measured.
        Import-Module $ModulePath
        $half = [int]($Entries / 2)
        Add-UdpEntry -SourcePort 40002 -Block 5 -Count 1000
        Wait-Count ((Get-Count) + 1)
        $null = Remove-ConntrackEntry -Protocol udp -SourcePort 40002 -Confirm:$false
        [GC]::Collect()
        $process = [Diagnostics.Process]::GetCurrentProcess()
        $rssBefore = Get-Status VmRSS
        $privateBefore = $process.PrivateMemorySize64
        [IO.File]::WriteAllText('/proc/self/clear_refs', '5')   # resets VmHWM to the current RSS
        $allocated = [GC]::GetTotalAllocatedBytes($true)
        $result = Remove-ConntrackEntry -Protocol udp -SourcePort $DeletePort -Confirm:$false
        $allocated = [GC]::GetTotalAllocatedBytes($true) - $allocated
        $process.Refresh()
        [pscustomobject]@{
            Deleted          = $result.Deleted
            PeakAddedBytes   = (Get-Status VmHWM) - $rssBefore
            PrivateAddedBytes = $process.PrivateMemorySize64 - $privateBefore
            AllocatedBytes   = $allocated
            Expected         = $half
        } | ConvertTo-Json -Compress
        return
    }

    'Namespace' {
        Import-Module $ModulePath
        & ip link set lo up
        "table inet bench {`n chain o { type filter hook output priority 0; ct state new counter; }`n}`n" | & nft -f -
        if ($LASTEXITCODE) { throw 'nft failed to install the tracking rule.' }
        # Per namespace: the unreplied entries outlive the run.
        [IO.File]::WriteAllText('/proc/sys/net/netfilter/nf_conntrack_udp_timeout', '3600')
        $half = [int]($Entries / 2)
        Add-UdpEntry -SourcePort $KeepPort -Block 1 -Count $half
        Wait-Count $half

        $conntrack = [Collections.Generic.List[double]]::new()
        $module = [Collections.Generic.List[double]]::new()
        $checks = [Collections.Generic.List[string]]::new()
        # One warm-up of the module's path (JIT, first use), not counted.
        Add-UdpEntry -SourcePort $DeletePort -Block 0 -Count 1000
        $null = Remove-ConntrackEntry -Protocol udp -SourcePort $DeletePort -Confirm:$false
        for ($run = 0; $run -lt $Runs; $run++) {
            foreach ($tool in 'conntrack', 'module') {
                Add-UdpEntry -SourcePort $DeletePort -Block 0 -Count $half
                Wait-Count $Entries
                $clock = [Diagnostics.Stopwatch]::StartNew()
                if ($tool -eq 'conntrack') {
                    & conntrack -D -p udp --sport $DeletePort > /dev/null 2>&1
                    $clock.Stop(); $conntrack.Add($clock.Elapsed.TotalSeconds)
                    $deleted = $Entries - (Get-Count)
                }
                else {
                    $r = Remove-ConntrackEntry -Protocol udp -SourcePort $DeletePort -Confirm:$false
                    $clock.Stop(); $module.Add($clock.Elapsed.TotalSeconds)
                    $deleted = $r.Deleted
                }
                $checks.Add("$tool deleted $deleted, left $(Get-Count)")
                if ((Get-Count) -ne $half) { throw "After $tool the table holds $(Get-Count) entries, not $half." }
            }
        }

        Add-UdpEntry -SourcePort $DeletePort -Block 0 -Count $half
        Wait-Count $Entries
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

$skip = if (-not $IsLinux) { 'not Linux' }
elseif ((& id -u) -ne '0') { 'not root' }
else {
    foreach ($tool in 'unshare', 'nft', 'conntrack', 'ip') {
        if (-not (Get-Command $tool -ErrorAction Ignore)) { "'$tool' is not installed"; break }
    }
}
if ($skip) {
    "Remove-ConntrackEntry figures skipped: $skip."
    return
}

$env:CONNTRACK_MODULE = $ModulePath   # tests/Common.ps1 imports the module from there
. (Join-Path $PSScriptRoot '../../tests/Common.ps1')
$lock = Enter-ConntrackLock
try {
    $pwsh = Get-PwshCommand
    $json = & unshare -n -- @pwsh -NoProfile -NonInteractive -File $PSCommandPath -ModulePath $ModulePath -Phase Namespace -Entries $Entries -Runs $Runs
    if ($LASTEXITCODE) { throw "The namespace run failed: $json" }
}
finally {
    $lock.Dispose()
}
$r = $json | Select-Object -Last 1 | ConvertFrom-Json
"Machine load while measuring: $((Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3) (2 CPUs shared with other work)"
'Deleting {0:N0} of {1:N0} unreplied UDP entries (udp, source port {2}) in a throwaway namespace; median of {3} runs, taking turns:' -f $r.Deleted, $r.Entries, $DeletePort, $Runs
'  conntrack -D -p udp --sport {0}                       {1,8:N3} s   (runs: {2})' -f $DeletePort, $r.Conntrack, (($r.AllConntrack | ForEach-Object { $_.ToString('N3') }) -join ', ')
'  Remove-ConntrackEntry -Protocol udp -SourcePort {0}   {1,8:N3} s   (runs: {2}; {3:N2} x conntrack, goal: 0.5 or less)' -f $DeletePort, $r.Module, (($r.AllModule | ForEach-Object { $_.ToString('N3') }) -join ', '), ($r.Module / $r.Conntrack)
'Peak memory a removal of {0:N0} entries adds (fresh pwsh, high-water mark reset before the call; goal: under 5 MiB):' -f $r.Memory.Deleted
'  {0,6:N2} MiB resident (VmHWM), {1,6:N2} MiB private bytes, {2,6:N1} MiB allocated by the GC over the run' -f ($r.Memory.PeakAddedBytes / 1MB), ($r.Memory.PrivateAddedBytes / 1MB), ($r.Memory.AllocatedBytes / 1MB)
