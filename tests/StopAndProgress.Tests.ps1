BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:scanActivity = [int][ConntrackTuning.Engine.EngineActivity]::ScanKernelLog
    $script:lockActivity = [int][ConntrackTuning.Engine.EngineActivity]::WaitForLock

    # A runspace with the module already imported: a measurement then holds the command alone, as in a session
    # where the user presses Ctrl+C, not the import.
    function New-ModuleRunspace {
        $iss = [Management.Automation.Runspaces.InitialSessionState]::CreateDefault2()
        $iss.ImportPSModule($ModulePath)
        $rs = [runspacefactory]::CreateRunspace($iss)
        $rs.Open()
        $rs
    }

    # Starts a command in the runspace, waits until it reports progress (the engine's first record comes 400 ms
    # into long work, so the command is then inside its scan or wait, not starting up), calls PowerShell.Stop()
    # and measures from that call until the invocation has ended.
    function Measure-Stop {
        param([Management.Automation.Runspaces.Runspace] $Runspace, [string] $Command, [hashtable] $Parameters)
        $ps = [powershell]::Create()
        $ps.Runspace = $Runspace
        try {
            $null = $ps.AddCommand($Command).AddParameters($Parameters)
            $handle = $ps.BeginInvoke()
            $deadline = [datetime]::UtcNow.AddSeconds(30)
            while ($ps.Streams.Progress.Count -eq 0 -and -not $handle.IsCompleted -and [datetime]::UtcNow -lt $deadline) {
                Start-Sleep -Milliseconds 5
            }
            $running = -not $handle.IsCompleted
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $null = $handle.AsyncWaitHandle.WaitOne()
            $clock.Stop()
            [pscustomobject]@{
                Milliseconds = $clock.Elapsed.TotalMilliseconds
                WasRunning   = $running
                State        = [string]$ps.InvocationStateInfo.State
                Errors       = @($ps.Streams.Error | ForEach-Object { "$($_.FullyQualifiedErrorId): $_" })
                Progress     = @($ps.Streams.Progress)
            }
        }
        finally { $ps.Dispose() }
    }

    # The stop bound is asserted on the median of five stops in a row, each also under a CI-safe 2 s. Why this is
    # robust on a loaded 2-core machine: the latency is not work (the engine sees the signal within one read of
    # a quarter megabyte or one 100 ms receive) but the time until the stopped thread gets a core back, which
    # on a machine with many runnable threads is now and then a scheduler slice or a GC pause long; one such
    # outlier (the first try also pays for JIT-compiling the stop path) cannot move a median of five. A command
    # that ignored the signal would take seconds every time and fail both bounds.
    function Assert-StopBound([object[]] $Tries) {
        foreach ($t in $Tries) {
            $t.WasRunning | Should -BeTrue -Because 'Stop() must land in the middle of the work, not after it'
            $t.State | Should -Be 'Stopped'
            $t.Errors | Should -BeNullOrEmpty -Because 'a stop ends the pipeline quietly, not as an error'
            $t.Milliseconds | Should -BeLessThan 2000
        }
        $median = ($Tries.Milliseconds | Sort-Object)[[math]::Floor($Tries.Count / 2)]
        Write-Host ("    stop latencies (ms): {0}; median {1:0.0}" -f (($Tries.Milliseconds | ForEach-Object { '{0:0.0}' -f $_ }) -join ', '), $median)
        $median | Should -BeLessThan 200
    }

    # A 256 MB kernel log of ordinary lines with a table-full message every 1024 lines, and a tree whose
    # var/log holds it forty times as a rotated set (hard links: no extra disk). Generated once per run.
    $script:bigLog = Join-Path $TestDrive 'big.log'
    $line = 'Nov 20 10:00:00 web01 kernel: [12345.678901] eth0: an ordinary kernel message that does not matter, padded to a realistic length'
    $drop = 'Nov 20 10:00:01 web01 kernel: [12345.678902] nf_conntrack: nf_conntrack: table full, dropping packet'
    $text = [Text.StringBuilder]::new()
    foreach ($i in 0..8191) { $null = $text.Append($(if ($i % 1024 -eq 0) { $drop } else { $line })).Append("`n") }
    $block = [Text.Encoding]::UTF8.GetBytes($text.ToString())
    $stream = [IO.File]::Create($bigLog)
    $blocks = [math]::Ceiling(256MB / $block.Length)
    try { foreach ($i in 1..$blocks) { $stream.Write($block, 0, $block.Length) } }
    finally { $stream.Dispose() }
    $script:dropsPerCopy = 8 * $blocks
    $script:bigRoot = Copy-Fixture linux-6.18-overflow
    Get-ChildItem "$bigRoot/var/log" -File | Remove-Item
    foreach ($n in 1..40) { $null = New-Item -ItemType HardLink -Path "$bigRoot/var/log/kern.log.$n" -Target $bigLog }

    $script:runspace = New-ModuleRunspace
}

