# Get-ConntrackEvent against conntrack -E (its defaults) on the same new UDP flows: in a throwaway network
# namespace per round, a generator opens a fixed number of flows to 127.0.0.0/8 at a target rate; both
# listeners run in that namespace at once and count the New events they receive. CPU is compared over the
# same window for both, the receive window only: each process's CPU time (every thread, from
# /proc/PID/stat) is read right before the generator starts and after the last event has
# been read, so PowerShell's start-up, the module's import and JIT before the subscription are not counted.
# The module's own figure from inside (the summary's CpuSeconds, getrusage from subscription to end) is
# printed beside it. Goal: no event lost at any rate where conntrack -E loses some, and CPU per event no higher.
# Then a filtered round: the kernel-side socket filter keeps unmatched events out of the process entirely.
# Then the CPU cost of Watch-Conntrack at -Interval 2 (goal: under 1 % of one CPU), run as the README's exporter
# unit runs it (-AsObject -MetricsPath ... | Out-Null, no -Verbose), beside a shell loop of 'conntrack -C' every
# 2 s and an idle pwsh (the runtime's own floor), over the same windows: the first minute after the first sample
# was written and the minute after it. PowerShell's start-up, the module's import and the watch's own start (the
# kernel probe, the subscription, the first sample) come before the windows and are not counted; pwsh's own work
# in the window (the runtime's timers; its start-up telemetry is opted out of, as in the README's unit) is, in the
# watch and in the idle pwsh alike, so the watch's own cost is printed as the difference too.
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [int[]] $Rates = @(5000, 20000, 50000),
    [int] $Flows = 50000,
    [int] $WatchSeconds = 60,
    # Windows of -WatchSeconds one after the other: 2 (the first minute and the next); a third shows the cost once
    # the methods called once a sample have gone through every tier (about 60 samples: 2 minutes at -Interval 2).
    [ValidateRange(2, 10)] [int] $WatchWindows = 2,
    # Only the Watch-Conntrack part.
    [switch] $WatchOnly,
    # The watch with -Verbose into a file, as this bench ran it before: PowerShell then formats and writes each
    # sample's verbose record, work the exporter unit does not do.
    [switch] $WatchVerbose,
    [string] $WorkDirectory = [IO.Path]::GetTempPath()
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../Common.ps1')
$pwsh = Get-PwshCommand
foreach ($tool in 'ip', 'nft', 'conntrack', 'python3') {
    if (-not (Get-Command $tool -ErrorAction Ignore)) { Write-Warning "Events.Bench needs $tool; skipped."; return }
}
if ((& id -u) -ne '0') { Write-Warning 'Events.Bench needs root (network namespaces, ctnetlink); skipped.'; return }

