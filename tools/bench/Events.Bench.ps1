# Get-ConntrackEvent against conntrack -E (its defaults) on the same new UDP flows: in a throwaway network
# namespace per round, a generator opens a fixed number of flows to 127.0.0.0/8 at a target rate; both
# listeners run in that namespace at once and count the New events they receive, with their CPU time while
# listening. Goal: no event lost at any rate where conntrack -E loses some, and CPU per event no higher.
# Then the CPU cost of Watch-Conntrack at its default 2 s interval (goal: under 1 % of one CPU).
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [int[]] $Rates = @(5000, 20000, 50000),
    [int] $Flows = 30000,
    [int] $WatchSeconds = 60,
    [string] $WorkDirectory = [IO.Path]::GetTempPath()
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../Common.ps1')
$pwsh = Get-PwshCommand
$skip = Get-BenchSkipReason 'ip', 'nft', 'conntrack', 'python3'
if ($skip) { Write-Warning "Events.Bench skipped: $skip (it needs root for network namespaces and ctnetlink)."; return }

$work = Join-Path $WorkDirectory ("ctt-events-bench-" + [guid]::NewGuid().ToString('n'))
$null = New-Item -ItemType Directory -Path $work
# One datagram per flow from one socket, each to its own 127.1.x.y (62,500 addresses per port), paced to the rate.
$generator = Join-Path $work 'flows.py'
Set-Content $generator @'
import socket, sys, time
n, rate = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t0 = time.perf_counter()
for i in range(n):
    s.sendto(b'x', ('127.1.%d.%d' % ((i // 250) % 250, i % 250 + 1), 9000 + i // 62500))
    if (i & 31) == 0:
        lag = t0 + i / rate - time.perf_counter()
        if lag > 0:
            time.sleep(lag)
print('%.3f' % (time.perf_counter() - t0))
'@

# utime + stime of a process, in seconds (clock ticks of 1/100 s on Linux).
function Get-CpuSeconds([int] $ProcessId) {
    $fields = (Get-Content "/proc/$ProcessId/stat" -Raw) -replace '^.*\) ', '' -split ' '
    ([long]$fields[11] + [long]$fields[12]) / 100.0
}

function Wait-File([string] $Path, [string] $Pattern, [int] $Seconds = 60) {
    $deadline = [datetime]::UtcNow.AddSeconds($Seconds)
    while (-not ((Test-Path $Path) -and (Select-String -Path $Path -Pattern $Pattern -Quiet))) {
        if ([datetime]::UtcNow -gt $deadline) { throw "No '$Pattern' in $Path within $Seconds s" }
        Start-Sleep -Milliseconds 50
    }
}

$rows = [Collections.Generic.List[object]]::new()
try {
    foreach ($rate in $Rates) {
        $ns = "ctt-bench-$PID-$rate"
        & ip netns add $ns
        try {
            & ip netns exec $ns ip link set lo up
            $BenchTrackingRule | & ip netns exec $ns nft -f -
            $ctOut = Join-Path $work "conntrack-$rate.txt"; $ctErr = Join-Path $work "conntrack-$rate.err"
            $ct = Start-Process -FilePath ip -ArgumentList @('netns', 'exec', $ns, 'conntrack', '-E', '-e', 'NEW') -RedirectStandardOutput $ctOut -RedirectStandardError $ctErr -PassThru
            $verbose = Join-Path $work "module-$rate.verbose"; $result = Join-Path $work "module-$rate.json"
            $script = Join-Path $work "listen-$rate.ps1"
            Set-Content $script @"
Import-Module '$ModulePath'
`$self = [Diagnostics.Process]::GetCurrentProcess()
`$cpu0 = `$self.TotalProcessorTime.TotalSeconds
`$s = Get-ConntrackEvent -EventType New -Summary -Count $Flows -Duration $([math]::Ceiling($Flows / $rate) + 15) -Verbose 4> '$verbose'
`$self.Refresh()
`$s | Select-Object Received, Overruns, LostEvents, ReceiveBufferBytes, Seconds, @{ n = 'Cpu'; e = { `$self.TotalProcessorTime.TotalSeconds - `$cpu0 } } | ConvertTo-Json | Set-Content '$result'
"@
            $module = Start-Process -FilePath ip -ArgumentList (@('netns', 'exec', $ns) + $pwsh + @('-NoProfile', '-NonInteractive', '-File', $script)) -PassThru
            Wait-File $verbose 'Listening to'
            Start-Sleep -Milliseconds 500
            # ip netns exec replaces itself with the command (exec), so these are the listeners' own process ids.
            $ctCpu0 = Get-CpuSeconds $ct.Id
            $took = & ip netns exec $ns python3 $generator $Flows $rate
            Start-Sleep -Seconds 2
            $ctCpu = (Get-CpuSeconds $ct.Id) - $ctCpu0
            $module.WaitForExit(30000) | Out-Null
            Stop-Process -Id $ct.Id -ErrorAction Ignore; $ct.WaitForExit(5000) | Out-Null
            $s = Get-Content $result -Raw | ConvertFrom-Json
            $moduleCpu = [double]$s.Cpu
            $ctEvents = @(Get-Content $ctOut | Where-Object { $_ -match '\[NEW\]' }).Count
            $ctEnobufs = @(Get-Content $ctErr -ErrorAction Ignore | Where-Object { $_ -match 'ENOBUFS' }).Count
            $rows.Add([pscustomobject]@{
                    'Rate/s'              = $rate
                    Flows                 = $Flows
                    'Sent in s'           = [double]$took
                    'Module events'       = $s.Received
                    'Module overruns'     = $s.Overruns
                    'Module CPU s'        = [math]::Round($moduleCpu, 2)
                    'Module us/event'     = if ($s.Received) { [math]::Round(1e6 * $moduleCpu / $s.Received, 1) } else { $null }
                    'conntrack -E events' = $ctEvents
                    'conntrack ENOBUFS'   = $ctEnobufs
                    'conntrack CPU s'     = [math]::Round($ctCpu, 2)
                    'conntrack us/event'  = if ($ctEvents) { [math]::Round(1e6 * $ctCpu / $ctEvents, 1) } else { $null }
                })
        }
        finally {
            & ip netns del $ns 2>$null
        }
    }
    'Get-ConntrackEvent -Summary (default queue: 8 MiB asked, SO_RCVBUFFORCE; CPU of the whole command: probe, JIT, listening) against conntrack -E -e NEW (defaults; CPU while the flows are sent and 2 s after):'
    $rows | Format-Table -AutoSize | Out-String -Width 200

    # Watch-Conntrack's own cost at the default interval, idle table, with its event listener.
    $ns = "ctt-bench-$PID-watch"
    & ip netns add $ns
    try {
        & ip netns exec $ns ip link set lo up
        $BenchTrackingRule | & ip netns exec $ns nft -f -
        $verbose = Join-Path $work 'watch.verbose'
        $script = Join-Path $work 'watch.ps1'
        Set-Content $script "Import-Module '$ModulePath'; Watch-Conntrack -Duration $($WatchSeconds + 5) -AsObject -MetricsPath '$work/watch.prom' -Verbose 4> '$verbose' | Out-Null"
        $watch = Start-Process -FilePath ip -ArgumentList (@('netns', 'exec', $ns) + $pwsh + @('-NoProfile', '-NonInteractive', '-File', $script)) -PassThru
        Wait-File $verbose 'Listening to New events'
        Start-Sleep -Seconds 2
        $cpu0 = Get-CpuSeconds $watch.Id; $clock = [Diagnostics.Stopwatch]::StartNew()
        Start-Sleep -Seconds $WatchSeconds
        $cpu = (Get-CpuSeconds $watch.Id) - $cpu0; $wall = $clock.Elapsed.TotalSeconds
        $watch.WaitForExit(30000) | Out-Null
        'Watch-Conntrack at the default 2 s interval with -MetricsPath, {0:N0} s: {1:N2} CPU s = {2:N2} % of one CPU (goal < 1 %)' -f $wall, $cpu, (100 * $cpu / $wall)
    }
    finally {
        & ip netns del $ns 2>$null
    }
}
finally {
    Remove-Item $work -Recurse -Force -ErrorAction Ignore
}
