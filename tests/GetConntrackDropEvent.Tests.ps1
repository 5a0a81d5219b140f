BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
    $script:unprivilegedSkip = if ($realKernelSkip) { $realKernelSkip }
    elseif ((Get-Content /proc/sys/kernel/dmesg_restrict) -ne '1') { 'kernel.dmesg_restrict is 0: everyone may read the ring buffer' }
    elseif (Test-Path /var/log/journal/*/*.journal) { 'a journal stands in for the ring buffer here' }
    $script:timensSkip = if ($realKernelSkip) { $realKernelSkip }
    elseif (-not (Test-Path /proc/self/ns/time)) { 'this kernel has no time namespaces (CONFIG_TIME_NS)' }
    elseif (-not ((& unshare --help) -match '--monotonic')) { "this unshare cannot set a time namespace's offsets (util-linux 2.36 or later)" }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:cmd = 'ConntrackTuning.Commands.GetConntrackDropEventCommand'

    # The fixture's logs end on 21 November; syslog lines get their year from the file's last change.
    function Copy-LogFixture {
        $root = Copy-Fixture linux-6.18-overflow
        Get-ChildItem "$root/var/log" -File | ForEach-Object { $_.LastWriteTime = [datetime]'2026-11-21T06:25:00' }
        $root
    }
}

Describe 'Get-ConntrackDropEvent reading logs' {
    It 'reads a log file given by -Path' {
        $root = Copy-LogFixture
        $events = @(Get-ConntrackDropEvent -Path "$root/var/log/kern.log")
        $events.Count | Should -Be 3
        $events[0] | Should -BeOfType ([ConntrackTuning.ConntrackDropEvent])
        $events[0].TimeStamp | Should -Be ([datetime]'2026-11-20T03:14:07')
        $events[0].Host | Should -Be 'web01'
        $events[0].KernelTime | Should -Be 8000.000001
        $events[0].Tracker | Should -Be 'nf_conntrack'
        $events[0].Kind | Should -Be 'TableFull'
        $events[0].Format | Should -Be 'Syslog'
        $events[0].Source | Should -Be "$root/var/log/kern.log"
        $events[1].NetworkNamespace | Should -Be '4026532177'
        $events[2].SuppressedBefore | Should -Be 37
    }

    It 'reads rotated files oldest first, gzip included, from a wildcard' {
        $root = Copy-LogFixture
        $events = @(Get-ConntrackDropEvent -Path "$root/var/log/kern.log*")
        $events.Count | Should -Be 6
        $events.Source | Select-Object -Unique | Should -Be @("$root/var/log/kern.log.2.gz", "$root/var/log/kern.log.1", "$root/var/log/kern.log")
        $events[0].TimeStamp | Should -Be ([datetime]'2026-11-18T22:14:07')
    }

    It 'parses lines piped in from Get-Content, one by one or all at once' {
        $root = Copy-LogFixture
        $byLine = @(Get-Content "$root/var/log/kern.log" | Get-ConntrackDropEvent)
        $byLine.Count | Should -Be 3
        $byLine[0].Source | Should -Be 'pipeline'
        $byLine[2].SuppressedBefore | Should -Be 37
        @(Get-Content -Raw "$root/var/log/kern.log" | Get-ConntrackDropEvent).Count | Should -Be 3
        @('nf_conntrack: nf_conntrack: table full, dropping packet', 'unrelated', '') | Get-ConntrackDropEvent |
            ForEach-Object Format | Should -Be 'Message'
    }

    It 'binds files piped from Get-ChildItem to -Path' {
        $root = Copy-LogFixture
        @(Get-ChildItem "$root/var/log/kern.log*" | Get-ConntrackDropEvent).Count | Should -Be 6
    }

    It 'reads the one kernel log family under -Root, not the same lines again from syslog' {
        $root = Copy-LogFixture
        $events = @(Get-ConntrackDropEvent -Root $root)
        $events.Count | Should -Be 6
        $events.Source | Should -Not -Contain "$root/var/log/syslog"
    }

    It 'reads folders piped from Get-ChildItem like -Root, and binds Root from Get-ConntrackKernel' {
        $parent = Join-Path $TestDrive 'log-reports'
        $null = New-Item -ItemType Directory $parent
        $a = Copy-Fixture linux-6.18-overflow -Destination (Join-Path $parent 'a')
        $null = Copy-Fixture linux-6.18-overflow -Destination (Join-Path $parent 'b')
        (Get-ChildItem $parent -Directory | Get-ConntrackDropEvent -Summary).Logged | Should -Be 12
        (Get-ConntrackKernel -Root $a | Get-ConntrackDropEvent -Summary).Sources.Count | Should -Be 3
    }

    It 'keeps the -Since/-Until window' {
        $root = Copy-LogFixture
        $events = @(Get-ConntrackDropEvent -Root $root -Since '2026-11-19T00:00:00' -Until '2026-11-20T03:14:07')
        $events.TimeStamp | Should -Be @([datetime]'2026-11-19T09:00:05', [datetime]'2026-11-20T03:14:07', [datetime]'2026-11-20T03:14:07')
    }

    It 'warns about events left out of a window because their lines have no date' {
        $events = '[  5.000001] nf_conntrack: table full, dropping packet' |
            Get-ConntrackDropEvent -Since '2020-01-01' -WarningVariable warn 3>$null
        $events | Should -BeNullOrEmpty
        $warn | Should -Match '1 table-full message\(s\) were left out'
    }

    It 'summarises at least and at most how many packets were dropped' {
        $root = Copy-LogFixture
        $s = Get-ConntrackDropEvent -Root $root -Summary
        $s | Should -BeOfType ([ConntrackTuning.ConntrackDropSummary])
        $s.AtLeast | Should -Be 6
        $s.AtMost | Should -Be 163
        $s.Suppressed | Should -Be 157
        $s.NetworkNamespaces | Should -Be @('4026532177')
        $s.FirstTimeStamp | Should -Be ([datetime]'2026-11-18T22:14:07')
        $s.LastTimeStamp | Should -Be ([datetime]'2026-11-20T03:14:12')
        $s.Message | Should -Be 'At least 6 and at most 163 packets were dropped because the conntrack table was full (6 logged, up to 157 more in rate-limited messages).'
        ($s | Out-String) | Should -Match 'AtMost\s+: 163'
    }

    It 'streams a file of every log layout and era' {
        $file = Join-Path $TestDrive 'mixed.log'
        @(
            'Mar 26 21:53:50 Gentoo-2012 kernel: [974749.140915] net_ratelimit: 3606 callbacks suppressed'
            'Mar 26 21:53:50 Gentoo-2012 kernel: [974749.140918] nf_conntrack: table full, dropping packet.'
            '2026-03-26T21:53:50.123456+01:00 gw kernel: ip_conntrack: table full, dropping packet.'
            '<4>1 2026-03-26T21:53:50Z gw kernel - - - ip_conntrack: maximum limit of 65536 entries exceeded'
            '[974749.140918] nf_conntrack: table full, dropping packet'
            '[Thu Mar 26 21:53:50 2026] nf_conntrack: nf_conntrack: table full, dropping packet'
            '{"_TRANSPORT":"kernel","__REALTIME_TIMESTAMP":"1774558430123456","MESSAGE":"nf_conntrack: nf_conntrack: table full in netns 4026532177, dropping packet"}'
            '4,341,1290072420,-;nf_conntrack: nf_conntrack: table full, dropping packet'
            'Wed Mar 26 21:53:50 2026 kern.warn kernel: nf_conntrack: nf_conntrack: table full, dropping packet'
            'Mar 26 21:53:51 gw conntrackd[812]: nf_conntrack: table full, dropping packet'
        ) | Set-Content $file
        $events = @(Get-ConntrackDropEvent -Path $file)
        $events.Format | Should -Be @('Syslog', 'IsoSyslog', 'Rfc5424', 'Dmesg', 'DmesgTime', 'JournalJson', 'Kmsg', 'LogRead')
        $events.Kind | Should -Be @('TableFull', 'TableFull', 'LimitExceeded', 'TableFull', 'TableFull', 'TableFull', 'TableFull', 'TableFull')
        $events.Tracker | Should -Be @('nf_conntrack', 'ip_conntrack', 'ip_conntrack', 'nf_conntrack', 'nf_conntrack', 'nf_conntrack', 'nf_conntrack', 'nf_conntrack')
        $events[0].SuppressedBefore | Should -Be 3606
    }

    It 'shows events in its default table' {
        $text = Get-ConntrackDropEvent -Path "$(Copy-LogFixture)/var/log/kern.log" | Out-String -Width 250
        $text | Should -Match 'TimeStamp\s+Host\s+Tracker\s+Netns\s+Kind\s+Suppressed\s+Source'
        $text | Should -Match '2026-11-20 03:14:07\.000\s+web01\s+nf_conntrack\s+4026532177\s+TableFull\s+0\s'
    }

    It 'names a missing file in a LogFileNotFound error and reads the other paths' {
        $root = Copy-LogFixture
        $missing = "$root/var/log/nope.log"
        $events = @(Get-ConntrackDropEvent -Path $missing, "$root/var/log/kern.log" -ErrorAction SilentlyContinue -ErrorVariable err)
        $events.Count | Should -Be 3
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be "LogFileNotFound,$cmd"
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].TargetObject | Should -Be $missing
    }

    It 'reports a damaged rotation as FileReadFailed and reads the other files' {
        $root = Copy-LogFixture
        $gz = "$root/var/log/kern.log.2.gz"
        $bytes = [IO.File]::ReadAllBytes($gz)
        $bytes[12] = $bytes[12] -bxor 0xff
        [IO.File]::WriteAllBytes($gz, $bytes)
        $events = @(Get-ConntrackDropEvent -Path "$root/var/log/kern.log*" -ErrorAction SilentlyContinue -ErrorVariable err)
        $events.Count | Should -BeGreaterOrEqual 4
        $events.Source | Should -Contain "$root/var/log/kern.log"
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be "FileReadFailed,$cmd"
        $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $err[0].TargetObject | Should -Be $gz
    }

    It 'says when a tree holds no kernel log at all (KernelLogNotFound)' {
        $root = Copy-Fixture linux-6.18-builtin
        Remove-Item "$root/var/log" -Recurse -Force
        Get-ConntrackDropEvent -Root $root -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be "KernelLogNotFound,$cmd"
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].TargetObject | Should -Be $root
        $err[0].ErrorDetails.RecommendedAction | Should -Match '-Path'
    }

    It 'stops at once when -Since is after -Until (InvalidTimeRange)' {
        { Get-ConntrackDropEvent -Path /nonexistent -Since '2026-02-01' -Until '2026-01-01' -ErrorAction Stop } |
            Should -Throw -ErrorId "InvalidTimeRange,$cmd"
        try { Get-ConntrackDropEvent -Path /nonexistent -Since '2026-02-01' -Until '2026-01-01' } catch { $e = $_ }
        $e.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $e.TargetObject | Should -Match '^2026-02-01T00:00:00.*\.\.2026-01-01T00:00:00'
    }

    It 'stops reading when the pipeline has what it wants' {
        $root = Copy-LogFixture
        $first = @(Get-ConntrackDropEvent -Root $root | Select-Object -First 1)
        $first.Count | Should -Be 1
        $first[0].Source | Should -Be "$root/var/log/kern.log.2.gz"
    }

    It 'names every file it reads in the verbose stream' {
        $root = Copy-LogFixture
        $verbose = Get-ConntrackDropEvent -Root $root -Summary -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $verbose.Message | Should -Contain "Read $root/var/log/kern.log.2.gz"
        $verbose.Message | Should -Contain "Read $root/var/log/kern.log"
    }
}

Describe 'Get-ConntrackDropEvent without the right to read the ring buffer' -Tag RealKernel -Skip:([bool]$unprivilegedSkip) {
    BeforeAll { $script:lock = Enter-ConntrackLock }
    AfterAll { $script:lock.Dispose() }

    It 'says so with KernelLogUnreadable when no journal stands in' {
        # kernel.dmesg_restrict is 1: only CAP_SYSLOG may open /dev/kmsg, and an ordinary user has none.
        $result = Invoke-Unprivileged {
            Get-ConntrackDropEvent -ErrorAction SilentlyContinue -ErrorVariable e
            [pscustomobject]@{ Id = $e[0].FullyQualifiedErrorId; Category = "$($e[0].CategoryInfo.Category)"; Target = $e[0].TargetObject; Action = $e[0].ErrorDetails.RecommendedAction }
        }
        $result.Id | Should -Be "KernelLogUnreadable,$cmd"
        $result.Category | Should -Be 'PermissionDenied'
        $result.Target | Should -Be '/dev/kmsg'
        $result.Action | Should -Match 'root'
    }
}

# The ring buffer's clock is the kernel's own: a time namespace (a checkpointed and restored container, some
# sandboxes) shifts btime, /proc/uptime and CLOCK_MONOTONIC for the processes in it, but not /dev/kmsg's stamps.
Describe 'Dating ring-buffer records from inside a time namespace' -Tag RealKernel -Skip:([bool]$timensSkip) {
    BeforeAll {
        $script:probe = @'
$ErrorActionPreference = 'Stop'
# The engine's own clock functions, internal to it: the output types live in the same assembly.
$engine = [ConntrackTuning.ConntrackKernel].Assembly
$sources = $engine.GetType('ConntrackTuning.Engine.KernelLog.KernelLogSources', $true)
$root = $engine.GetType('ConntrackTuning.Engine.Platform.SystemRoot', $true)::Open('/')
$flags = [Reflection.BindingFlags]'NonPublic, Static'
$epoch = $sources.GetMethod('RingBufferEpoch', $flags).Invoke($null, @($root))
$boot = $sources.GetMethod('BootTime', $flags).Invoke($null, @($root))
if ($null -eq $epoch -or $null -eq $boot) { throw 'no ring-buffer epoch or boot time on the live system' }
"$($epoch.Ticks) $($boot.Ticks)"
'@
        function Invoke-Probe([string[]] $Prefix) {
            $file = Join-Path $TestDrive 'probe.ps1'
            Set-Content $file "Import-Module '$ModulePath'`n$probe"
            $command = @($Prefix) + @(Get-PwshCommand) + @('-NoProfile', '-NonInteractive', '-File', $file)
            $line = & $command[0] $command[1..($command.Count - 1)]
            if ($LASTEXITCODE) { throw "the probe failed ($LASTEXITCODE): $line" }
            $ticks = "$line".Trim() -split ' '
            [pscustomobject]@{ Epoch = [datetime][long]$ticks[0]; Boot = [datetime][long]$ticks[1] }
        }
        $script:outside = Invoke-Probe @()
        $script:inside = Invoke-Probe @('unshare', '--time', '--monotonic', '86400', '--boottime', '86400', '--fork', '--')
    }

    It 'sees a boot a day earlier in btime there, so the namespace really shifts the clocks' {
        ($outside.Boot - $inside.Boot).TotalHours | Should -BeGreaterThan 23.9
    }

    It 'dates the records to the same moments as outside it' {
        [math]::Abs(($inside.Epoch - $outside.Epoch).TotalMilliseconds) | Should -BeLessThan 100
    }
}