AfterAll {
    if ($script:runspace) { $script:runspace.Dispose() }
}

Describe 'Stopping a long kernel log scan' {
    It '<Name> ends within 200 ms of PowerShell.Stop()' -TestCases @(
        @{ Name = 'Get-ConntrackDropEvent -Path (64 files of 256 MB) -Summary'; Command = 'Get-ConntrackDropEvent'; Parameters = { @{ Path = @($bigLog) * 64; Summary = $true } } }
        @{ Name = 'Get-ConntrackDropEvent -Root (a rotated set of 40)'; Command = 'Get-ConntrackDropEvent'; Parameters = { @{ Root = $bigRoot } } }
        @{ Name = 'Test-ConntrackHealth -Root'; Command = 'Test-ConntrackHealth'; Parameters = { @{ Root = $bigRoot } } }
    ) {
        $tries = foreach ($i in 1..5) { Measure-Stop -Runspace $runspace -Command $Command -Parameters (& $Parameters) }
        Assert-StopBound $tries
        foreach ($t in $tries) { $t.Progress[0].ActivityId | Should -Be $scanActivity }
    }

    It 'Export-ConntrackMetric -Path stopped while it reads leaves the old file whole and no temporary file' {
        $folder = Join-Path $TestDrive ([guid]::NewGuid().ToString('n'))
        $null = New-Item -ItemType Directory $folder
        $prom = Join-Path $folder 'conntrack.prom'
        Set-Content -Path $prom -Value '# the previous export' -NoNewline
        $tries = foreach ($i in 1..5) { Measure-Stop -Runspace $runspace -Command 'Export-ConntrackMetric' -Parameters @{ Root = $bigRoot; Path = $prom } }
        Assert-StopBound $tries
        Get-Content -Raw $prom | Should -Be '# the previous export'
        @(Get-ChildItem $folder -Force).Name | Should -Be 'conntrack.prom'
    }
}

