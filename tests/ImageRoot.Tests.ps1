# Images as roots, through the cmdlets: a tree laid out as Debian installs kernels (lib/modules/<release> with
# modules.dep, usr/lib/modules, boot/config-<release>), no captured proc/ or sys/. The VM tier (Vm.Tests.ps1)
# boots real images built by mmdebstrap to prove the same predictions.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')

    function New-ImageTree {
        $image = Join-Path $TestDrive ([guid]::NewGuid().ToString('n'))
        # Empty mount points, as a disk image keeps them.
        $null = New-Item -ItemType Directory -Path "$image/etc/sysctl.d", "$image/proc", "$image/sys", "$image/boot"
        foreach ($k in @(@{ Release = '6.1.0-9-amd64'; Under = 'lib/modules' }, @{ Release = '6.1.0-50-amd64'; Under = 'usr/lib/modules' })) {
            $folder = Join-Path $image "$($k.Under)/$($k.Release)"
            $null = New-Item -ItemType Directory -Path $folder -Force
            Set-Content "$folder/modules.dep" -Value 'kernel/net/netfilter/nf_conntrack.ko: kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko kernel/lib/libcrc32c.ko'
            Set-Content "$folder/modules.builtin" -Value 'kernel/fs/ext4/ext4.ko'
            Set-Content "$image/boot/config-$($k.Release)" -Value 'CONFIG_64BIT=y', 'CONFIG_NF_CONNTRACK=m', 'CONFIG_NF_CONNTRACK_PROCFS=y'
        }
        $image
    }
}

