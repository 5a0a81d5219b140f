BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

Describe 'Get-ConntrackStatistic on fixture trees' {
    It 'sums every counter over the CPUs but entries, which every row repeats' {
        $root = Copy-Fixture linux-6.18-overflow
        $s = Get-ConntrackStatistic -Root $root
        $s.Cpu | Should -BeNullOrEmpty
        $s.CpuCount | Should -Be 2
        $s.Entries | Should -Be 64000
        $s.Drop | Should -Be 23
        $s.EarlyDrop | Should -Be 5
        $s.InsertFailed | Should -Be 1
        $s.Invalid | Should -Be 59
        $s.ClashResolve | Should -Be 3
        $s.SearchRestart | Should -Be 5
        $s.ChainTooLong | Should -Be 0
        $s.Source | Should -Be "$root/proc/net/stat/nf_conntrack"
        $s.IsInitialNamespace | Should -BeTrue
        $s | Should -BeOfType ([ConntrackTuning.ConntrackStatistic])
    }

    It 'gives one object per CPU with -PerCpu' {
        $root = Copy-Fixture linux-6.18-overflow
        $cpus = @(Get-ConntrackStatistic -Root $root -PerCpu)
        $cpus.Count | Should -Be 2
        $cpus.Cpu | Should -Be @(0, 1)
        $cpus.Drop | Should -Be @(16, 7)
        $cpus.CpuCount | Should -Be @(1, 1)
    }

    It 'carries columns it does not know under their own names and leaves absent ones null' {
        $root = Copy-Fixture linux-6.18-builtin
        Set-Content "$root/proc/net/stat/nf_conntrack" "entries  searched found drop future_thing `n00000002  00000010 00000001 00000003 0000000a "
        $s = Get-ConntrackStatistic -Root $root
        $s.Searched | Should -Be 16
        $s.Drop | Should -Be 3
        $s.Other['future_thing'] | Should -Be 10
        $s.ClashResolve | Should -BeNullOrEmpty
        $s.Entries | Should -Be 2
    }

    It 'shows the sum as CPU "all" in its default table' {
        $text = Get-ConntrackStatistic -Root (Copy-Fixture linux-6.18-overflow) | Out-String -Width 200
        $text | Should -Match 'Cpu\s+Entries\s+Drop\s+EarlyDrop'
        $text | Should -Match 'all\s+64000\s+23\s+5'
    }

    It 'says plainly that a kernel without the file has no statistics there (StatisticsUnavailable)' {
        $root = Copy-Fixture linux-6.18-builtin
        Remove-Item "$root/proc/net/stat/nf_conntrack" -Force
        Get-ConntrackStatistic -Root $root -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be 'StatisticsUnavailable,ConntrackTuning.Commands.GetConntrackStatisticCommand'
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].TargetObject | Should -Be "$root/proc/net/stat/nf_conntrack"
        $err[0].Exception.Message | Should -Match 'CONFIG_NF_CONNTRACK_PROCFS'
        $err[0].ErrorDetails.RecommendedAction | Should -Match 'conntrack -S'
    }

    It 'names a file with no header a StatisticsMalformed error' {
        $root = Copy-Fixture linux-6.18-builtin
        Set-Content "$root/proc/net/stat/nf_conntrack" "00000001 00000002`n"
        Get-ConntrackStatistic -Root $root -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'StatisticsMalformed,ConntrackTuning.Commands.GetConntrackStatisticCommand'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $err[0].TargetObject | Should -Be "$root/proc/net/stat/nf_conntrack"
    }

    It 'warns about a damaged row and sums the others' {
        $root = Copy-Fixture linux-6.18-overflow
        $lines = Get-Content "$root/proc/net/stat/nf_conntrack"
        Set-Content "$root/proc/net/stat/nf_conntrack" @($lines[0], $lines[1], '0000fa00  0000')
        $s = Get-ConntrackStatistic -Root $root -WarningVariable warn 3>$null
        $s.Drop | Should -Be 16
        $s.CpuCount | Should -Be 1
        $warn | Should -Match 'line 3 has 2 values for 17 columns'
    }

    It 'says conntrack is not loaded where it is not (ConntrackNotLoaded)' {
        $root = Copy-Fixture linux-6.18-builtin
        Remove-Item "$root/proc/sys/net/netfilter", "$root/proc/sys/net/nf_conntrack_max", "$root/sys/module/nf_conntrack" -Recurse -Force
        Get-ConntrackStatistic -Root $root -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'ConntrackNotLoaded,ConntrackTuning.Commands.GetConntrackStatisticCommand'
    }

    It 'reads every folder piped from Get-ChildItem' {
        $parent = Join-Path $TestDrive 'stat-reports'
        $null = Copy-Fixture linux-6.18-overflow -Destination (Join-Path $parent 'a')
        $null = Copy-Fixture linux-6.18-builtin -Destination (Join-Path $parent 'b')
        $all = Get-ChildItem $parent -Directory | Get-ConntrackStatistic
        $all.Root | Should -Be @((Join-Path $parent 'a'), (Join-Path $parent 'b'))
        $all.Drop | Should -Be @(23, 0)
    }
}