$work = Join-Path $WorkDirectory ("ctt-events-bench-" + [guid]::NewGuid().ToString('n'))
$null = New-Item -ItemType Directory -Path $work
# One datagram per flow from one socket, each to its own 127.1.x.y (62,500 addresses per port), paced to the rate.
# With a third argument, every other flow goes to port 7000 instead (the filtered round's unmatched half).
$generator = Join-Path $work 'flows.py'
Set-Content $generator @'
import socket, sys, time
n, rate = int(sys.argv[1]), float(sys.argv[2])
split = len(sys.argv) > 3
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t0 = time.perf_counter()
for i in range(n):
    port = 7000 if split and i % 2 else 9000 + i // 62500
    s.sendto(b'x', ('127.1.%d.%d' % ((i // 250) % 250, i % 250 + 1), port))
    if (i & 31) == 0:
        lag = t0 + i / rate - time.perf_counter()
        if lag > 0:
            time.sleep(lag)
print('%.3f' % (time.perf_counter() - t0))
'@

# CPU seconds a process has used, all its threads, those that have ended included: utime + stime of
# /proc/PID/stat (clock ticks of 1/100 s). A sum over /proc/PID/task would lose the threads that end meanwhile.
function Get-CpuSeconds([int] $ProcessId) {
    $fields = (Get-Content "/proc/$ProcessId/stat" -Raw) -replace '^.*\) ', '' -split ' '
    ([long]$fields[11] + [long]$fields[12]) / 100.0
}

# utime + stime + cutime + cstime (clock ticks of 1/100 s): a shell with the children it has reaped.
function Get-CpuSecondsWithChildren([int] $ProcessId) {
    $fields = (Get-Content "/proc/$ProcessId/stat" -Raw) -replace '^.*\) ', '' -split ' '
    ([long]$fields[11] + [long]$fields[12] + [long]$fields[13] + [long]$fields[14]) / 100.0
}

# CPU seconds of each thread of a process by thread name, as the kernel keeps it (15 characters; one name's threads
# summed): where a window's CPU went, the sampling thread ("Pipeline Execut"), the event thread ("Watch-Conntrack")
# or the runtime's background JIT (".NET Tiered Com"). Threads that end meanwhile are left out.
function Get-ThreadCpu([int] $ProcessId) {
    $byName = @{}
    foreach ($task in Get-ChildItem "/proc/$ProcessId/task" -Directory -ErrorAction Ignore) {
        $comm = Get-Content (Join-Path $task.FullName 'comm') -Raw -ErrorAction Ignore
        $stat = Get-Content (Join-Path $task.FullName 'stat') -Raw -ErrorAction Ignore
        if ($null -eq $comm -or $null -eq $stat) { continue }   # the thread ended between the listing and the read
        $fields = $stat -replace '^.*\) ', '' -split ' '
        $byName[$comm.Trim()] = $byName[$comm.Trim()] + ([long]$fields[11] + [long]$fields[12]) / 100.0
    }
    $byName
}

function Wait-File([string] $Path, [string] $Pattern, [int] $Seconds = 60) {
    $deadline = [datetime]::UtcNow.AddSeconds($Seconds)
    while (-not ((Test-Path $Path) -and (Select-String -Path $Path -Pattern $Pattern -Quiet))) {
        if ([datetime]::UtcNow -gt $deadline) { throw "No '$Pattern' in $Path within $Seconds s" }
        Start-Sleep -Milliseconds 50
    }
}

function New-BenchNamespace([string] $Name) {
    & ip netns add $Name
    & ip netns exec $Name ip link set lo up
    $BenchTrackingRule | & ip netns exec $Name nft -f -
}

# One round: conntrack -E and Get-ConntrackEvent -Summary listening at once to $Flows flows sent at $Rate.
function Measure-Round([int] $Rate, [string] $Filter = '', [string[]] $ConntrackFilter = @()) {
    $tag = "$Rate$(if ($Filter) { '-filtered' })"
    $ns = "ctt-bench-$PID-$tag"
    New-BenchNamespace $ns
    try {
        $ctOut = Join-Path $work "conntrack-$tag.txt"; $ctErr = Join-Path $work "conntrack-$tag.err"
        $ct = Start-Process -FilePath ip -ArgumentList (@('netns', 'exec', $ns, 'conntrack', '-E', '-e', 'NEW') + $ConntrackFilter) -RedirectStandardOutput $ctOut -RedirectStandardError $ctErr -PassThru
        $verbose = Join-Path $work "module-$tag.verbose"; $result = Join-Path $work "module-$tag.json"
        $expected = if ($Filter) { [int]($Flows / 2) } else { $Flows }
        $script = Join-Path $work "listen-$tag.ps1"
        $done = Join-Path $work "done-$tag"
        # The process stays until told, so its CPU can still be read once it has written its summary.
        Set-Content $script @"
Import-Module '$ModulePath'
`$s = Get-ConntrackEvent -EventType New -Summary -Count $expected -Duration $([math]::Ceiling($Flows / $Rate) + 15) $Filter -Verbose 4> '$verbose'
`$s | Select-Object Received, Matched, Overruns, LostEvents, ReceiveBufferBytes, Seconds, CpuSeconds, KernelFilter, KernelFilterInstructions | ConvertTo-Json | Set-Content '$result'
while (-not (Test-Path '$done')) { Start-Sleep -Milliseconds 50 }
"@
        $module = Start-Process -FilePath ip -ArgumentList (@('netns', 'exec', $ns) + $pwsh + @('-NoProfile', '-NonInteractive', '-File', $script)) -PassThru
        Wait-File $verbose 'Listening to'
        Start-Sleep -Milliseconds 500
        # ip netns exec replaces itself with the command (exec), so these are the listeners' own process ids.
        $moduleCpu0 = Get-CpuSeconds $module.Id
        $ctCpu0 = Get-CpuSeconds $ct.Id
        $generatorArgs = @('netns', 'exec', $ns, 'python3', $generator, $Flows, $Rate) + @(if ($Filter) { 'split' })
        $took = & ip @generatorArgs
        # The window ends when the module has read its -Count (or its -Duration passed): its closing verbose line.
        Wait-File $verbose 'Get-ConntrackEvent \(' -Seconds ([math]::Ceiling($Flows / $Rate) + 40)
        $moduleCpu = (Get-CpuSeconds $module.Id) - $moduleCpu0
        $ctCpu = (Get-CpuSeconds $ct.Id) - $ctCpu0
        $null = New-Item -ItemType File $done
        $module.WaitForExit(60000) | Out-Null
        Stop-Process -Id $ct.Id -ErrorAction Ignore; $ct.WaitForExit(5000) | Out-Null
        $s = Get-Content $result -Raw | ConvertFrom-Json
        $ctEvents = @(Get-Content $ctOut | Where-Object { $_ -match '\[NEW\]' }).Count
        $ctEnobufs = @(Get-Content $ctErr -ErrorAction Ignore | Where-Object { $_ -match 'ENOBUFS' }).Count
        [pscustomobject]@{
            'Rate/s'              = $Rate
            Flows                 = $Flows
            Filter                = if ($Filter) { $Filter } else { '-' }
            'Sent in s'           = [double]$took
            'Module received'     = $s.Received
            'Module matched'      = $s.Matched
            'Module overruns'     = $s.Overruns
            'Module CPU s'        = $s.CpuSeconds
            'Module us/event'     = if ($s.Matched -and $null -ne $s.CpuSeconds) { [math]::Round(1e6 * $s.CpuSeconds / $s.Matched, 2) } else { $null }
            'Module CPU s incl. end' = [math]::Round($moduleCpu, 3)
            'Module us/event incl. end' = if ($s.Matched) { [math]::Round(1e6 * $moduleCpu / $s.Matched, 2) } else { $null }
            'Kernel filter'       = if ($s.KernelFilterInstructions) { "$($s.KernelFilter) ($($s.KernelFilterInstructions) insns)" } else { '-' }
            'conntrack -E events' = $ctEvents
            'conntrack ENOBUFS'   = $ctEnobufs
            'conntrack CPU s'     = [math]::Round($ctCpu, 3)
            'conntrack us/event'  = if ($ctEvents) { [math]::Round(1e6 * $ctCpu / $ctEvents, 2) } else { $null }
        }
    }
    finally {
        & ip netns del $ns 2>$null
    }
}

function Get-Load { ((Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3) -join ' ' }

$rows = [Collections.Generic.List[object]]::new()
try {
    if (-not $WatchOnly) {
    "Machine load before the event rounds: $(Get-Load) ($([Environment]::ProcessorCount) CPUs)"
    foreach ($rate in $Rates) { $rows.Add((Measure-Round $rate)) }
    # Half the flows go to port 7000: the module's socket filter keeps them in the kernel, conntrack -E's
    # --dport filter reads and drops them in user space.
    $rows.Add((Measure-Round ($Rates | Select-Object -Last 1) -Filter '-Protocol udp -DestinationPort 9000' -ConntrackFilter @('-p', 'udp', '--dport', '9000')))
    "Machine load after the event rounds: $(Get-Load)"
    'Get-ConntrackEvent -EventType New -Summary (default queue: 8 MiB asked, SO_RCVBUFFORCE) against conntrack -E -e NEW (its defaults).'
    'CPU per event, divided by the events each printed or matched. Module: the summary''s CpuSeconds, the whole process (all threads, getrusage)'
    'from the subscription until it stopped listening. conntrack -E: its CPU (/proc/PID/stat) from the first flow sent until the module'
    'had written its summary. "incl. end" is the module''s CPU over that same outer window, which adds the one-time cost of building and writing'
    'the summary (first-call JIT of the summary and output code), a fixed cost that does not grow with the events.'
    $rows | Format-List | Out-String -Width 200
    $rows | Format-Table 'Rate/s', Filter, 'Module matched', 'Module overruns', 'Module us/event', 'Module us/event incl. end', 'conntrack -E events', 'conntrack ENOBUFS', 'conntrack us/event' -AutoSize | Out-String -Width 220
    }

    # Watch-Conntrack's own cost at -Interval 2, idle table, with its event listener and -MetricsPath; beside a
    # shell that runs 'conntrack -C' every 2 s and an idle pwsh, all in one namespace over the same window.
    $ns = "ctt-bench-$PID-watch"
    New-BenchNamespace $ns
    # pwsh sends its start-up telemetry from a background task some seconds after it starts: in the watch window
    # or not, by chance, in the watch and the idle pwsh alike (up to 0.7 % of one CPU in a minute). It is pwsh's
    # cost, not the watch's; the exporter unit in the README opts out too.
    $env:POWERSHELL_TELEMETRY_OPTOUT = '1'
    try {
        $verbose = Join-Path $work 'watch.verbose'
        $prom = Join-Path $work 'watch.prom'
        $script = Join-Path $work 'watch.ps1'
        Set-Content $script "Import-Module '$ModulePath'; Watch-Conntrack -Interval 2 -Duration $($WatchWindows * $WatchSeconds + 15) -AsObject -MetricsPath '$prom'$(if ($WatchVerbose) { " -Verbose 4> '$verbose'" }) | Out-Null"
        $watch = Start-Process -FilePath ip -ArgumentList (@('netns', 'exec', $ns) + $pwsh + @('-NoProfile', '-NonInteractive', '-File', $script)) -PassThru
        $idle = Start-Process -FilePath ip -ArgumentList (@('netns', 'exec', $ns) + $pwsh + @('-NoProfile', '-NonInteractive', '-Command', "Set-Content '$work/idle.ready' ready; Start-Sleep -Seconds $($WatchWindows * $WatchSeconds + 15)")) -PassThru
        $loop = Join-Path $work 'loop.sh'
        Set-Content $loop "while :; do conntrack -C > /dev/null; sleep 2; done"
        $shell = Start-Process -FilePath ip -ArgumentList @('netns', 'exec', $ns, 'sh', $loop) -PassThru
        # The first textfile: the subscription is open (only then does it have the new-connection counter) and the
        # first sample has been taken.
        Wait-File $prom 'conntrack_tuning_new_connections_total'
        # On a loaded machine the idle pwsh may still be starting: its floor is counted only once it runs.
        Wait-File "$work/idle.ready" 'ready'
        Start-Sleep -Seconds 2
        # The first minute after the first sample, while .NET re-compiles the sampling code it has found hot (tiered
        # JIT, a one-time cost), and the next ones: with tiered PGO a method called once a sample is compiled three
        # times (at its first call, after 30 calls with instrumentation, after 30 more optimized), so the second
        # minute still holds some of it and a third one shows the cost of a long-running watch.
        $windows = foreach ($name in 1..$WatchWindows) {
            $load = Get-Load
            $w0 = Get-CpuSeconds $watch.Id; $i0 = Get-CpuSeconds $idle.Id; $s0 = Get-CpuSecondsWithChildren $shell.Id
            $threads0 = Get-ThreadCpu $watch.Id
            $clock = [Diagnostics.Stopwatch]::StartNew()
            Start-Sleep -Seconds $WatchSeconds
            $threads = Get-ThreadCpu $watch.Id
            [pscustomobject]@{
                Name = $name; Wall = $clock.Elapsed.TotalSeconds; Load = $load
                Watch = (Get-CpuSeconds $watch.Id) - $w0; Idle = (Get-CpuSeconds $idle.Id) - $i0; Shell = (Get-CpuSecondsWithChildren $shell.Id) - $s0
                Threads = @($threads.Keys | ForEach-Object { [pscustomobject]@{ Name = $_; Seconds = $threads[$_] - $threads0[$_] } } |
                    Where-Object Seconds -gt 0 | Sort-Object Seconds -Descending)
            }
        }
        Stop-Process -Id $shell.Id -ErrorAction Ignore
        $watch.WaitForExit(60000) | Out-Null; $idle.WaitForExit(60000) | Out-Null
        "Machine load after the watch windows: $(Get-Load)"
        foreach ($m in $windows) {
            $title = switch ($m.Name) { 1 { 'the first minute after the first sample (includes the tiered JIT''s one-time re-compiles)' } 2 { 'the next minute (with the last re-compiles, about 60 samples in)' } default { "window $_, from $(($_ - 1) * $WatchSeconds) s: the steady cost" } }
            'CPU over {0:N0} s, {1} (load before it: {2}; goal for Watch-Conntrack: under 1 % of one CPU):' -f $m.Wall, $title, $m.Load
            $figures = [ordered]@{
                "Watch-Conntrack -Interval 2 -AsObject -MetricsPath$(if ($WatchVerbose) { ' -Verbose' })" = $m.Watch
                'sh loop: conntrack -C; sleep 2'                  = $m.Shell
                'idle pwsh (Start-Sleep), the runtime''s floor'   = $m.Idle
                'the watch''s own: Watch-Conntrack - idle pwsh'   = $m.Watch - $m.Idle
            }
            foreach ($row in $figures.GetEnumerator()) {
                '  {0,-62} {1,7:N3} CPU s = {2,6:N3} % of one CPU' -f $row.Key, $row.Value, (100 * $row.Value / $m.Wall)
            }
            # A thread that ended in the window (the runtime ends its JIT thread when idle and starts a new one) is the rest.
            $ended = $m.Watch - ($m.Threads | Measure-Object Seconds -Sum).Sum
            '  Watch-Conntrack by thread: ' + (@($m.Threads | ForEach-Object { '{0} {1:N2} s' -f $_.Name, $_.Seconds }) + @('threads that ended {0:N2} s' -f $ended) -join ', ')
        }
    }
    finally {
        & ip netns del $ns 2>$null
    }
}
finally {
    Remove-Item $work -Recurse -Force -ErrorAction Ignore
}