Describe 'Progress of a long kernel log scan' {
    BeforeAll {
        # Enough copies of the log for about 3 s of work on this machine, however fast it is: the first
        # record comes after 400 ms and then one per 200 ms, so that is several records.
        $ps = [powershell]::Create(); $ps.Runspace = $runspace
        $null = $ps.AddCommand('Get-ConntrackDropEvent').AddParameter('Path', $bigLog).AddParameter('Summary')
        $null = $ps.Invoke()
        $ps.Commands.Clear()
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $null = $ps.AddCommand('Get-ConntrackDropEvent').AddParameter('Path', $bigLog).AddParameter('Summary')
        $null = $ps.Invoke()
        $ps.Dispose()
        $script:copies = [math]::Max(3, [math]::Ceiling(3000 / [math]::Max(1, $clock.Elapsed.TotalMilliseconds)))

        function Invoke-Scan([hashtable] $Extra = @{}, [string] $Script) {
            $ps = [powershell]::Create(); $ps.Runspace = $runspace
            try {
                # A local scope, so the preference the script sets does not stay in the shared runspace.
                if ($Script) { $null = $ps.AddScript($Script, $true).AddArgument(@($bigLog) * $copies) }
                else { $null = $ps.AddCommand('Get-ConntrackDropEvent').AddParameters(@{ Path = @($bigLog) * $copies; Summary = $true } + $Extra) }
                $out = $ps.Invoke()
                [pscustomobject]@{ Output = @($out); Progress = @($ps.Streams.Progress); Errors = @($ps.Streams.Error) }
            }
            finally { $ps.Dispose() }
        }
    }

    It 'reports bytes and files of the total, rising, and completes the record at the end' {
        $r = Invoke-Scan
        $r.Errors | Should -BeNullOrEmpty
        $r.Output[0].Logged | Should -Be ($dropsPerCopy * $copies)   # the scan read everything
        $records = $r.Progress
        $processing = @($records | Where-Object RecordType -EQ 'Processing')
        $processing.Count | Should -BeGreaterOrEqual 3
        $records.ActivityId | Select-Object -Unique | Should -Be $scanActivity
        $records[0].Activity | Should -Be 'Reading the kernel log'
        $percents = @($processing.PercentComplete)
        for ($i = 1; $i -lt $percents.Count; $i++) { $percents[$i] | Should -BeGreaterOrEqual $percents[$i - 1] }
        $percents[-1] | Should -BeGreaterThan $percents[0]
        $processing[0].StatusDescription | Should -Match "^$([regex]::Escape($bigLog)) \(file \d+ of $copies\): [\d,.]+ MB of [\d,]+ MB$"
        $records[-1].RecordType | Should -Be 'Completed'
        $records[-1].PercentComplete | Should -Be 100
    }

    It 'reports nothing under -ProgressAction SilentlyContinue' {
        $r = Invoke-Scan @{ ProgressAction = 'SilentlyContinue' }
        $r.Output[0].Logged | Should -Be ($dropsPerCopy * $copies)
        $r.Progress.Count | Should -Be 0
    }

    It 'reports nothing under $ProgressPreference = SilentlyContinue' {
        $r = Invoke-Scan -Script '$ProgressPreference = "SilentlyContinue"; Get-ConntrackDropEvent -Path $args[0] -Summary'
        $r.Output[0].Logged | Should -Be ($dropsPerCopy * $copies)
        $r.Progress.Count | Should -Be 0
    }
}

