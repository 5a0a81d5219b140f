BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:getId = 'ConntrackTuning.Commands.GetConntrackSettingCommand'
    $script:setId = 'ConntrackTuning.Commands.SetConntrackSettingCommand'
    $script:own = 'etc/sysctl.d/90-conntrack-tuning.conf'
}

Describe 'Get-ConntrackSetting and Set-ConntrackSetting on a fixture' {
    It 'lists the era''s other sysctls with value, default, meaning, scope and persisted value' {
        $root = Copy-Fixture linux-6.18-builtin
        $all = @(Get-ConntrackSetting -Root $root)
        $names = $all.Name
        foreach ($n in 'nf_conntrack_tcp_be_liberal', 'nf_conntrack_tcp_loose', 'nf_conntrack_tcp_max_retrans', 'nf_conntrack_acct', 'nf_conntrack_timestamp',
            'nf_conntrack_events', 'nf_conntrack_log_invalid', 'nf_conntrack_checksum', 'nf_conntrack_expect_max', 'nf_conntrack_tcp_ignore_invalid_rst') {
            $names | Should -Contain $n
        }
        $names | Should -Not -Contain 'nf_conntrack_helper' -Because 'the file is not in the 6.18 fixture (removed in 6.0)'
        $liberal = $all | Where-Object Name -EQ 'nf_conntrack_tcp_be_liberal'
        $liberal.Value | Should -Be ([long](Get-Content "$root/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal"))
        $liberal.Default | Should -Be 0
        $liberal.Scope | Should -Be 'PerNamespace'
        $liberal.Key | Should -Be 'net.netfilter.nf_conntrack_tcp_be_liberal'
        $liberal.Meaning | Should -Match 'out-of-window'
        $liberal.Writable | Should -BeFalse
        $liberal.NotWritableReason | Should -Match 'not the running system'
        ($all | Where-Object Name -EQ 'nf_conntrack_expect_max').Scope | Should -Be 'Global'
        ($all | Where-Object Name -EQ 'nf_conntrack_events').Default | Should -Be 2
        (Get-ConntrackSetting -Root $root -Name acct, net.netfilter.nf_conntrack_checksum).Name | Should -Be 'nf_conntrack_acct', 'nf_conntrack_checksum'
    }

    # The captures are of real kernels: each kernel's own expect_max at load, against the module's expect_hashsize
    # parameter that reads rounded up to a page of buckets (512) and so is not the hash the max was computed from.
    It 'gives expect_max the default its kernel computed at load: <Fixture>' -TestCases @(
        @{ Fixture = 'linux-6.18-builtin'; Expected = 4096 }
        @{ Fixture = 'debian-5.10.223-module-1g'; Expected = 128 }
        @{ Fixture = 'debian-6.1.176-module-256m'; Expected = 32 }
        @{ Fixture = 'debian-6.12.117-module-hashsize'; Expected = 1568 }
    ) {
        param($Fixture, $Expected)
        $root = Copy-Fixture $Fixture
        $setting = Get-ConntrackSetting -Root $root -Name expect_max
        $setting.Default | Should -Be $Expected
        $setting.Value | Should -Be ([long](Get-Content "$root/proc/sys/net/netfilter/nf_conntrack_expect_max"))
    }

    It 'takes expect_max''s default from an expect_hashsize the kernel command line or modprobe.d gives' {
        $root = Copy-Fixture linux-6.18-builtin
        Set-Content -LiteralPath "$root/proc/cmdline" -Value 'BOOT_IMAGE=/vmlinuz root=/dev/vda1 nf_conntrack.expect_hashsize=100'
        (Get-ConntrackSetting -Root $root -Name expect_max).Default | Should -Be 400

        $module = Copy-Fixture debian-5.10.223-module-1g
        New-Item -ItemType Directory -Force "$module/etc/modprobe.d" | Out-Null
        Set-Content -LiteralPath "$module/etc/modprobe.d/ct.conf" -Value 'options nf_conntrack expect_hashsize=50'
        (Get-ConntrackSetting -Root $module -Name expect_max).Default | Should -Be 200
    }

    It 'persists a value with -PersistOnly, reports it truthfully, and a rerun changes nothing' {
        $root = Copy-Fixture linux-6.18-builtin
        $first = Set-ConntrackSetting -Root $root -Name tcp_be_liberal -Value 1 -PersistOnly -PassThru -Confirm:$false
        $first.Setting | Should -Be 'nf_conntrack_tcp_be_liberal'
        $first.Changed | Should -BeTrue
        $first.RuntimeChanged | Should -BeFalse
        $first.PersistedTo | Should -Be @("$root/$own")
        Get-Content "$root/$own" | Should -Contain 'net.netfilter.nf_conntrack_tcp_be_liberal = 1'
        (Get-ConntrackSetting -Root $root -Name tcp_be_liberal).PersistedValue | Should -Be 1
        (Get-ConntrackSetting -Root $root -Name tcp_be_liberal).PersistedSource | Should -Match '90-conntrack-tuning.conf:\d+'
        $before = Get-TreeState $root
        $again = Set-ConntrackSetting -Root $root -Name nf_conntrack_tcp_be_liberal -Value 1 -PersistOnly -PassThru -Confirm:$false
        $again.Changed | Should -BeFalse
        Get-TreeState $root | Should -Be $before
    }

    It 'persists with -PersistOnly where the tracker is not loaded yet, as Set-ConntrackTimeout does, and lists the version''s settings' {
        $root = Copy-Fixture debian-5.10-no-conntrack
        $timeout = Set-ConntrackTimeout -Root $root -Protocol udp -Seconds 40 -PersistOnly -PassThru -WarningAction SilentlyContinue
        $timeout.Changed | Should -BeTrue
        $change = Set-ConntrackSetting -Root $root -Name tcp_be_liberal -Value 1 -PersistOnly -PassThru -WarningAction SilentlyContinue
        $change.Changed | Should -BeTrue
        Get-Content "$root/$own" | Should -Contain 'net.netfilter.nf_conntrack_tcp_be_liberal = 1'
        $setting = Get-ConntrackSetting -Root $root -Name tcp_be_liberal -WarningAction SilentlyContinue
        $setting.Value | Should -BeNullOrEmpty
        $setting.PersistedValue | Should -Be 1
    }

    It 'lists on a sosreport only the settings its captured sysctl -a holds, as Get-ConntrackTimeout does' {
        $root = Copy-Fixture sosreport-rhel8-4.18
        $captured = Get-Content "$root/sos_commands/kernel/sysctl_-a" | ForEach-Object { ($_ -split ' = ')[0] }
        $all = @(Get-ConntrackSetting -Root $root)
        $all.Key | Should -Contain 'net.netfilter.nf_conntrack_tcp_be_liberal'
        foreach ($s in $all) {
            $captured | Should -Contain $s.Key -Because "$($s.Name) is not in the kernel the sosreport captured"
            $s.Value | Should -Not -BeNullOrEmpty
        }
        $all.Name | Should -Not -Contain 'nf_conntrack_helper'
        $all.Name | Should -Not -Contain 'nf_conntrack_dccp_loose'
    }

    It 'changes nothing under -WhatIf' {
        $root = Copy-Fixture linux-6.18-builtin
        $before = Get-TreeState $root
        Set-ConntrackSetting -Root $root -Name acct -Value 1 -PersistOnly -WhatIf
        Get-TreeState $root | Should -Be $before
    }

    It 'refuses the running value of a root that is not the running system, pointing to -PersistOnly' {
        $root = Copy-Fixture linux-6.18-builtin
        $before = Get-TreeState $root
        Set-ConntrackSetting -Root $root -Name acct -Value 1 -ErrorAction SilentlyContinue -ErrorVariable err
        $err[0].FullyQualifiedErrorId | Should -Be "SettingReadOnly,$setId"
        Get-TreeState $root | Should -Be $before
    }

    It 'names the settings this kernel has when the name is unknown (<Command>)' -TestCases @(
        @{ Command = 'Get'; Id = 'SettingNotFound' }
        @{ Command = 'Set'; Id = 'SettingNotFound' }
    ) {
        $root = Copy-Fixture linux-6.18-builtin
        if ($Command -eq 'Get') {
            Get-ConntrackSetting -Root $root -Name tcp_be_lenient -ErrorAction SilentlyContinue -ErrorVariable err
            $err[0].FullyQualifiedErrorId | Should -Be "$Id,$getId"
        }
        else {
            Set-ConntrackSetting -Root $root -Name tcp_be_lenient -Value 1 -PersistOnly -ErrorAction SilentlyContinue -ErrorVariable err
            $err[0].FullyQualifiedErrorId | Should -Be "$Id,$setId"
        }
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].Exception.Message | Should -Match 'tcp_be_liberal'
    }

    It 'rejects a value outside the setting''s range and writes nothing' {
        $root = Copy-Fixture linux-6.18-builtin
        $before = Get-TreeState $root
        Set-ConntrackSetting -Root $root -Name tcp_loose -Value 2 -PersistOnly -ErrorAction SilentlyContinue -ErrorVariable err
        $err[0].FullyQualifiedErrorId | Should -Be "SettingValueInvalid,$setId"
        $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        Get-TreeState $root | Should -Be $before
    }

    It 'completes -Name' {
        foreach ($case in @(@('Set-ConntrackSetting -Name tcp_b', 'tcp_be_liberal'), @('Get-ConntrackSetting -Name exp', 'expect_max'))) {
            (TabExpansion2 $case[0] $case[0].Length).CompletionMatches.CompletionText | Should -Contain $case[1]
        }
    }

    # -Name takes the full name and the sysctl key too (as Get-ConntrackSetting writes them), so those complete.
    It 'completes -Name typed as the full name or the sysctl key of the kernel under -Root' {
        $root = Copy-Fixture linux-6.18-builtin
        $old = Copy-Fixture rhel5-2.6.18-ip_conntrack
        foreach ($case in @(
                @("Get-ConntrackSetting -Root '$root' -Name nf_conntrack_tcp_b", 'nf_conntrack_tcp_be_liberal'),
                @("Set-ConntrackSetting -Root '$root' -Name net.netfilter.nf_conntrack_ac", 'net.netfilter.nf_conntrack_acct'),
                @("Get-ConntrackSetting -Root '$old' -Name ip_conntrack_tcp_l", 'ip_conntrack_tcp_loose'))) {
            (TabExpansion2 $case[0] $case[0].Length).CompletionMatches.CompletionText | Should -Be $case[1]
        }
        # The bare names stay what they were: every name the era table knows.
        @((TabExpansion2 'Get-ConntrackSetting -Name ' 27).CompletionMatches.CompletionText) | Should -Contain 'dccp_loose'
    }
}

