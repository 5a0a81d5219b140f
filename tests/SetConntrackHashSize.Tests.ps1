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
}

Describe 'Set-ConntrackHashSize on fixture trees' {
    It 'resizes through the module parameter and persists as a modprobe option for a loadable tracker' {
        $root = Copy-Fixture centos7-3.10-nf_conntrack
        $record = Set-ConntrackHashSize -Root $root -HashSize 65536 -Persist -PassThru -WarningVariable warnings
        $record.Setting | Should -Be 'hashsize'
        $record.Key | Should -Be 'nf_conntrack.hashsize'
        $record.Path | Should -Be "$root/sys/module/nf_conntrack/parameters/hashsize"
        $record.OldValue | Should -Be 16384
        $record.NewValue | Should -Be 65536
        Get-Content "$root/sys/module/nf_conntrack/parameters/hashsize" | Should -Be '65536'
        Get-Content "$root/etc/modprobe.d/conntrack-tuning.conf" | Select-Object -Last 1 | Should -Be 'options nf_conntrack hashsize=65536'
        # The module's own file sorts before firewalld's install hook file; the hook sets no hashsize, so no override.
        $record.NextBootValue | Should -Be 65536
        # No sysctl persists the max, so the kernel will make it 8 x the hash size at load: said as a warning.
        $warnings -join "`n" | Should -Match '8 x 65536 = 524288'
    }

    It 'persists as the buckets sysctl for a built-in tracker from 4.8' {
        $root = Copy-Fixture linux-6.18-builtin
        Set-ConntrackHashSize -Root $root -HashSize 131072 -Persist
        Get-Content "$root/etc/sysctl.d/90-conntrack-tuning.conf" | Select-Object -Last 1 | Should -Be 'net.netfilter.nf_conntrack_buckets = 131072'
        Test-Path "$root/etc/modprobe.d" | Should -BeFalse
        (Get-ConntrackLimit -Root $root).PersistedHashSize | Should -Be 131072
    }

    It 'uses ip_conntrack in modprobe.conf on RHEL 5' {
        $root = Copy-Fixture rhel5-2.6.18-ip_conntrack
        Set-ConntrackHashSize -Root $root -HashSize 16384 -Persist -WarningAction SilentlyContinue
        Get-Content "$root/etc/modprobe.conf" | Should -Be @('alias eth0 e1000', 'alias scsi_hostadapter ata_piix', 'options ip_conntrack hashsize=16384')
    }

    It 'warns with the seed advice for a size that is not a power of two, and still applies it' {
        $root = Copy-Fixture ubuntu-4.15-nf_conntrack
        $record = Set-ConntrackHashSize -Root $root -HashSize 100000 -PassThru -WarningVariable warnings -WarningAction SilentlyContinue
        $record.NewValue | Should -Be 100000
        $warnings -join "`n" | Should -Match 'power of 2 works best'
    }

    It 'on 2.4 says the hash cannot be resized at run time, and -PersistOnly writes modules.conf' {
        $root = Copy-Fixture linux-2.4.27-netfilter
        $before = Get-TreeState $root
        $err = Get-Err { Set-ConntrackHashSize -Root $root -HashSize 4096 -Persist }
        $err[0].FullyQualifiedErrorId | Should -Be 'HashSizeNotResizable,ConntrackTuning.Commands.SetConntrackHashSizeCommand'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $err[0].TargetObject | Should -Be $root
        $err[0].ErrorDetails.RecommendedAction | Should -Match '-PersistOnly'
        Get-TreeState $root | Should -Be $before
        $record = Set-ConntrackHashSize -Root $root -HashSize 4096 -PersistOnly -PassThru -WarningAction SilentlyContinue
        $record.Mode | Should -Be 'PersistentOnly'
        Get-Content "$root/etc/modules.conf" | Should -Be 'options ip_conntrack hashsize=4096'
    }

    It 'explains the kernel command line for a built-in tracker before 4.8 and changes nothing' {
        $root = Copy-Fixture linux-6.18-builtin
        Set-Content "$root/proc/sys/kernel/osrelease" '4.4.0-custom'
        $before = Get-TreeState $root
        $err = Get-Err { Set-ConntrackHashSize -Root $root -HashSize 65536 -Persist }
        $err[0].FullyQualifiedErrorId | Should -Be 'HashSizeNeedsKernelCommandLine,ConntrackTuning.Commands.SetConntrackHashSizeCommand'
        $err[0].ErrorDetails.RecommendedAction | Should -Match 'nf_conntrack\.hashsize=N.*GRUB_CMDLINE_LINUX'
        Get-TreeState $root | Should -Be $before
    }

    It 'gives HashSizeOutOfRange for <HashSize>, which rounds past 268,435,455 though it passes the parameter check' -ForEach @(@{ HashSize = 268435455 }, @{ HashSize = 268435100 }) {
        $root = Copy-Fixture linux-6.18-builtin
        $err = Get-Err { Set-ConntrackHashSize -Root $root -HashSize $HashSize }
        $err[0].FullyQualifiedErrorId | Should -Be 'HashSizeOutOfRange,ConntrackTuning.Commands.SetConntrackHashSizeCommand'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err[0].TargetObject | Should -Be "$HashSize"
        Get-Content "$root/sys/module/nf_conntrack/parameters/hashsize" | Should -Be '262144'
    }

    It 'rejects <Value> as a parameter error, nothing written' -ForEach @(
        @{ Value = 268435456; Id = 'ParameterArgumentValidationError' }
        @{ Value = 0; Id = 'ParameterArgumentValidationError' }
        @{ Value = -1; Id = 'ParameterArgumentValidationError' }
        @{ Value = 'big'; Id = 'CannotConvertArgumentNoMessage' }
    ) {
        $root = Copy-Fixture linux-6.18-builtin
        $before = Get-TreeState $root
        { Set-ConntrackHashSize -Root $root -HashSize $Value -Persist } | Should -Throw -ErrorId "$Id,ConntrackTuning.Commands.SetConntrackHashSizeCommand"
        Get-TreeState $root | Should -Be $before
    }

    It 'binds HashSize (a long) and Root by property name from a recommendation' {
        $root = Copy-Fixture ubuntu-5.15-module-noprocfs
        $record = [pscustomobject]@{ Profile = 'FirewallOnly'; Max = [long]1048576; HashSize = [long]1048576; Root = $root } |
            Set-ConntrackHashSize -Persist -PassThru
        $record.NewValue | Should -Be 1048576
        Get-Content "$root/etc/modprobe.d/conntrack-tuning.conf" | Select-Object -Last 1 | Should -Be 'options nf_conntrack hashsize=1048576'
    }
}

