BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
    if (-not $realKernelSkip -and -not (Get-Command nsenter -ErrorAction Ignore)) { $script:realKernelSkip = "'nsenter' is not installed (util-linux)" }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

# The seed's incident, reproduced: a table too small for the connections, the kernel's "table full" lines,
# and what the three diagnose cmdlets make of it. The global max is lowered in the initial namespace for the
# length of the run (restored in a finally); the table that fills is a throwaway namespace's, with loopback
# traffic only.
Describe 'An overflowing conntrack table on this kernel' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll {
        $script:lock = Enter-ConntrackLock
        $maxPath = '/proc/sys/net/netfilter/nf_conntrack_max'
        $script:original = [IO.File]::ReadAllText($maxPath).Trim()
        $script:limit = 40
        $script:start = (Get-Date).AddSeconds(-2)
        try {
            # WriteAllText: one write(2) of the number, as sysctl does.
            [IO.File]::WriteAllText($maxPath, "$limit")
            $script:inside = Invoke-InNetns -Track -ArgumentList $limit, $PID, $original -ScriptBlock {
                param($limit, $outerPid, $original)
                $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
                $listener.Start(4096)
                $port = $listener.LocalEndpoint.Port
                function Open-Connection([int] $Count) {
                    $attempts = foreach ($i in 1..$Count) {
                        $client = [Net.Sockets.TcpClient]::new()
                        [pscustomobject]@{ Client = $client; Task = $client.ConnectAsync('127.0.0.1', $port) }
                    }
                    Start-Sleep -Milliseconds 1500
                    $attempts
                }
                function Close-Failed($Attempts) {
                    # A pending connect retransmits its SYN; each would be one more drop after the counters are read.
                    $Attempts | Where-Object { -not $_.Task.IsCompletedSuccessfully } | ForEach-Object { $_.Client.Dispose() }
                }

                $first = Open-Connection (3 * $limit)
                Close-Failed $first
                # net_ratelimit lets 10 messages through per 5 s; the first drop of the next window prints
                # "net_ratelimit: N callbacks suppressed" for the ones it held back.
                Start-Sleep -Seconds 6
                $second = Open-Connection 5
                Close-Failed $second
                Start-Sleep -Milliseconds 200

                $result = [ordered]@{
                    Inode         = (& readlink /proc/self/ns/net) -replace '^net:\[(\d+)\]$', '$1'
                    FirstOk       = @($first | Where-Object { $_.Task.IsCompletedSuccessfully }).Count
                    SecondOk      = @($second | Where-Object { $_.Task.IsCompletedSuccessfully }).Count
                    Kernel        = Get-ConntrackKernel
                    Limit         = Get-ConntrackLimit
                    Statistic     = Get-ConntrackStatistic
                    PerCpu        = @(Get-ConntrackStatistic -PerCpu)
                    Cli           = @(& conntrack -S)
                    Health        = @(Test-ConntrackHealth)
                    Quiet         = Test-ConntrackHealth -Quiet
                    Balanced      = Get-ConntrackRecommendation
                }

                # Raise the limit from the initial namespace (this test's own process lives there) and connect again.
                & nsenter "--net=/proc/$outerPid/ns/net" -- sysctl -q -w "net.netfilter.nf_conntrack_max=$original"
                if ($LASTEXITCODE) { throw "sysctl in the initial namespace failed ($LASTEXITCODE)" }
                $result.RaisedMax = (Get-ConntrackLimit).Max
                $third = Open-Connection 20
                $result.ThirdOk = @($third | Where-Object { $_.Task.IsCompletedSuccessfully }).Count
                $result.StatisticAfter = Get-ConntrackStatistic
                foreach ($a in @($first) + @($second) + @($third)) { $a.Client.Dispose() }
                $listener.Stop()
                [pscustomobject]$result
            }
        }
        finally {
            [IO.File]::WriteAllText($maxPath, $original)
        }
        $script:inode = $inside.Inode
        $script:kernelLines = @(& dmesg) -match "nf_conntrack: nf_conntrack: table full in netns $inode, dropping packet"
    }
    AfterAll {
        if ($script:original -and [IO.File]::ReadAllText('/proc/sys/net/netfilter/nf_conntrack_max').Trim() -ne $script:original) {
            [IO.File]::WriteAllText('/proc/sys/net/netfilter/nf_conntrack_max', $script:original)
        }
        $script:lock.Dispose()
    }

    It 'restored the global max' {
        [IO.File]::ReadAllText('/proc/sys/net/netfilter/nf_conntrack_max').Trim() | Should -Be $original
    }

    It 'let exactly max connections in and dropped the rest' {
        $inside.FirstOk | Should -Be $limit
        $inside.SecondOk | Should -Be 0
        $inside.Limit.Max | Should -Be $limit
        $inside.Limit.Count | Should -Be $limit
        $inside.Kernel.IsInitialNamespace | Should -BeFalse
        $inside.Kernel.NetworkNamespace | Should -Be $inode
    }

    It 'made the kernel log "table full in netns <inode>", with suppression lines' {
        $kernelLines.Count | Should -BeGreaterOrEqual 10
        @(& dmesg) -match '^\[[ 0-9.]+\] net_ratelimit: \d+ callbacks suppressed$' | Should -Not -BeNullOrEmpty
    }

    It 'shows the drops in that namespace with Get-ConntrackStatistic, as conntrack -S does' {
        $inside.Statistic.Drop | Should -BeGreaterThan 0
        $inside.Statistic.Entries | Should -Be $limit
        $inside.Statistic.NetworkNamespace | Should -Be $inode
        ($inside.PerCpu | Measure-Object Drop -Sum).Sum | Should -Be $inside.Statistic.Drop
        $cliDrops = 0
        foreach ($line in $inside.Cli) { if ($line -match '\bdrop=(\d+)') { $cliDrops += [long]$Matches[1] } }
        $inside.Statistic.Drop | Should -Be $cliDrops
    }

    It 'finds the new events with the namespace inode in the live kernel log' {
        $events = @(Get-ConntrackDropEvent -Since $start | Where-Object NetworkNamespace -eq $inode)
        # When the window misses them, say where the events were dated: a clock mismatch shows as times before $start.
        $dated = @(Get-ConntrackDropEvent | Where-Object NetworkNamespace -eq $inode | Select-Object -Last 3 | ForEach-Object { $_.TimeStamp.ToString('HH:mm:ss.fff') })
        $events.Count | Should -BeGreaterOrEqual 10 -Because "-Since $($start.ToString('HH:mm:ss.fff')) should keep this namespace's events, dated $($dated -join ', ') (btime $((Get-Content /proc/stat | Select-String '^btime') -replace 'btime ', ''), uptime $(Get-Content /proc/uptime))"
        $events.Kind | Select-Object -Unique | Should -Be 'TableFull'
        $events.Tracker | Select-Object -Unique | Should -Be 'nf_conntrack'
        $events.Source | Select-Object -Unique | Should -Be 'kernel ring buffer'
        $events.Format | Select-Object -Unique | Should -Be 'Kmsg'
        $events[0].Message | Should -Be "nf_conntrack: nf_conntrack: table full in netns $inode, dropping packet"
        $events[0].Host | Should -Be ([IO.File]::ReadAllText('/proc/sys/kernel/hostname').Trim())
        $events | ForEach-Object { $_.TimeStamp | Should -BeGreaterOrEqual $start }
        # The rate limit held some back: the bound says how many at most.
        ($events | Measure-Object SuppressedBefore -Sum).Sum | Should -BeGreaterThan 0
        # Every line dmesg shows for this namespace is an event, no more and no less (the namespace is gone, so
        # no new line can appear between the two reads).
        @(Get-ConntrackDropEvent | Where-Object NetworkNamespace -eq $inode).Count | Should -Be $kernelLines.Count
    }

    It 'bounds the drops: at least the logged events, at most those plus the suppressed' {
        $summary = Get-ConntrackDropEvent -Since $start -Summary
        $summary.NetworkNamespaces | Should -Contain $inode
        $summary.AtLeast | Should -BeGreaterOrEqual 10
        $summary.AtMost | Should -BeGreaterThan $summary.AtLeast
    }

    It 'is reported critical by Test-ConntrackHealth inside the namespace, with the fix' {
        $usage = $inside.Health | Where-Object Check -eq Usage
        $usage.Severity | Should -Be 'Critical'
        $usage.Message | Should -Match "100 % full \($limit of $limit\)"
        $usage.Message | Should -Match 'Run it on the host'
        # The fix is Get-ConntrackRecommendation's size for this machine; at one entry per bucket or less no hash size comes with it.
        $fix = "Set-ConntrackLimit -Max $($inside.Balanced.Max) -Persist"
        if ($inside.Balanced.Max / $inside.Limit.HashSize -gt 8) { $fix += "; Set-ConntrackHashSize -HashSize $($inside.Balanced.HashSize) -Persist" }
        $inside.Balanced.Max | Should -BeGreaterThan $limit
        $usage.Recommendation | Should -Be $fix
        $events = $inside.Health | Where-Object { $_.Check -eq 'TableFullEvents' -and $_.Severity -eq 'Critical' }
        $events.Message | Should -Match "in network namespace $inode"
        $events.Recommendation | Should -Be $fix
        ($inside.Health | Where-Object Check -eq KernelDefault).Severity | Should -Be 'Warning'
        ($inside.Health | Where-Object Check -eq Drop).Severity | Should -Be 'Warning'
        ($inside.Health | Where-Object Check -eq Namespace).Severity | Should -Be 'Info'
        $inside.Quiet | Should -BeFalse
    }

    It 'lets new connections in once the limit is raised' {
        $inside.RaisedMax | Should -Be ([long]$original)
        $inside.ThirdOk | Should -Be 20
        $inside.StatisticAfter.Drop | Should -Be $inside.Statistic.Drop
        $inside.StatisticAfter.Entries | Should -Be ($limit + 20)
    }
}
