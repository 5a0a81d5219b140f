BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

Describe 'Get-ConntrackLimit on fixture trees' {
    It 'reads max, count and hash size of a built-in 6.18 kernel with their sources' {
        $root = Copy-Fixture linux-6.18-builtin
        $limit = Get-ConntrackLimit -Root $root
        $limit.Max | Should -Be 262144
        $limit.Count | Should -Be 0
        $limit.HashSize | Should -Be 262144
        $limit.EntriesPerBucket | Should -Be 1
        $limit.Tracker | Should -Be 'nf_conntrack'
        $limit.MaxSource | Should -Be "$root/proc/sys/net/netfilter/nf_conntrack_max"
        $limit.HashSizeSource | Should -Be "$root/sys/module/nf_conntrack/parameters/hashsize"
        $limit.CountSource | Should -Be "$root/proc/sys/net/netfilter/nf_conntrack_count"
        $limit.KernelRelease | Should -Be '6.18.44-fc-v669'
    }

    It 'says RootKind <Kind> for <Name>, as Get-ConntrackKernel does' -ForEach @(
        @{ Name = 'sosreport-rhel8-4.18'; Kind = 'Capture' }
        @{ Name = 'linux-6.18-builtin'; Kind = 'Capture' }
    ) {
        $root = Copy-Fixture $Name
        (Get-ConntrackKernel -Root $root).RootKind | Should -Be $Kind
        (Get-ConntrackLimit -Root $root).RootKind | Should -Be $Kind
    }

    It 'names the log line a 2.4 hash size came from and the table file its count came from' {
        $root = Copy-Fixture linux-2.4.20-early
        $limit = Get-ConntrackLimit -Root $root
        $limit.Count | Should -Be 4
        $limit.CountSource | Should -Be "$root/proc/net/ip_conntrack (entries counted)"
        $limit.HashSizeSource | Should -Be "$root/var/log/messages: Mar 24 08:00:09 fw kernel: ip_conntrack version 2.1 (4096 buckets, 32768 max) - 292 bytes per conntrack"
    }

    It 'shows Max, Count, Usage %, HashSize, EntriesPerBucket and Tracker in its default table' {
        $root = Copy-Fixture ubuntu-4.15-nf_conntrack
        $lines = @(Get-ConntrackLimit -Root $root | Out-String -Width 200 -Stream | Where-Object { $_.Trim() })
        $lines[0] | Should -Match '^\s*Max\s+Count\s+Usage %\s+HashSize\s+EntriesPerBucket\s+Tracker\b'
        # 251904 of 262144 is 96.09 %; 262144 / 65536 = 4 entries per bucket.
        $lines[2] | Should -Match '^\s*262144\s+251904\s+96\.09\s+65536\s+4\s+nf_conntrack\b'
        (Get-Command Get-ConntrackLimit).OutputType.Name | Should -Be 'ConntrackTuning.ConntrackLimit'
    }

    It 'names the root that does not exist in a RootNotFound error' {
        $missing = Join-Path $TestDrive 'no-such-root'
        Get-ConntrackLimit -Root $missing -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be 'RootNotFound,ConntrackTuning.Commands.GetConntrackLimitCommand'
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].TargetObject | Should -Be $missing
    }

    It 'reports every folder piped from Get-ChildItem, not the / of their paths' {
        $parent = Join-Path $TestDrive 'reports'
        $null = Copy-Fixture linux-6.18-builtin -Destination (Join-Path $parent 'host-a')
        $null = Copy-Fixture linux-6.18-builtin -Destination (Join-Path $parent 'host-b')
        $limits = Get-ChildItem $parent -Directory | Get-ConntrackLimit
        $limits.Root | Should -Be @((Join-Path $parent 'host-a'), (Join-Path $parent 'host-b'))
    }
}

Describe 'Get-ConntrackLimit on this machine' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll { $script:lock = Enter-ConntrackLock }
    AfterAll { $script:lock.Dispose() }

    It 'matches the files and sysctl -n' {
        $limit = Get-ConntrackLimit
        $limit.Max | Should -Be ([long](Get-Content /proc/sys/net/netfilter/nf_conntrack_max))
        $limit.Max | Should -Be ([long](& sysctl -n net.netfilter.nf_conntrack_max))
        $limit.HashSize | Should -Be ([long](Get-Content /sys/module/nf_conntrack/parameters/hashsize))
        $limit.IsInitialNamespace | Should -BeTrue
    }

    It 'counts the entries of a throwaway namespace like conntrack -C and calls it not initial' {
        $result = Invoke-InNetns -Track -ScriptBlock {
            $udp = [Net.Sockets.UdpClient]::new()
            foreach ($port in 20000..20299) { $null = $udp.Send([byte[]](1), 1, '127.0.0.1', $port) }
            $udp.Dispose()
            [pscustomobject]@{
                Limit      = Get-ConntrackLimit
                Kernel     = Get-ConntrackKernel
                CountByCli = [long](& conntrack -C)
            }
        }
        $result.Limit.Count | Should -BeGreaterOrEqual 300
        $result.Limit.Count | Should -Be $result.CountByCli
        $result.Limit.IsInitialNamespace | Should -BeFalse
        $result.Kernel.IsInitialNamespace | Should -BeFalse
        $result.Kernel.CanSetMax | Should -BeFalse
        $result.Kernel.MaxReadOnlyReason | Should -Match 'not the initial network namespace'
        $result.Kernel.CanSetTimeouts | Should -BeTrue
    }
}

Describe 'Get-ConntrackLimit and Get-ConntrackRecommendation on the running machine' -Skip:(-not $IsLinux -or -not (Test-Path /proc/sys/net/netfilter/nf_conntrack_max)) {
    It 'predict the same kernel default for the next boot (same RAM, pointer size and page size)' {
        $limit = Get-ConntrackLimit -WarningAction SilentlyContinue
        $default = Get-ConntrackRecommendation -Profile KernelDefault -WarningAction SilentlyContinue
        if ($null -eq $limit.PersistedMax) { $limit.NextBootMax | Should -Be $default.Max }
        if ($null -eq $limit.PersistedHashSize) { $limit.NextBootHashSize | Should -Be $default.HashSize }
        $default.PageSize | Should -Be ([Environment]::SystemPageSize)
    }
}