Describe 'Waiting for the write lock' {
    BeforeAll {
        # The tree but the lock file, which cannot be read while it is held; it is an empty file that nothing writes.
        function Get-UnlockedState([string] $Root) {
            Get-TreeState $Root -Except 'run/lock/conntrack-tuning.lock', 'run/conntrack-tuning/lock', '.conntrack-tuning.lock', '.conntrack-tuning/lock'
        }
        # SystemRoot is internal to the engine: its lock is taken by reflection.
        $script:systemRoot = [ConntrackTuning.Engine.ErrorIds].Assembly.GetType('ConntrackTuning.Engine.Platform.SystemRoot', $true)
        $script:acquire = $systemRoot.GetMethod('AcquireWriteLock', [Reflection.BindingFlags]'Instance, NonPublic')
    }
    BeforeEach {
        $script:root = Copy-Fixture linux-6.18-builtin
        $null = New-Item -ItemType Directory "$root/run/lock" -Force
        # Another invocation holds the lock: taken through the engine's own lock (an flock, which conflicts
        # between two descriptors of one process too), wherever the engine keeps it.
        $script:held = $acquire.Invoke($systemRoot.GetMethod('Open').Invoke($null, @($root, $null, [Threading.CancellationToken]::None)), @([timespan]::FromSeconds(5)))
        $script:before = Get-UnlockedState $root
    }
    AfterEach { $script:held.Dispose() }
    It 'Set-ConntrackLimit -PersistOnly stopped while it waits ends within 200 ms and writes nothing' {
        $tries = foreach ($i in 1..5) {
            Measure-Stop -Runspace $runspace -Command 'Set-ConntrackLimit' -Parameters @{ Root = $root; Max = 300000; PersistOnly = $true }
        }
        Assert-StopBound $tries
        foreach ($t in $tries) {
            $t.Progress[0].ActivityId | Should -Be $lockActivity
            $t.Progress[0].Activity | Should -Be 'Waiting for the write lock'
            $t.Progress[0].StatusDescription | Should -Match "^Another invocation holds $([regex]::Escape($root))/\S+: waited \d+ s of at most 60 s$"
        }
        # Not a byte, mode or timestamp changed, and no temporary file was left.
        Get-UnlockedState $root | Should -Be $before
    }

    It 'shows the wait as progress and completes it once the lock is free, then writes' {
        $ps = [powershell]::Create(); $ps.Runspace = $runspace
        try {
            $null = $ps.AddCommand('Set-ConntrackLimit').AddParameters(@{ Root = $root; Max = 300000; PersistOnly = $true; PassThru = $true })
            $handle = $ps.BeginInvoke()
            $deadline = [datetime]::UtcNow.AddSeconds(30)
            while ($ps.Streams.Progress.Count -eq 0 -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 10 }
            $ps.Streams.Progress.Count | Should -BeGreaterThan 0
            Get-UnlockedState $root | Should -Be $before
            $held.Dispose()
            $out = $ps.EndInvoke($handle)
            $out[0].Applied | Should -BeTrue
            $out[0].Mode | Should -Be 'PersistentOnly'
            Get-UnlockedState $root | Should -Not -Be $before
            $records = @($ps.Streams.Progress)
            $records.ActivityId | Select-Object -Unique | Should -Be $lockActivity
            $records[-1].RecordType | Should -Be 'Completed'
        }
        finally { $ps.Dispose() }
    }
}

