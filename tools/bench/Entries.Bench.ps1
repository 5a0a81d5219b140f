# Get-ConntrackEntry against the tools people use today, on real tables in a throwaway network namespace:
#   1. the engine's parse rate on a saved 1,000,000-line procfs table (goal: 2 million lines/s or better);
#   2. at 200,000 real entries, side by side: 'conntrack -L > /dev/null', reading /proc/net/nf_conntrack, and the
#      module's summary over ctnetlink in a warm pwsh session (goal: no slower than conntrack -L);
#   3. the peak memory of a summary at 50,000 and at 200,000 entries (goal: flat).
# Figures are printed, never asserted. Parts 2 and 3 need root, unshare, nft, conntrack and hyperfine, and hold
# the machine-wide real-kernel lock while they fill and measure.
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [ValidateSet('Main', 'Namespace', 'Memory')] [string] $Phase = 'Main',
    [int] $Entries = 0,
    [int] $ProcfsLines = 1000000,
    [int] $Runs = 5
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot '../Common.ps1')

# New unreplied entries to 127.0.x.1, from the pairs already sent ($From) on.
function Add-UdpEntry([int] $From, [int] $Count) { Add-BenchUdpEntry -Count $Count -From $From }

# In a fresh pwsh, after two warm-up runs: the peak resident memory a summary adds, from a high-water mark reset
# just before it, and the managed bytes it allocates.
function Measure-SummaryMemory([int] $Count) {
    $pwsh = Get-PwshCommand
    $json = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -File $PSCommandPath -ModulePath $ModulePath -Phase Memory -Entries $Count
    if ($LASTEXITCODE) { throw "The memory probe failed: $json" }
    $json | ConvertFrom-Json
}