Describe 'Get-ConntrackStatistic on this machine' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll { $script:lock = Enter-ConntrackLock }
    AfterAll { $script:lock.Dispose() }

    It 'agrees with the procfs file and with conntrack -S (netlink) in a namespace with traffic' {
        $r = Invoke-InNetns -Track -ScriptBlock {
            $udp = [Net.Sockets.UdpClient]::new()
            foreach ($port in 21000..21099) { $null = $udp.Send([byte[]](1), 1, '127.0.0.1', $port) }
            $udp.Dispose()
            [pscustomobject]@{
                Sum    = Get-ConntrackStatistic
                PerCpu = @(Get-ConntrackStatistic -PerCpu)
                Cli    = @(& conntrack -S)
                Count  = [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_count)
                Cpus   = [Environment]::ProcessorCount
            }
        }
        $r.Sum.Entries | Should -Be $r.Count
        $r.PerCpu.Count | Should -Be $r.Cpus
        ($r.PerCpu | Measure-Object Drop -Sum).Sum | Should -Be $r.Sum.Drop
        foreach ($line in $r.Cli) {
            $stat = ConvertFrom-ConntrackStatLine $line
            $cpu, $fromCli = $stat.Cpu, $stat.Values
            $mine = $r.PerCpu | Where-Object Cpu -eq $cpu
            $mine.Drop | Should -Be $fromCli['drop']
            $mine.EarlyDrop | Should -Be $fromCli['early_drop']
            $mine.InsertFailed | Should -Be $fromCli['insert_failed']
            $mine.Invalid | Should -Be $fromCli['invalid']
            $mine.ClashResolve | Should -Be $fromCli['clash_resolve']
            $mine.ChainTooLong | Should -Be $fromCli['chaintoolong']
            $mine.SearchRestart | Should -Be $fromCli['search_restart']
        }
    }

    It 'reads the counters over ctnetlink, as conntrack -S does, where the procfs file is missing' {
        $r = Invoke-InNetns -Track -ArgumentList @(((Get-PwshCommand) -join "`n")) -ScriptBlock {
            param([string] $PwshLines)
            $pwsh = $PwshLines -split "`n"
            [IO.File]::WriteAllText('/proc/sys/net/netfilter/nf_conntrack_udp_timeout', '3600')
            $udp = [Net.Sockets.UdpClient]::new()
            foreach ($port in 21000..21049) { $null = $udp.Send([byte[]](1), 1, '127.0.0.1', $port) }
            $udp.Dispose()
            # Entries made over ctnetlink are what current kernels count in insert: non-zero counters to compare.
            foreach ($i in 1..3) { & conntrack -I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport $i --dport 53 -t 3000 2>$null }
            # A /proc with only the process folders: no /proc/net/stat (a kernel built without
            # CONFIG_NF_CONNTRACK_PROCFS) and no /proc/sys either, so the count has to come over ctnetlink too.
            $json = & unshare -m --propagation private -- sh -c 'mount -t proc -o subset=pid proc /proc && exec "$@"' sh @pwsh -NoProfile -NonInteractive -Command "
                Import-Module '$((Get-Module ConntrackTuning).Path | Split-Path)'
                [pscustomobject]@{
                    FileVisible = Test-Path /proc/net/stat/nf_conntrack
                    Sum         = Get-ConntrackStatistic -WarningAction SilentlyContinue
                    PerCpu      = @(Get-ConntrackStatistic -PerCpu -WarningAction SilentlyContinue)
                } | ConvertTo-Json -Depth 3 -Compress"
            [pscustomobject]@{
                Hidden = $json | ConvertFrom-Json
                Cli    = @(& conntrack -S)
                Count  = [long](& conntrack -C)
            }
        }
        $r.Hidden.FileVisible | Should -BeFalse
        $r.Hidden.Sum.Source | Should -Be 'ctnetlink'
        $r.Hidden.Sum.Entries | Should -Be $r.Count
        $r.Count | Should -Be 53
        $r.Hidden.Sum.Insert | Should -Be 3
        $r.Hidden.PerCpu.Count | Should -Be $r.Cli.Count
        foreach ($line in $r.Cli) {
            $stat = ConvertFrom-ConntrackStatLine $line
            $cpu, $fromCli = $stat.Cpu, $stat.Values
            $mine = $r.Hidden.PerCpu | Where-Object Cpu -eq $cpu
            $mine.Source | Should -Be 'ctnetlink'
            $mine.Insert | Should -Be $fromCli['insert'] -Because "cpu $cpu"
            $mine.Drop | Should -Be $fromCli['drop']
            $mine.EarlyDrop | Should -Be $fromCli['early_drop']
            $mine.InsertFailed | Should -Be $fromCli['insert_failed']
            $mine.Invalid | Should -Be $fromCli['invalid']
            $mine.IcmpError | Should -Be $fromCli['error']
            $mine.ClashResolve | Should -Be $fromCli['clash_resolve']
            $mine.ChainTooLong | Should -Be $fromCli['chaintoolong']
            $mine.SearchRestart | Should -Be $fromCli['search_restart']
        }
    }
}
