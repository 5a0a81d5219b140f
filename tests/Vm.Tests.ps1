# The real-kernel VM tier: Debian's own kernels (bullseye 5.10, bookworm 6.1, trixie 6.12) booted in QEMU (TCG).
# The kernel is the oracle: what it printed is rebuilt as root trees, and the module must read and predict each
# exactly; real images built with mmdebstrap prove the boot-order trap and the -PersistOnly writes by booting.
# Everything downloaded and built is cached under $env:CT_VM_CACHE (default /var/cache/conntracktuning-vm).
# Run alone: ./build.ps1 -Task Test -Tag Vm; the opt-in test of pwsh inside a guest: ./build.ps1 -Task Test -Tag VmGuest
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'vm/VmTier.ps1')
    $script:vmSkip = Get-VmSkipReason
    $script:suites = 'bullseye', 'bookworm', 'trixie'
    $script:memories = '256M', '1G', '3G'
    $script:captureCases = foreach ($s in $suites) { foreach ($m in $memories) { @{ Suite = $s; Memory = $m } } }
    # Real boots prove all three claims on bookworm (systemd 252, kernel 6.1) and trixie (systemd 257, kernel 6.12).
    $script:bootSuites = @(@{ Suite = 'bookworm' }, @{ Suite = 'trixie' })
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
        # Links (Debian's 99-sysctl.conf points at sysctl.conf) are not the module's files.
        $written = Get-ChildItem -Recurse -File $config | Where-Object { -not $_.LinkType } | Get-FileHash
        $again = @(
            Set-ConntrackLimit -Root $tree -Max 131072 -PersistOnly -PassThru
            Set-ConntrackHashSize -Root $tree -HashSize 32768 -PersistOnly -PassThru
            Set-ConntrackTimeout -Root $tree -Protocol tcp -State established -Seconds 1200 -PersistOnly -PassThru)
        $again.Changed | Should -Not -Contain $true
        (Get-ChildItem -Recurse -File $config | Where-Object { -not $_.LinkType } | Get-FileHash).Hash | Should -Be $written.Hash
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

    It 'an override the module reports (PersistenceOverridden) really overrides at boot' {
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

# pwsh inside a booted guest: the live paths of a loadable tracker (the module parameter of a loaded module, -Persist
# with modules-load.d) that this machine's built-in tracker cannot show. One boot runs the module under the host's
# own pwsh and .NET runtime copied into the image; a second boot of the same disk (a power cycle) shows what the
# files it wrote apply. Opt-in, since it would take the cached tier past 6 minutes (77 to 128 s on this shared
# 2-core machine: a first boot of 52 to 90 s, of which pwsh's start-up is 19 to 42 s, and a second of 17 to 29 s;
# tests/vm/README.md has every figure): ./build.ps1 -Task Test -Tag VmGuest
Describe 'pwsh inside a booted bookworm guest' -Tag VmGuest -Skip:([bool]$vmSkip) {
    BeforeAll {
        $line = Invoke-VmStep -Name 'image bookworm (mmdebstrap)' -Script 'image.sh' -ArgumentList 'bookworm'
        $null, $image, $script:release = ($line | Select-Object -Last 1) -split ' ', 3
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $script:guestTree = New-VmGuestTree -Image $image -ModulePath $ModulePath
        $VmTimings.Add([pscustomobject]@{ Step = 'guest tree (image copy, .NET runtime, pwsh, module)'; Seconds = [math]::Round($watch.Elapsed.TotalSeconds, 1) })
        $first = Join-Path $TestDrive 'guest-boot1.log'
        $second = Join-Path $TestDrive 'guest-boot2.log'
        # pwsh JIT-compiles under TCG: 2 GiB leave it room beside the page cache. Its first boot took up to 90 s on a
        # loaded host here, so each boot gets 10 minutes before it counts as stalled instead of the tier's 5.
        $savedTimeout = $env:VM_TIMEOUT
        try {
            $env:VM_TIMEOUT = '600'
            $boots = Invoke-VmStep -Name 'boot bookworm guest: pwsh run, power cycle, second boot' -Script 'boot.sh' -ArgumentList $guestTree, '2G', $first, $second
        }
        finally { $env:VM_TIMEOUT = $savedTimeout }
        # "boot <n> <seconds>" per boot; after a retried sequence the last figure of each boot is the one that counted.
        $perBoot = [ordered]@{}
        foreach ($b in $boots | Where-Object { $_ -match '^boot \d+ [\d.]+$' }) { $perBoot[($b -split ' ')[1]] = [double]($b -split ' ')[2] }
        foreach ($n in $perBoot.Keys) {
            Add-VmPartTiming -Step "boot $n ($(if ($n -eq '1') { 'systemd, modprobe, pwsh and the cmdlets' } else { 'systemd, ct-report' }))" -Seconds $perBoot[$n]
        }
        $script:live = Read-VmReport $first
        $script:rebooted = Read-VmReport $second
        $figures = [ordered]@{
            pwsh_total = 'in the guest: the pwsh process'; pwsh_start = 'in the guest: pwsh start-up (to the first line of the script)'
            import = 'in the guest: Import-Module ConntrackTuning'; kernel = 'in the guest: Get-ConntrackKernel'
            limit = 'in the guest: Set-ConntrackLimit -Max 131072 -Persist'; hash = 'in the guest: Set-ConntrackHashSize -HashSize 100000 -Persist'
            limit_rerun = 'in the guest: Set-ConntrackLimit rerun'; hash_rerun = 'in the guest: Set-ConntrackHashSize rerun'
            read = 'in the guest: Get-ConntrackLimit'
        }
        foreach ($figure in $figures.Keys) {
            $value = $live.PSObject.Properties["${figure}_ms"]
            if ($value) { Add-VmPartTiming -Step $figures[$figure] -Seconds ([double]$value.Value / 1000) }
        }
        # Everything the guest printed, for a failing assertion to point at.
        $script:errorsSeen = ($live.PSObject.Properties | Where-Object Name -Like '*_error' | ForEach-Object { "$($_.Name): $($_.Value)" }) -join '; '
    }

    AfterAll {
        if ($guestTree) { Remove-Item $guestTree -Recurse -Force -ErrorAction Ignore }
    }

    It 'pwsh starts in the guest on the copied .NET runtime and runs the module without an error' {
        $live.release | Should -Be $release
        $live.pwsh_exit | Should -Be '0'
        $live.failures | Should -Be '0' -Because $errorsSeen
        $live.pwsh_version | Should -Be $PSVersionTable.PSVersion.ToString()
        $live.kernel_root_kind | Should -Be 'Live'
        $live.kernel_release | Should -Be $release
        $live.kernel_module_state | Should -Be 'Module'
        $live.loaded_before_report | Should -Be 'no' -Because 'nothing loads nf_conntrack before ct-guest does'
    }

    It 'Set-ConntrackHashSize resizes the loaded module through sys/module/nf_conntrack/parameters/hashsize, and reports the size the kernel rounded to' {
        $live.hash_path | Should -Be '/sys/module/nf_conntrack/parameters/hashsize'
        $live.hash_old | Should -Be $live.hashsize_before
        [long]$live.hashsize_before | Should -Not -Be 100352 -Because 'the resize must be a real change'
        # 100000 heads of 8 bytes, rounded up to whole 4 KiB pages: 100352, as the kernel itself reports.
        $live.hashsize_after | Should -Be '100352'
        $live.buckets_after | Should -Be '100352'
        $live.hash_new | Should -Be $live.hashsize_after
        $live.hash_runtime_changed | Should -Be 'True'
        $live.hash_persisted_to | Should -Be '/etc/modprobe.d/conntrack-tuning.conf'
        $live.file_modprobe | Should -Match 'options nf_conntrack hashsize=100352'
        $live.max_after | Should -Be '131072' -Because 'a resize never changes the max'
    }

    It 'Set-ConntrackLimit -Max 131072 -Persist applies at once and persists with the module listed for early loading' {
        $live.limit_path | Should -Be '/proc/sys/net/netfilter/nf_conntrack_max'
        $live.limit_mode | Should -Be 'RuntimeAndPersistent'
        $live.limit_old | Should -Be $live.max_before
        [long]$live.max_before | Should -Not -Be 131072
        $live.limit_new | Should -Be '131072'
        $live.limit_runtime_changed | Should -Be 'True'
        $live.limit_persisted_to -split ',' | Should -Contain '/etc/sysctl.d/90-conntrack-tuning.conf'
        $live.file_sysctl | Should -Match 'net\.netfilter\.nf_conntrack_max = 131072'
        $live.file_modules_load | Should -Match '(^|\|)nf_conntrack(\||$)'
    }

    It 'a rerun of both changes nothing, and Get-ConntrackLimit reads the new values live' {
        $live.limit_rerun_changed | Should -Be 'False'
        $live.hash_rerun_changed | Should -Be 'False'
        $live.read_max | Should -Be '131072'
        $live.read_hash | Should -Be '100352'
        $live.read_next_max | Should -Be '131072'
        $live.read_next_hash | Should -Be '100352'
        $live.read_persisted_max | Should -Be '131072'
        $live.read_persisted_max_source | Should -Match '^/etc/sysctl\.d/90-conntrack-tuning\.conf'
        $live.read_persisted_hash | Should -Be '100352'
        $live.read_persisted_hash_source | Should -Match '^/etc/modprobe\.d/conntrack-tuning\.conf'
        $live.read_drift | Should -Be 'False'
    }

    It 'a reboot keeps both: modules-load.d loads nf_conntrack before systemd-sysctl, which applies the max; the module option sets the hash size' {
        $rebooted.release | Should -Be $release
        $rebooted.systemd_sysctl | Should -Be 'active'
        $rebooted.loaded_before_report | Should -Be 'yes'
        $rebooted.max | Should -Be '131072'
        $rebooted.hashsize | Should -Be '100352'
        $rebooted.buckets | Should -Be '100352'
    }
}