Describe 'Set-ConntrackSetting on this machine' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll {
        $script:lock = Enter-ConntrackLock
        # In a throwaway namespace, where the per-namespace settings change freely and the global ones are read-only.
        $script:r = Invoke-InNetns -ScriptBlock {
            $out = [ordered]@{}
            $path = '/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal'
            $out.Before = [long](Get-Content $path)
            $out.Listed = Get-ConntrackSetting -Name tcp_be_liberal
            $out.First = Set-ConntrackSetting -Name tcp_be_liberal -Value 1 -PassThru -Confirm:$false
            $out.After = [long](Get-Content $path)
            $out.Again = Set-ConntrackSetting -Name tcp_be_liberal -Value 1 -PassThru -Confirm:$false
            $out.WhatIf = Set-ConntrackSetting -Name tcp_be_liberal -Value 0 -WhatIf
            $out.AfterWhatIf = [long](Get-Content $path)
            $out.Timestamp = Set-ConntrackSetting -Name timestamp -Value 1 -PassThru -Confirm:$false
            $out.TimestampFile = [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_timestamp)
            $out.ExpectMax = Get-ConntrackSetting -Name expect_max
            Set-ConntrackSetting -Name expect_max -Value 8 -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable err
            $out.ExpectError = [string]$err[0].FullyQualifiedErrorId
            $out.ExpectFile = [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_expect_max)
            [pscustomobject]$out
        }
    }
    AfterAll { $script:lock.Dispose() }

    It 'reads the running value and says it can be changed in this namespace' {
        $r.Listed.Value | Should -Be $r.Before
        $r.Listed.Writable | Should -BeTrue
        $r.Listed.Scope | Should -Be 'PerNamespace'
    }

    It 'sets a per-namespace setting, records the change truthfully and is idempotent' {
        $r.Before | Should -Be 0
        $r.First.OldValue | Should -Be 0
        $r.First.NewValue | Should -Be 1
        $r.First.Changed | Should -BeTrue
        $r.After | Should -Be 1
        $r.Again.Changed | Should -BeFalse
        $r.AfterWhatIf | Should -Be 1
        $r.Timestamp.NewValue | Should -Be 1
        $r.TimestampFile | Should -Be 1
    }

    It 'refuses a global setting inside a namespace, changing nothing' {
        $r.ExpectMax.Scope | Should -Be 'Global'
        $r.ExpectMax.Writable | Should -BeFalse
        $r.ExpectError | Should -Be "HostOwnedSetting,$setId"
        $r.ExpectFile | Should -Be $r.ExpectMax.Value
    }
}