switch ($Phase) {
    'Memory' {
        Import-Module $ModulePath
        # Two warm-up runs, so JIT tiering of the code path is not counted as memory of the summary itself.
        $null = Get-ConntrackEntry -Summary; $null = Get-ConntrackEntry -Summary
        [GC]::Collect()
        $before = Get-BenchProcessBytes VmRSS
        Reset-BenchPeakMemory
        $allocated = [GC]::GetTotalAllocatedBytes($true)
        $summary = Get-ConntrackEntry -Summary
        $allocated = [GC]::GetTotalAllocatedBytes($true) - $allocated
        [pscustomobject]@{
            Entries        = $summary.Entries
            PeakAddedBytes = (Get-BenchProcessBytes VmHWM) - $before
            AllocatedBytes = $allocated
        } | ConvertTo-Json -Compress
        return
    }

    'Namespace' {
        Import-Module $ModulePath
        # The UDP timeout is per namespace, so the unreplied entries outlive the run; the global max (262144) applies per namespace.
        Initialize-BenchNamespace

        $small = 50000
        Add-UdpEntry -From 0 -Count $small
        Wait-BenchEntryCount $small
        $memorySmall = Measure-SummaryMemory $small

        Add-UdpEntry -From $small -Count ($Entries - $small)
        Wait-BenchEntryCount $Entries
        $memoryLarge = Measure-SummaryMemory $Entries

        $json = Join-Path ([IO.Path]::GetTempPath()) "ctt-bench-$PID.json"
        & hyperfine --style none --warmup 1 --runs $Runs --shell none --output null --export-json $json `
            'conntrack -L' 'cat /proc/net/nf_conntrack' | Out-Null
        if ($LASTEXITCODE) { throw 'hyperfine failed.' }
        $external = (Get-Content -Raw $json | ConvertFrom-Json).results
        Remove-Item $json

        function Measure-Warm([scriptblock] $Block) {
            $null = & $Block   # warm
            Get-Median @(for ($i = 0; $i -lt $Runs; $i++) { (Measure-Command $Block).TotalSeconds })
        }
        $summary = Get-ConntrackEntry -Summary
        [pscustomobject]@{
            Entries          = $summary.Entries
            CountByCli       = [long](& conntrack -C)
            ConntrackL       = Get-Median $external[0].times
            ProcfsCat        = Get-Median $external[1].times
            SummaryNetlink   = Measure-Warm { $null = Get-ConntrackEntry -Summary }
            SummaryProcfs    = Measure-Warm { $null = Get-ConntrackEntry -Summary -Path /proc/net/nf_conntrack }
            EntryObjects     = Measure-Warm { $null = Get-ConntrackEntry | Measure-Object }
            MemorySmall      = $memorySmall
            MemoryLarge      = $memoryLarge
        } | ConvertTo-Json -Depth 3 -Compress
        return
    }
}

# Main: the parse rate needs nothing but a file.
Import-Module $ModulePath
$file = Join-Path ([IO.Path]::GetTempPath()) "ctt-procfs-$PID.txt"
try {
    $templates = @(
        'ipv4     2 tcp      6 431999 ESTABLISHED src=10.{0}.{1}.{2} dst=192.0.2.{3} sport={4} dport=443 src=192.0.2.{3} dst=10.{0}.{1}.{2} sport=443 dport={4} [ASSURED] mark=0 zone=0 use=2'
        'ipv4     2 udp      17 29 src=10.{0}.{1}.{2} dst=198.51.100.{3} sport={4} dport=53 [UNREPLIED] src=198.51.100.{3} dst=10.{0}.{1}.{2} sport=53 dport={4} mark=0 zone=0 use=2'
        'ipv4     2 tcp      6 117 TIME_WAIT src=10.{0}.{1}.{2} dst=203.0.113.{3} sport={4} dport=80 packets=6 bytes=412 src=203.0.113.{3} dst=10.{0}.{1}.{2} sport=80 dport={4} packets=4 bytes=1180 [ASSURED] mark=0 zone=0 delta-time=3 use=2'
        'ipv6     10 udp      17 172 src=2001:0db8:0000:0000:0000:0000:00{0:x2}:{1:x4} dst=2001:0db8:0000:0000:0000:0000:0000:00{3:x2} sport={4} dport=123 src=2001:0db8:0000:0000:0000:0000:0000:00{3:x2} dst=2001:0db8:0000:0000:0000:0000:00{0:x2}:{1:x4} sport=123 dport={4} mark=0 zone=0 use=2'
        'ipv4     2 icmp     1 29 src=10.{0}.{1}.{2} dst=192.0.2.{3} type=8 code=0 id={4} src=192.0.2.{3} dst=10.{0}.{1}.{2} type=0 code=0 id={4} mark=0 zone=0 use=2'
    )
    $writer = [IO.StreamWriter]::new($file)
    try {
        for ($i = 0; $i -lt $ProcfsLines; $i++) {
            $writer.WriteLine(($templates[$i % 5] -f ($i -shr 16 -band 255), ($i -shr 8 -band 255), ($i -band 255), ($i % 200 + 1), (1024 + $i % 60000)))
        }
    }
    finally { $writer.Dispose() }
    $size = (Get-Item $file).Length

    function Measure-Rate([scriptblock] $Block) {
        $null = & $Block; $null = & $Block   # warm: JIT tiers and the page cache
        $process = [Diagnostics.Process]::GetCurrentProcess()
        $runs = @(for ($i = 0; $i -lt $Runs; $i++) {
                $process.Refresh(); $cpu = $process.TotalProcessorTime
                $wall = (Measure-Command $Block).TotalSeconds
                $process.Refresh()
                [pscustomobject]@{ Wall = $wall; Cpu = ($process.TotalProcessorTime - $cpu).TotalSeconds }
            })
        [pscustomobject]@{ Wall = Get-Median $runs.Wall; Cpu = Get-Median $runs.Cpu }
    }
    # A protocol no line has: every line is parsed and checked, nothing is aggregated.
    $parse = Measure-Rate { $null = Get-ConntrackEntry -Path $file -Summary -Protocol 250 }
    $summary = Measure-Rate { $script:s = Get-ConntrackEntry -Path $file -Summary }
    if ($s.Entries -ne $ProcfsLines) { throw "The summary counted $($s.Entries) of $ProcfsLines lines." }
    'Saved procfs table of {0:N0} lines ({1:N0} MiB, one distinct source per line), median of {2} warm runs:' -f $ProcfsLines, ($size / 1MB), $Runs
    '  parsed and filtered:   {0,6:N3} s = {1,5:N2} million lines/s (goal: 2 or more); {2:N3} s of CPU' -f $parse.Wall, ($ProcfsLines / $parse.Wall / 1e6), $parse.Cpu
    '  parsed and summarized: {0,6:N3} s = {1,5:N2} million lines/s; {2:N3} s of CPU' -f $summary.Wall, ($ProcfsLines / $summary.Wall / 1e6), $summary.Cpu
}
finally {
    Remove-Item $file -ErrorAction Ignore
}

$skip = Get-BenchSkipReason 'unshare', 'nft', 'conntrack', 'hyperfine', 'ip'
if ($skip) {
    "Live-table figures skipped: $skip."
    return
}

$count = if ($Entries -gt 0) { $Entries } else { 200000 }
$json = Invoke-BenchInNamespace $PSCommandPath -ModulePath $ModulePath -ArgumentList '-ModulePath', $ModulePath, '-Phase', 'Namespace', '-Entries', $count, '-Runs', $Runs
$r = $json | ConvertFrom-Json
''
"Machine load while measuring: $((Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3) (2 CPUs shared with other work)"
'Live table in a throwaway namespace: {0:N0} unreplied UDP entries (conntrack -C: {1:N0}); median of {2} warm runs' -f $r.Entries, $r.CountByCli, $Runs
'  conntrack -L > /dev/null                       {0,8:N3} s' -f $r.ConntrackL
'  cat /proc/net/nf_conntrack > /dev/null         {0,8:N3} s' -f $r.ProcfsCat
'  Get-ConntrackEntry -Summary (ctnetlink)        {0,8:N3} s  ({1:N2} x conntrack -L; goal: 1 or less)' -f $r.SummaryNetlink, ($r.SummaryNetlink / $r.ConntrackL)
'  Get-ConntrackEntry -Summary -Path procfs       {0,8:N3} s' -f $r.SummaryProcfs
'  Get-ConntrackEntry | Measure-Object            {0,8:N3} s  ({1:N0} entry objects/s)' -f $r.EntryObjects, ($r.Entries / $r.EntryObjects)
'Peak memory a summary adds (fresh pwsh, high-water mark reset before the call):'
'  {0,7:N0} entries: {1,6:N1} MiB resident, {2,6:N1} MiB allocated' -f $r.MemorySmall.Entries, ($r.MemorySmall.PeakAddedBytes / 1MB), ($r.MemorySmall.AllocatedBytes / 1MB)
'  {0,7:N0} entries: {1,6:N1} MiB resident, {2,6:N1} MiB allocated' -f $r.MemoryLarge.Entries, ($r.MemoryLarge.PeakAddedBytes / 1MB), ($r.MemoryLarge.AllocatedBytes / 1MB)