Describe 'An image root' {
    BeforeEach {
        $script:image = New-ImageTree
    }

    It 'is an Image with the newest installed kernel, said without warnings' {
        $kernel = Get-ConntrackKernel -Root $image -WarningVariable warnings
        $warnings | Should -BeNullOrEmpty
        $kernel.RootKind | Should -Be 'Image'
        $kernel.KernelRelease | Should -Be '6.1.0-50-amd64'
        $kernel.KernelReleaseSource | Should -Be "$image/usr/lib/modules/6.1.0-50-amd64 (the newest of 2 installed kernels)"
        $kernel.InstalledKernelReleases | Should -Be @('6.1.0-50-amd64', '6.1.0-9-amd64')
        $kernel.ModuleState | Should -Be 'Module'
        $kernel.HasProcfs | Should -BeTrue
        (Get-ConntrackKernel -Root $image -KernelRelease '6.1.0-9-amd64').KernelReleaseSource | Should -BeLike '*(chosen with -KernelRelease)'
    }

    It 'refuses a -KernelRelease the image does not have, naming the installed ones' {
        Get-ConntrackKernel -Root $image -KernelRelease '5.10.0-32-amd64' -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'KernelReleaseNotInstalled,ConntrackTuning.Commands.GetConntrackKernelCommand'
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].Exception.Message | Should -Match '6\.1\.0-50-amd64, 6\.1\.0-9-amd64'
    }

    It 'completes -KernelRelease with the kernels installed under -Root' {
        $line = "Get-ConntrackLimit -Root '$image' -KernelRelease 6.1.0-5"
        $completions = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText
        $completions | Should -Be @('6.1.0-50-amd64')
    }

    It 'predicts the next boot: a hand-written max for a module loaded late is lost, the default for -MemoryBytes applies' {
        Set-Content "$image/etc/sysctl.d/50-x.conf" -Value 'net.netfilter.nf_conntrack_max = 131072'
        $limit = Get-ConntrackLimit -Root $image -MemoryBytes 1GB
        $limit.RootKind | Should -Be 'Image'
        $limit.Max | Should -BeNullOrEmpty
        $limit.LoadedBeforeSysctl | Should -BeFalse
        $limit.SkippedAtBoot | Should -Match '50-x\.conf:1'
        $limit.NextBootMax | Should -Be 8192
        $limit.NextBootHashSize | Should -Be 8192
        (Get-ConntrackLimit -Root $image).DefaultRule | Should -Match '1 GiB: max 8192'
        $finding = Test-ConntrackHealth -Root $image | Where-Object Check -EQ BootOrder
        $finding.Severity | Should -Be 'Warning'
        $finding.Recommendation | Should -Be "Set-ConntrackLimit -Root '$image' -Max 131072 -PersistOnly"
    }

    It 'shows an image in a table of what its next boot applies, not of the running values it has none of' {
        Set-Content "$image/etc/sysctl.d/50-x.conf" -Value 'net.netfilter.nf_conntrack_max = 131072'
        $lines = @((Get-ConntrackLimit -Root $image | Out-String -Width 200) -split "`r?`n" | Where-Object { $_.Trim() })
        $lines[0] -split '\s+' | Where-Object { $_ } | Should -Be 'KernelRelease', 'NextBootMax', 'NextBootHashSize', 'LoadedBeforeSysctl', 'SkippedAtBoot'
        $lines[2] -split '\s+' | Where-Object { $_ } | Should -Be '6.1.0-50-amd64', 'by', 'RAM', 'by', 'RAM', 'False', '1'
        $sized = @((Get-ConntrackLimit -Root $image -MemoryBytes 1GB | Out-String -Width 200) -split "`r?`n" | Where-Object { $_.Trim() })
        $sized[2] -split '\s+' | Where-Object { $_ } | Should -Be '6.1.0-50-amd64', '8192', '8192', 'False', '1'
        # A capture keeps the running values' table.
        $capture = @((Get-ConntrackLimit -Root (Copy-Fixture linux-6.18-builtin) | Out-String -Width 200) -split "`r?`n" | Where-Object { $_.Trim() })
        $capture[0] | Should -Match '^\s*Max\s+Count\s+Usage %'
        (Get-ConntrackLimit -Root $image) | Should -BeOfType ([ConntrackTuning.ConntrackLimit])
    }

    It 'takes -PersistOnly, after which the next boot applies the value, and refuses a run-time change' {
        Set-ConntrackLimit -Root $image -Max 131072 -ErrorAction SilentlyContinue -ErrorVariable err
        $err[0].FullyQualifiedErrorId | Should -Be 'NoRunningKernel,ConntrackTuning.Commands.SetConntrackLimitCommand'
        $err[0].ErrorDetails.RecommendedAction | Should -Match '-PersistOnly'
        Test-Path "$image/etc/sysctl.d/90-conntrack-tuning.conf" | Should -BeFalse
        Set-ConntrackLimit -Root $image -Max 131072 -PersistOnly
        Get-Content "$image/etc/modules-load.d/conntrack-tuning.conf" | Should -Contain 'nf_conntrack'
        $limit = Get-ConntrackLimit -Root $image
        $limit.LoadedBeforeSysctl | Should -BeTrue
        $limit.NextBootMax | Should -Be 131072
        $limit.NextBootMaxSource | Should -BeLike "$image/etc/sysctl.d/90-conntrack-tuning.conf:*"
    }

    It 'refuses a timeout the kernel does not have under -PersistOnly with TimeoutNotFound and its timeouts, not with "add -PersistOnly"' -ForEach @(
        @{ Protocol = 'tcp'; State = 'establised' }
        @{ Protocol = 'tcp'; State = $null }
    ) {
        Set-ConntrackTimeout -Root $image -Protocol $Protocol -State $State -Seconds 1200 -PersistOnly -ErrorAction SilentlyContinue -ErrorVariable err
        $err[0].FullyQualifiedErrorId | Should -Be 'TimeoutNotFound,ConntrackTuning.Commands.SetConntrackTimeoutCommand'
        $err[0].Exception.Message | Should -Match 'It has: .*tcp established'
        Test-Path "$image/etc/sysctl.d/90-conntrack-tuning.conf" | Should -BeFalse
        Set-ConntrackTimeout -Root $image -Protocol tcp -State established -Seconds 1200 -PersistOnly
        Get-Content "$image/etc/sysctl.d/90-conntrack-tuning.conf" | Should -Contain 'net.netfilter.nf_conntrack_tcp_timeout_established = 1200'
    }

    It 'plans for the machine the image will run on' {
        $r = Get-ConntrackRecommendation -Root $image -MemoryBytes 8GB -Profile KernelDefault -WarningAction SilentlyContinue
        $r.Max | Should -Be 262144
        $r.HashSize | Should -Be 262144
    }
}
