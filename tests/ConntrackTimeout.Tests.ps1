BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    function Get-Err([scriptblock] $Command) {
        $ErrorActionPreference = 'Continue'
        @(& $Command 2>&1 | Where-Object { $_ -is [Management.Automation.ErrorRecord] })
    }
    function Get-Completion([string] $Line) {
        (TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches.CompletionText
    }
}

Describe 'Get-ConntrackTimeout on fixture trees' {
    It 'lists what the kernel folder has, with defaults, keys and paths' {
        $root = Copy-Fixture linux-6.18-builtin
        $all = Get-ConntrackTimeout -Root $root
        $all.Count | Should -Be 26
        $tcp = $all | Where-Object { $_.Protocol -eq 'tcp' -and $_.State -eq 'established' }
        $tcp.Seconds | Should -Be 432000
        $tcp.Default | Should -Be 432000
        $tcp.Key | Should -Be 'net.netfilter.nf_conntrack_tcp_timeout_established'
        $tcp.Path | Should -Be "$root/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established"
        ($all | Where-Object Protocol -eq 'udp').State | Should -Be @($null, 'stream')
    }

    It 'filters by protocol and state, wildcards allowed' {
        $root = Copy-Fixture linux-6.18-builtin
        (Get-ConntrackTimeout -Root $root -Protocol tcp -State 'time*').State | Should -Be 'time_wait'
        (Get-ConntrackTimeout -Root $root sctp).Count | Should -Be 8
    }

    It 'uses the ip_conntrack names on 2.4.27 and reports persisted values from sysctl.conf' {
        $root = Copy-Fixture linux-2.4.27-netfilter
        Add-Content "$root/etc/sysctl.conf" 'net/ipv4/netfilter/ip_conntrack_tcp_timeout_established=1200'
        $tcp = Get-ConntrackTimeout -Root $root tcp established
        $tcp.Key | Should -Be 'net.ipv4.netfilter.ip_conntrack_tcp_timeout_established'
        $tcp.PersistedSeconds | Should -Be 1200
        $tcp.PersistedSource | Should -Be "$root/etc/sysctl.conf:5"
        (Get-ConntrackTimeout -Root $root).Protocol | Sort-Object -Unique | Should -Be @('generic', 'icmp', 'tcp', 'udp')
    }

    It 'gives TimeoutsNotAvailable before 2.4.23' {
        $root = Copy-Fixture linux-2.4.20-early
        $err = Get-Err { Get-ConntrackTimeout -Root $root }
        $err[0].FullyQualifiedErrorId | Should -Be 'TimeoutsNotAvailable,ConntrackTuning.Commands.GetConntrackTimeoutCommand'
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].TargetObject | Should -Be $root
        $err[0].ErrorDetails.RecommendedAction | Should -Match 'compile-time constants'
    }

    It 'completes -Protocol and -State on Tab from the kernel under -Root' {
        $root = Copy-Fixture linux-6.18-builtin
        Get-Completion "Set-ConntrackTimeout -Root '$root' -Protocol t" | Should -Be 'tcp'
        Get-Completion "Set-ConntrackTimeout -Root '$root' -Protocol udp -State " | Should -Be 'stream'
        Get-Completion "Get-ConntrackTimeout -Root '$root' -Protocol sctp -State shut" | Should -Be @('shutdown_ack_sent', 'shutdown_recd', 'shutdown_sent')
        $old = Copy-Fixture linux-2.4.27-netfilter
        Get-Completion "Set-ConntrackTimeout -Root '$old' -Protocol " | Should -Be @('generic', 'icmp', 'tcp', 'udp')
        Push-Location (Split-Path $old)
        try { Get-Completion "Set-ConntrackTimeout -Root ./$(Split-Path -Leaf $old) -Protocol u" | Should -Be 'udp' }
        finally { Pop-Location }
        Get-Completion "Set-ConntrackTimeout -Root '$TestDrive/missing' -Protocol " | Should -BeNullOrEmpty
    }
}