Describe 'Set-ConntrackHashSize on this machine' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll { $script:lock = Enter-ConntrackLock }
    AfterAll { $script:lock.Dispose() }

    It 'writes 100000, reads back the kernel''s rounded 100352, reports it, and a rerun changes nothing' {
        $original = [long](Get-Content /sys/module/nf_conntrack/parameters/hashsize)
        try {
            $record = Set-ConntrackHashSize -HashSize 100000 -PassThru -WarningAction SilentlyContinue
            $record.OldValue | Should -Be $original
            $record.RequestedValue | Should -Be 100000
            $record.NewValue | Should -Be 100352
            [long](Get-Content /sys/module/nf_conntrack/parameters/hashsize) | Should -Be 100352
            [long](& sysctl -n net.netfilter.nf_conntrack_buckets) | Should -Be 100352
            (Get-ConntrackLimit).HashSize | Should -Be 100352
            $again = Set-ConntrackHashSize -HashSize 100000 -PassThru -WarningAction SilentlyContinue
            $again.Changed | Should -BeFalse
            $again.NewValue | Should -Be 100352
        }
        finally {
            & sysctl -q -w "net.netfilter.nf_conntrack_buckets=$original"
        }
        [long](Get-Content /sys/module/nf_conntrack/parameters/hashsize) | Should -Be $original
    }
}
