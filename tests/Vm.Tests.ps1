# The real-kernel VM tier: Debian's own kernels (bullseye 5.10, bookworm 6.1, trixie 6.12) booted in QEMU (TCG).
# The kernel is the oracle: what it printed is rebuilt as root trees, and the module must read and predict each
# exactly; real images built with mmdebstrap prove the boot-order trap and the -PersistOnly writes by booting.
# Everything downloaded and built is cached under $env:CT_VM_CACHE (default /var/cache/conntracktuning-vm).
# Run alone: ./build.ps1 -Task Test -Tag Vm
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'vm/VmTier.ps1')
    $script:vmSkip = Get-VmSkipReason
    $script:suites = 'bullseye', 'bookworm', 'trixie'
    $script:memories = '256M', '1G', '3G'
    $script:captureCases = foreach ($s in $suites) { foreach ($m in $memories) { @{ Suite = $s; Memory = $m } } }
    # Real boots: bookworm proves all three claims, trixie (systemd 257, kernel 6.12) the trap and the writes.
    $script:bootSuites = @(@{ Suite = 'bookworm'; Override = $true }, @{ Suite = 'trixie'; Override = $false })
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'vm/VmTier.ps1')
    $script:vmSkip = Get-VmSkipReason
    $script:hashAsked = 100000
}

AfterAll {
    if (-not $vmSkip) { Write-VmTiming }
}

Describe 'Captures of real kernels' -Tag Vm -Skip:([bool]$vmSkip) {
    BeforeAll {
        $script:kernels = @(Get-VmKernel)
        $script:work = Join-Path $TestDrive 'captures'
        $null = New-Item -ItemType Directory -Path $work
        $script:trees = @{}
        foreach ($k in $kernels) {
            $logs = Join-Path $work "logs-$($k.Suite)"
            $null = Invoke-VmStep -Name "captures of $($k.Release) ($($memories -join ', '))" -Script 'capture.sh' -ArgumentList (@($k.Folder, $logs, $hashAsked) + $memories)
            foreach ($m in $memories) {
                foreach ($t in ConvertFrom-VmCaptureLog -Path (Join-Path $logs "$($k.Release)_$m.log") -Destination $work -Prefix "$($k.Suite)-$m") {
                    $trees["$($k.Suite)/$m/$(if ($t.HashSizeAsked) { 'hashsize' } else { 'plain' })"] = $t.Root
                }
            }
        }
    }

    It '<suite> with <memory>: Get-ConntrackKernel reads the release, the module and MemTotal the kernel printed' -ForEach $captureCases {
        $kernel = $kernels | Where-Object Suite -EQ $suite
        foreach ($variant in 'plain', 'hashsize') {
            $root = $trees["$suite/$memory/$variant"]
            $root | Should -Not -BeNullOrEmpty -Because "the $variant capture of $suite at $memory was printed"
            $k = Get-ConntrackKernel -Root $root
            $k.RootKind | Should -Be 'Capture'
            $k.KernelRelease | Should -Be $kernel.Release
            $k.Tracker | Should -Be 'nf_conntrack'
            $k.ModuleState | Should -Be 'Module'
            $memKb = [long](((Get-Content (Join-Path $root 'proc/meminfo') | Select-String '^MemTotal:').Line -split '\s+')[1])
            $k.MemoryBytes | Should -Be ($memKb * 1024)
            $k.Era | Should -Be $(if ($suite -eq 'bullseye') { '4.9-nf_conntrack' } else { '5.15-nf_conntrack' })
        }
    }

    It '<suite> with <memory>: the kernel default it chose is what Get-ConntrackRecommendation -Profile KernelDefault and Get-ConntrackLimit predict' -ForEach $captureCases {
        $root = $trees["$suite/$memory/plain"]
        $realMax = Get-VmValue $root 'proc/sys/net/netfilter/nf_conntrack_max'
        $realHash = Get-VmValue $root 'sys/module/nf_conntrack/parameters/hashsize'
        (Get-VmValue $root 'proc/sys/net/netfilter/nf_conntrack_buckets') | Should -Be $realHash
        $limit = Get-ConntrackLimit -Root $root
        $limit.Max | Should -Be $realMax
        $limit.HashSize | Should -Be $realHash
        $limit.Count | Should -Be 0
        $limit.NextBootMax | Should -Be $realMax -Because 'nothing persists a value, so the next load applies the default again'
        $limit.NextBootHashSize | Should -Be $realHash
        $limit.Drift | Should -BeFalse
        $default = Get-ConntrackRecommendation -Root $root -Profile KernelDefault -WarningAction SilentlyContinue
        $default.Max | Should -Be $realMax
        $default.HashSize | Should -Be $realHash
    }

    It '<suite> with <memory>: loaded with hashsize=100000, the kernel rounds it and sets max to 8 x, as Get-ConntrackLimit predicts from the modprobe option' -ForEach $captureCases {
        $root = $trees["$suite/$memory/hashsize"]
        $realMax = Get-VmValue $root 'proc/sys/net/netfilter/nf_conntrack_max'
        $realHash = Get-VmValue $root 'sys/module/nf_conntrack/parameters/hashsize'
        $realHash | Should -BeGreaterOrEqual $hashAsked
        $null = New-Item -ItemType Directory -Path (Join-Path $root 'etc/modprobe.d') -Force
        Set-Content -Path (Join-Path $root 'etc/modprobe.d/conntrack.conf') -Value "options nf_conntrack hashsize=$hashAsked"
        $limit = Get-ConntrackLimit -Root $root
        $limit.Max | Should -Be $realMax
        $limit.HashSize | Should -Be $realHash
        $limit.NextBootHashSize | Should -Be $realHash -Because 'the module option is rounded as this kernel rounds it'
        $limit.NextBootMax | Should -Be $realMax
        $limit.Drift | Should -BeFalse
    }
}