Describe 'Stopping a ctnetlink dump' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll {
        $script:lock = Enter-ConntrackLock
        # A throwaway namespace with 150 000 UDP flows to 127.0.0.2, then Get-ConntrackEntry -Summary (and the
        # plain listing) stopped part-way, five times each, in a runspace of the pwsh inside the namespace.
        $script:r = Invoke-InNetns -Track -ScriptBlock {
            $ErrorActionPreference = 'Stop'
            [IO.File]::WriteAllText('/proc/sys/net/netfilter/nf_conntrack_udp_timeout', '3600')
            $destination = [Net.IPAddress]::Parse('127.0.0.2')
            foreach ($s in 1..3) {
                $udp = [Net.Sockets.UdpClient]::new([Net.IPEndPoint]::new([Net.IPAddress]::Loopback, 0))
                foreach ($port in 1..50000) { $null = $udp.Send([byte[]](1), 1, [Net.IPEndPoint]::new($destination, $port)) }
                $udp.Dispose()
            }
            $count = [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_count)

            $iss = [Management.Automation.Runspaces.InitialSessionState]::CreateDefault2()
            $iss.ImportPSModule((Get-Module ConntrackTuning).ModuleBase)
            $rs = [runspacefactory]::CreateRunspace($iss)
            $rs.Open()

            # A whole run first: it warms the code up, gives the progress records of an unstopped dump, and tells
            # how long a dump takes here, so each stop can land a third of the way in.
            $ps = [powershell]::Create(); $ps.Runspace = $rs
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $summary = $ps.AddCommand('Get-ConntrackEntry').AddParameter('Summary').Invoke()[0]
            $full = $clock.Elapsed.TotalMilliseconds
            $ps.Dispose()

            # The dump of a full namespace takes half a second on a fast machine, less than the progress delay
            # leaves room for: a consumer that sleeps 10 ms every 1000 entries holds the same dump open well past a
            # second (the entries stream, so the reading waits for the pipeline), and the records must come.
            $ps = [powershell]::Create(); $ps.Runspace = $rs
            $null = $ps.AddScript('$n = 0; Get-ConntrackEntry | ForEach-Object { if (++$n % 1000 -eq 0) { Start-Sleep -Milliseconds 10 } }; $n')
            $clock.Restart()
            $listed = $ps.Invoke()[0]
            $paced = $clock.Elapsed.TotalMilliseconds
            $progress = @($ps.Streams.Progress | ForEach-Object { [pscustomobject]@{ ActivityId = $_.ActivityId; RecordType = [string]$_.RecordType; Percent = $_.PercentComplete; Status = $_.StatusDescription } })
            $ps.Dispose()

            $tries = foreach ($parameters in @{ Summary = $true }, @{}) {
                foreach ($i in 1..5) {
                    $ps = [powershell]::Create(); $ps.Runspace = $rs
                    $null = $ps.AddCommand('Get-ConntrackEntry').AddParameters($parameters)
                    if (-not $parameters.Summary) { $null = $ps.AddCommand('Out-Null') }
                    $handle = $ps.BeginInvoke()
                    Start-Sleep -Milliseconds ([math]::Max(1, $full / 3))
                    $running = -not $handle.IsCompleted
                    $clock = [Diagnostics.Stopwatch]::StartNew()
                    $ps.Stop()
                    $null = $handle.AsyncWaitHandle.WaitOne()
                    [pscustomobject]@{
                        Summary = [bool]$parameters.Summary; Milliseconds = $clock.Elapsed.TotalMilliseconds; WasRunning = $running
                        State = [string]$ps.InvocationStateInfo.State; Errors = @($ps.Streams.Error | ForEach-Object { "$_" })
                    }
                    $ps.Dispose()
                }
            }
            $rs.Dispose()
            [pscustomobject]@{ Count = $count; Entries = $summary.Entries; FullMilliseconds = $full; Listed = $listed; PacedMilliseconds = $paced; Progress = $progress; Tries = @($tries) }
        }
        Write-Host ("    {0} entries; an unstopped Get-ConntrackEntry -Summary took {1:N0} ms, the paced listing {2:N0} ms with {3} progress records" -f $r.Count, $r.FullMilliseconds, $r.PacedMilliseconds, @($r.Progress).Count)
    }
    AfterAll { $script:lock.Dispose() }

    It 'fills the namespace and summarizes it whole when not stopped' {
        $r.Count | Should -BeGreaterOrEqual 150000
        $r.Entries | Should -Be $r.Count
    }

    It 'Get-ConntrackEntry -Summary ends within 200 ms of PowerShell.Stop()' {
        Assert-StopBound @($r.Tries | Where-Object Summary)
    }

    It 'Get-ConntrackEntry listing into the pipeline ends within 200 ms of PowerShell.Stop()' {
        Assert-StopBound @($r.Tries | Where-Object Summary -EQ $false)
    }

    It 'shows entries of the kernel count while a dump lasts over a second, and completes the record' {
        $r.Listed | Should -Be $r.Count
        $r.PacedMilliseconds | Should -BeGreaterThan 1000 -Because 'the paced consumer holds the dump open'
        $records = @($r.Progress | Where-Object ActivityId -EQ ([int][ConntrackTuning.Engine.EngineActivity]::ReadEntries))
        $records.Count | Should -BeGreaterOrEqual 2 -Because 'at least one record while it dumps and the Completed one'
        @($r.Progress | Where-Object ActivityId -NE ([int][ConntrackTuning.Engine.EngineActivity]::ReadEntries)) | Should -BeNullOrEmpty
        $records[0].Status | Should -Match '^ctnetlink: [\d,]+ of [\d,]+ entries$'
        $records[0].Percent | Should -BeGreaterOrEqual 0
        $records[-1].RecordType | Should -Be 'Completed'
    }
}