Describe 'Set-ConntrackTimeout on fixture trees' {
    It 'sets the seed''s example, tcp established 1200 s, and persists the era key' {
        $root = Copy-Fixture rhel5-2.6.18-ip_conntrack
        $record = Set-ConntrackTimeout -Root $root -Protocol tcp -State established -Seconds 1200 -Persist -PassThru -WarningAction SilentlyContinue
        $record.Setting | Should -Be 'ip_conntrack_tcp_timeout_established'
        $record.Protocol | Should -Be 'tcp'
        $record.State | Should -Be 'established'
        $record.OldValue | Should -Be 432000
        $record.NewValue | Should -Be 1200
        Get-Content "$root/proc/sys/net/ipv4/netfilter/ip_conntrack_tcp_timeout_established" | Should -Be '1200'
        Get-Content "$root/etc/sysctl.conf" | Select-Object -Last 1 | Should -Be 'net.ipv4.netfilter.ip_conntrack_tcp_timeout_established = 1200'
    }

    It 'binds Protocol, State, Seconds and Root by property name, from Get-ConntrackTimeout or any object' {
        $root = Copy-Fixture linux-6.18-builtin
        $records = Get-ConntrackTimeout -Root $root -Protocol tcp -State close_wait, time_wait | Set-ConntrackTimeout -Seconds 30 -PassThru
        $records.Setting | Should -Be @('nf_conntrack_tcp_timeout_close_wait', 'nf_conntrack_tcp_timeout_time_wait')
        $records.NewValue | Should -Be @(30, 30)
        $udp = [pscustomobject]@{ Protocol = 'udp'; State = $null; Seconds = [long]60; Root = $root } | Set-ConntrackTimeout -PassThru
        $udp.Setting | Should -Be 'nf_conntrack_udp_timeout'
        Get-Content "$root/proc/sys/net/netfilter/nf_conntrack_udp_timeout" | Should -Be '60'
    }

    It 'says the timeout is not persisted when a sysctl file sets another value for the next boot' {
        $root = Copy-Fixture linux-6.18-builtin
        $null = New-Item -ItemType Directory "$root/etc/sysctl.d" -Force
        Set-Content "$root/etc/sysctl.d/50-tune.conf" 'net.netfilter.nf_conntrack_tcp_timeout_established = 86400'
        $record = Set-ConntrackTimeout -Root $root tcp established 1200 -PassThru -WarningVariable warnings -WarningAction SilentlyContinue
        $warnings -join "`n" | Should -Match 'not persisted: the next boot applies 86400 from .*50-tune\.conf:1'
        $record.NextBootValue | Should -Be 86400
    }

    It 'keeps that warning in the Warnings of the record of an applied change, and writes it once' {
        $root = Copy-Fixture linux-6.18-builtin
        $null = New-Item -ItemType Directory "$root/etc/sysctl.d" -Force
        Set-Content "$root/etc/sysctl.d/50-tune.conf" 'net.netfilter.nf_conntrack_tcp_timeout_established = 86400'
        $record = Set-ConntrackTimeout -Root $root tcp established 1200 -PassThru -WarningVariable warnings -WarningAction SilentlyContinue
        $record.Applied | Should -BeTrue
        $record.Changed | Should -BeTrue
        @($record.Warnings | Where-Object { $_ -match 'not persisted' }).Count | Should -Be 1
        @($warnings | Where-Object { "$_" -match 'not persisted' }).Count | Should -Be 1
    }

    It 'gives TimeoutNotFound naming what the kernel has' {
        $root = Copy-Fixture linux-6.18-builtin
        $err = Get-Err { Set-ConntrackTimeout -Root $root -Protocol dccp -State open -Seconds 60 }
        $err[0].FullyQualifiedErrorId | Should -Be 'TimeoutNotFound,ConntrackTuning.Commands.SetConntrackTimeoutCommand'
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].TargetObject | Should -Be "$root/proc/sys/net/netfilter/nf_conntrack_dccp_timeout_open"
        $err[0].Exception.Message | Should -Match 'tcp established'
    }

    It 'rejects <Value> seconds as a parameter error' -ForEach @(@{ Value = 0 }, @{ Value = -1 }, @{ Value = 2147483648 }) {
        $root = Copy-Fixture linux-6.18-builtin
        { Set-ConntrackTimeout -Root $root -Protocol tcp -State established -Seconds $Value } |
            Should -Throw -ErrorId 'ParameterArgumentValidationError,ConntrackTuning.Commands.SetConntrackTimeoutCommand'
    }
}

Describe 'Timeouts on this machine' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll { $script:lock = Enter-ConntrackLock }
    AfterAll { $script:lock.Dispose() }

    It 'lists the same timeouts and values as sysctl' {
        foreach ($t in Get-ConntrackTimeout) {
            $t.Seconds | Should -Be ([long](& sysctl -n $t.Key)) -Because $t.Key
        }
        (Get-ChildItem /proc/sys/net/netfilter -Filter 'nf_conntrack_*_timeout*').Count | Should -Be (Get-ConntrackTimeout).Count
    }

    It 'writes a timeout in a throwaway namespace, reads it back, and leaves the host''s alone' {
        $host_before = [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established)
        $result = Invoke-InNetns -ScriptBlock {
            $record = Set-ConntrackTimeout -Protocol tcp -State established -Seconds 1200 -PassThru
            $again = Set-ConntrackTimeout -Protocol tcp -State established -Seconds 1200 -PassThru
            Set-ConntrackTimeout -Protocol tcp -State established -Seconds 2147483647 -ErrorAction SilentlyContinue -ErrorVariable rejected
            [pscustomobject]@{
                Record   = $record
                Changed  = $again.Changed
                Read     = (Get-ConntrackTimeout tcp established).Seconds
                Sysctl   = [long](& sysctl -n net.netfilter.nf_conntrack_tcp_timeout_established)
                Rejected = $rejected[0].FullyQualifiedErrorId
                Category = "$($rejected[0].CategoryInfo.Category)"
            }
        }
        $result.Record.OldValue | Should -Be 432000
        $result.Record.NewValue | Should -Be 1200
        $result.Changed | Should -BeFalse
        $result.Read | Should -Be 1200
        $result.Sysctl | Should -Be 1200
        # 2147483647 s overflows the kernel's jiffies conversion: the kernel answers EINVAL.
        $result.Rejected | Should -Be 'ValueRejectedByKernel,ConntrackTuning.Commands.SetConntrackTimeoutCommand'
        $result.Category | Should -Be 'InvalidArgument'
        [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established) | Should -Be $host_before
    }
}