Describe 'Real boots of a <suite> image' -Tag Vm -Skip:([bool]$vmSkip) -ForEach $bootSuites {
    BeforeAll {
        $line = Invoke-VmStep -Name "image $suite (mmdebstrap)" -Script 'image.sh' -ArgumentList $suite
        $null, $script:image, $script:release = ($line | Select-Object -Last 1) -split ' ', 3
        $script:scratch = [System.Collections.Generic.List[string]]::new()
        function script:Start-VmBoot([string] $tree, [string] $name) {
            $log = Join-Path $TestDrive "$suite-$name.log"
            $null = Invoke-VmStep -Name "boot ${suite}: $name" -Script 'boot.sh' -ArgumentList $tree, '1G', $log
            Read-VmReport $log
        }
    }

    AfterAll {
        foreach ($tree in $scratch) { Remove-Item $tree -Recurse -Force -ErrorAction Ignore }
    }

    It 'reads the image as an Image with its installed kernel, a loadable nf_conntrack, and no noise' {
        $kernel = Get-ConntrackKernel -Root $image -WarningVariable warnings
        $warnings | Should -BeNullOrEmpty
        $kernel.RootKind | Should -Be 'Image'
        $kernel.KernelRelease | Should -Be $release
        $kernel.InstalledKernelReleases | Should -Be @($release)
        $kernel.ModuleState | Should -Be 'Module'
        $kernel.ModuleStateSource | Should -Match 'modules\.dep'
        $kernel.HasProcfs | Should -BeTrue
        $kernel.CanSetMax | Should -BeFalse
        $kernel.MaxReadOnlyReason | Should -Match '-PersistOnly'
    }

    It 'the trap is real: a hand-written sysctl.d max is lost at boot, as Test-ConntrackHealth and Get-ConntrackLimit said before it' {
        $tree = Copy-VmImage $image 'trap'; $scratch.Add($tree)
        # trixie's base system has no etc/sysctl.d of its own (its defaults live in usr/lib/sysctl.d).
        $null = New-Item -ItemType Directory -Force -Path (Join-Path $tree 'etc/sysctl.d')
        Set-Content -Path (Join-Path $tree 'etc/sysctl.d/50-x.conf') -Value 'net.netfilter.nf_conntrack_max = 131072'
        $finding = Test-ConntrackHealth -Root $tree | Where-Object Check -EQ 'BootOrder'
        $finding.Severity | Should -Be 'Warning'
        $finding.Message | Should -Match 'skipped at boot'
        $finding.Recommendation | Should -Be "Set-ConntrackLimit -Root '$tree' -Max 131072 -PersistOnly"
        $predicted = Get-ConntrackLimit -Root $tree
        $predicted.LoadedBeforeSysctl | Should -BeFalse
        $predicted.SkippedAtBoot | Should -Match '50-x\.conf:1'
        $predicted.NextBootMax | Should -BeNullOrEmpty -Because 'without -MemoryBytes the default is only described'
        $predicted.DefaultRule | Should -Match '1 GiB: max'

        $report = Start-VmBoot $tree 'trap'
        $report.release | Should -Be $release
        $report.loaded_before_report | Should -Be 'no'
        $report.systemd_sysctl | Should -Be 'active'
        [long]$report.max | Should -Not -Be 131072
        # The value that came up instead is the kernel's default for the RAM this boot had.
        $memory = [long]$report.memtotal_kb * 1024
        [long]$report.max | Should -Be (Get-ConntrackLimit -Root $tree -MemoryBytes $memory).NextBootMax
        [long]$report.hashsize | Should -Be (Get-ConntrackRecommendation -Root $tree -MemoryBytes $memory -Profile KernelDefault -WarningAction SilentlyContinue).HashSize
    }

    It 'the -PersistOnly writes (max, hash size, a timeout) are what the boot applies, as Get-ConntrackLimit predicted; a rerun changes nothing' {
        $tree = Copy-VmImage $image 'persist'; $scratch.Add($tree)
        Set-ConntrackLimit -Root $tree -Max 131072 -PersistOnly
        Set-ConntrackHashSize -Root $tree -HashSize 32768 -PersistOnly
        Set-ConntrackTimeout -Root $tree -Protocol tcp -State established -Seconds 1200 -PersistOnly
        # The boot configuration the module writes (etc/ also holds links into /proc, such as mtab).
        $config = 'etc/sysctl.d', 'etc/modprobe.d', 'etc/modules-load.d' | ForEach-Object { Join-Path $tree $_ } | Where-Object { Test-Path $_ }
        $written = Get-ChildItem -Recurse -File $config | Get-FileHash
        $again = @(
            Set-ConntrackLimit -Root $tree -Max 131072 -PersistOnly -PassThru
            Set-ConntrackHashSize -Root $tree -HashSize 32768 -PersistOnly -PassThru
            Set-ConntrackTimeout -Root $tree -Protocol tcp -State established -Seconds 1200 -PersistOnly -PassThru)
        $again.Changed | Should -Not -Contain $true
        (Get-ChildItem -Recurse -File $config | Get-FileHash).Hash | Should -Be $written.Hash
        $predicted = Get-ConntrackLimit -Root $tree
        $predicted.LoadedBeforeSysctl | Should -BeTrue
        $predicted.NextBootMax | Should -Be 131072
        $predicted.NextBootHashSize | Should -Be 32768
        (Test-ConntrackHealth -Root $tree | Where-Object Check -EQ 'BootOrder').Severity | Should -Be 'Ok'

        $report = Start-VmBoot $tree 'persist'
        $report.loaded_before_report | Should -Be 'yes' -Because 'modules-load.d loads it before systemd-sysctl'
        [long]$report.max | Should -Be $predicted.NextBootMax
        [long]$report.hashsize | Should -Be $predicted.NextBootHashSize
        [long]$report.buckets | Should -Be $predicted.NextBootHashSize
        [long]$report.tcp_timeout_established | Should -Be 1200
    }

    It 'an override the module reports (PersistenceOverridden) really overrides at boot' -Skip:(-not $override) {
        $tree = Copy-VmImage $image 'override'; $scratch.Add($tree)
        $null = New-Item -ItemType Directory -Force -Path (Join-Path $tree 'etc/sysctl.d')
        Set-Content -Path (Join-Path $tree 'etc/sysctl.d/99-override.conf') -Value 'net.netfilter.nf_conntrack_max = 65536'
        Set-ConntrackLimit -Root $tree -Max 131072 -PersistOnly -ErrorAction SilentlyContinue -ErrorVariable refused
        $refused[0].FullyQualifiedErrorId | Should -BeLike 'PersistenceOverridden,*'
        Test-Path (Join-Path $tree 'etc/sysctl.d/90-conntrack-tuning.conf') | Should -BeFalse -Because 'nothing is written when refused'
        Set-ConntrackLimit -Root $tree -Max 131072 -PersistOnly -Force -WarningAction SilentlyContinue
        $overrides = Test-ConntrackHealth -Root $tree | Where-Object Check -EQ 'Overrides'
        $overrides.Severity | Should -Be 'Warning'
        $overrides.Message | Should -Match '99-override\.conf'
        $predicted = Get-ConntrackLimit -Root $tree
        $predicted.NextBootMax | Should -Be 65536

        $report = Start-VmBoot $tree 'override'
        [long]$report.max | Should -Be 65536
        [long]$report.max | Should -Be $predicted.NextBootMax
    }
}
