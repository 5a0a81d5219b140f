BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
    $script:fixtures = Get-FixtureName | ForEach-Object { @{ Name = $_ } }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:own = 'etc/sysctl.d/90-conntrack-tuning.conf'
    # The error records a command writes (Common.ps1 sets $ErrorActionPreference to Stop for the tests).
    function Get-Err([scriptblock] $Command) {
        $ErrorActionPreference = 'Continue'
        @(& $Command 2>&1 | Where-Object { $_ -is [Management.Automation.ErrorRecord] })
    }
}

Describe 'Set-ConntrackLimit -WhatIf on every era' {
    It '<Name>: touches nothing, not even a timestamp or a lock file, and says what it would do' -ForEach $fixtures {
        $root = Copy-Fixture $Name
        $before = Get-TreeState $root
        $commands = @(
            { Set-ConntrackLimit -Root $root -Max 300000 -Persist -PassThru -WhatIf -Force -WarningAction SilentlyContinue }
            { Set-ConntrackHashSize -Root $root -HashSize 32768 -Persist -PassThru -WhatIf -Force -WarningAction SilentlyContinue }
            { Set-ConntrackTimeout -Root $root -Protocol tcp -State established -Seconds 1200 -Persist -PassThru -WhatIf -Force -WarningAction SilentlyContinue }
        )
        $outcomes = foreach ($command in $commands) {
            $ErrorActionPreference = 'Continue'
            $output = @(& $command 2>&1)
            $ErrorActionPreference = 'Stop'
            [pscustomobject]@{
                Records = @($output | Where-Object { $_ -is [ConntrackTuning.ConntrackChange] })
                Errors  = @($output | Where-Object { $_ -is [Management.Automation.ErrorRecord] })
            }
        }
        Get-TreeState $root | Should -Be $before
        # Each command either says what it would do, or says why it cannot: silence would hide a -WhatIf that skips its work.
        foreach ($outcome in $outcomes) {
            ($outcome.Records.Count + $outcome.Errors.Count) | Should -BeGreaterThan 0
            $outcome.Records | ForEach-Object { $_.Applied | Should -BeFalse }
        }
        $outcomes.Errors | ForEach-Object { $_.FullyQualifiedErrorId | Should -Not -Match '^(FileWriteFailed|WriteLockTimeout|UnsafeSymbolicLink),' }
        # Where the tracker runs and everything is writable, all three must say what they would do.
        if ($Name -in 'centos7-3.10-nf_conntrack', 'linux-6.18-builtin', 'rhel5-2.6.18-ip_conntrack', 'ubuntu-4.15-nf_conntrack', 'ubuntu-5.15-module-noprocfs') {
            $outcomes | ForEach-Object { $_.Records.Count | Should -Be 1; $_.Errors.Count | Should -Be 0 }
        }
        $record = $outcomes[0].Records | Select-Object -First 1
        if ($record) {
            $record.Changed | Should -BeTrue
            $record.NewValue | Should -Be 300000
            $record.PersistedTo | Should -Not -BeNullOrEmpty
        }
    }
}

Describe 'Set-ConntrackLimit on fixture trees' {
    It 'asks ShouldProcess with "nf_conntrack_max: old -> new" and the files it will write' {
        $root = Copy-Fixture ubuntu-4.15-nf_conntrack
        # ShouldProcess writes its description to the verbose stream when -Verbose is given (under -WhatIf it goes to the host).
        $out = (Set-ConntrackLimit -Root $root -Max 300000 -Persist -Verbose 4>&1).Message -join "`n"
        $out | Should -Match ([regex]::Escape("nf_conntrack_max: 262144 -> 300000; write $root/$own, $root/etc/modules-load.d/conntrack-tuning.conf"))
    }

    It 'under -Confirm changes nothing when the user answers No, and applies on Yes' {
        # A child pwsh with the answer on its standard input: the console host reads the prompt's answer from there.
        $root = Copy-Fixture ubuntu-4.15-nf_conntrack
        $script = Join-Path $TestDrive 'confirm.ps1'
        Set-Content $script @"
Import-Module '$ModulePath'
Set-ConntrackLimit -Root '$root' -Max 300000 -Persist -Confirm -PassThru -WarningAction SilentlyContinue | ForEach-Object { "Applied=`$(`$_.Applied)" }
"@
        $pwsh = Get-PwshCommand
        $before = Get-TreeState $root
        $no = 'N' | & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -File $script 2>&1
        ($no -join "`n") | Should -Match ([regex]::Escape('Change nf_conntrack_max: 262144 -> 300000; write'))
        ($no -join "`n") | Should -Match 'Applied=False'
        Get-TreeState $root | Should -Be $before

        $yes = 'Y' | & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -File $script 2>&1
        ($yes -join "`n") | Should -Match 'Applied=True'
        Get-Content "$root/proc/sys/net/netfilter/nf_conntrack_max" | Should -Be '300000'
        Get-Content "$root/$own" | Select-Object -Last 1 | Should -Be 'net.netfilter.nf_conntrack_max = 300000'
    }

    It 'writes the run-time file and the era key, and a rerun reports Changed = False' {
        $root = Copy-Fixture rhel6-2.6.32-nf_conntrack
        $first = Set-ConntrackLimit -Root $root -Max 300000 -Persist -PassThru -WarningAction SilentlyContinue
        $first.Changed | Should -BeTrue
        $first.Applied | Should -BeTrue
        $first.OldValue | Should -Be 65536
        $first.NewValue | Should -Be 300000
        $first.Mode | Should -Be 'RuntimeAndPersistent'
        $first.Key | Should -Be 'net.netfilter.nf_conntrack_max'
        $first.PersistedTo | Should -Be @("$root/etc/sysctl.conf")
        $first.NextBootValue | Should -Be 300000
        $first.Files[0].Action | Should -Be 'Update'
        Get-Content "$root/proc/sys/net/netfilter/nf_conntrack_max" | Should -Be '300000'
        (Get-Content "$root/etc/sysctl.conf")[-1] | Should -Be 'net.netfilter.nf_conntrack_max = 300000'

        $second = Set-ConntrackLimit -Root $root -Max 300000 -Persist -PassThru -WarningAction SilentlyContinue
        $second.Changed | Should -BeFalse
        $second.RuntimeChanged | Should -BeFalse
        $second.PersistenceChanged | Should -BeFalse
        $second.Files[0].Action | Should -Be 'None'
    }

    It 'keeps comments and every other line of sysctl.conf byte for byte, CRLF and UTF-8 included' {
        $root = Copy-Fixture rhel5-2.6.18-ip_conntrack
        $text = "# 默认超时时间为5天`r`nnet.ipv4.netfilter.ip_conntrack_max = 655350`r`n#net.ipv4.netfilter.ip_conntrack_max = 1`r`n  net/ipv4/netfilter/ip_conntrack_max=1 `r`nkernel.sysrq = 0"
        [IO.File]::WriteAllText("$root/etc/sysctl.conf", $text)
        Set-ConntrackLimit -Root $root -Max 300000 -Persist -WarningAction SilentlyContinue
        [IO.File]::ReadAllText("$root/etc/sysctl.conf") | Should -BeExactly ("# 默认超时时间为5天`r`nnet.ipv4.netfilter.ip_conntrack_max = 300000`r`n#net.ipv4.netfilter.ip_conntrack_max = 1`r`n  net/ipv4/netfilter/ip_conntrack_max=300000 `r`nkernel.sysrq = 0")
    }

    It 'with -PersistOnly writes only the configuration (for building images), even with no tracker loaded' {
        $root = Copy-Fixture debian-5.10-no-conntrack
        $record = Set-ConntrackLimit -Root $root -Max 300000 -PersistOnly -PassThru -Verbose 4>&1 | Tee-Object -Variable stream | Where-Object { $_ -is [ConntrackTuning.ConntrackChange] }
        $record.Mode | Should -Be 'PersistentOnly'
        $record.Path | Should -BeNullOrEmpty
        $record.OldValue | Should -BeNullOrEmpty
        Get-Content "$root/$own" | Select-Object -Last 1 | Should -Be 'net.netfilter.nf_conntrack_max = 300000'
        Get-Content "$root/etc/modules-load.d/conntrack-tuning.conf" | Select-Object -Last 1 | Should -Be 'nf_conntrack'
        # The boot-order trap is explained on the verbose stream.
        ($stream | Where-Object { $_ -is [Management.Automation.VerboseRecord] }).Message -join "`n" | Should -Match 'systemd-sysctl applies .* before a firewall rule loads nf_conntrack'
    }

    It 'refuses -Persist together with -PersistOnly' {
        $root = Copy-Fixture linux-6.18-builtin
        { Set-ConntrackLimit -Root $root -Max 300000 -Persist -PersistOnly } | Should -Throw -ErrorId 'AmbiguousParameterSet,ConntrackTuning.Commands.SetConntrackLimitCommand'
    }

    It 'binds Max and Root by property name: Get-ConntrackRecommendation | Set-ConntrackLimit -Persist' {
        $a = Copy-Fixture ubuntu-4.15-nf_conntrack
        $b = Copy-Fixture centos7-3.10-nf_conntrack
        # Stand-ins for Get-ConntrackRecommendation output: Max and HashSize are long, Root says where.
        $records = @(
            [pscustomobject]@{ Profile = 'Balanced'; Max = [long]524288; HashSize = [long]262144; Root = $a }
            [pscustomobject]@{ Profile = 'Balanced'; Max = [long]131072; HashSize = [long]65536; Root = $b }
        ) | Set-ConntrackLimit -Persist -PassThru -WarningAction SilentlyContinue
        $records.NewValue | Should -Be @(524288, 131072)
        Get-Content "$a/proc/sys/net/netfilter/nf_conntrack_max" | Should -Be '524288'
        Get-Content "$b/$own" | Select-Object -Last 1 | Should -Be 'net.netfilter.nf_conntrack_max = 131072'
        [pscustomobject]@{ HashSize = [long]65536; Root = $b } | Set-ConntrackHashSize -Persist -PassThru | ForEach-Object NewValue | Should -Be 65536
    }

    It 'applies the real Get-ConntrackRecommendation to the system it was made for' {
        $root = Copy-Fixture ubuntu-4.15-nf_conntrack
        $recommendation = Get-ConntrackRecommendation -Root $root
        $limit = $recommendation | Set-ConntrackLimit -Persist -PassThru
        $hash = $recommendation | Set-ConntrackHashSize -Persist -PassThru
        $limit.NewValue | Should -Be $recommendation.Max
        $hash.NewValue | Should -Be $recommendation.HashSize
        $limit.Root | Should -Be $root
        $after = Get-ConntrackLimit -Root $root
        $after.Max | Should -Be $recommendation.Max
        $after.HashSize | Should -Be $recommendation.HashSize
        $after.PersistedMax | Should -Be $recommendation.Max
        $after.PersistedHashSize | Should -Be $recommendation.HashSize
        $after.Drift | Should -BeFalse
    }

    It 'refuses a plan made for no machine unless -Root says where to apply it' {
        $plan = Get-ConntrackRecommendation -MemoryBytes 512MB -PointerBits 32 -KernelVersion 2.6.5 -Profile KernelDefault
        $plan.Root | Should -BeNullOrEmpty
        { $plan | Set-ConntrackLimit -WhatIf } | Should -Throw -ErrorId 'ParameterArgumentValidationError,ConntrackTuning.Commands.SetConntrackLimitCommand'
        $root = Copy-Fixture linux-6.18-builtin
        ($plan | Set-ConntrackLimit -Root $root -PassThru).NewValue | Should -Be 32768
    }

    It 'does not take -Root from a bare string in the pipeline' {
        $attribute = (Get-Command Set-ConntrackLimit).Parameters['Root'].Attributes.Where({ $_ -is [Parameter] })
        $attribute.ValueFromPipeline | Should -Be $false
        $attribute.ValueFromPipelineByPropertyName | Should -Be $true
    }

    It 'rejects <Value> with a parameter error and writes nothing' -ForEach @(
        @{ Value = 0; Id = 'ParameterArgumentValidationError' }
        @{ Value = -5; Id = 'ParameterArgumentValidationError' }
        @{ Value = 2147483648; Id = 'ParameterArgumentValidationError' }
        @{ Value = 'lots'; Id = 'CannotConvertArgumentNoMessage' }
    ) {
        $root = Copy-Fixture linux-6.18-builtin
        $before = Get-TreeState $root
        { Set-ConntrackLimit -Root $root -Max $Value -Persist } | Should -Throw -ErrorId "$Id,ConntrackTuning.Commands.SetConntrackLimitCommand"
        Get-TreeState $root | Should -Be $before
    }

    It 'gives <Id> (<Category>) naming <Target>, and changes nothing' -ForEach @(
        @{ Fixture = 'netns-6.18'; Max = 300000; Id = 'HostOwnedSetting'; Category = 'PermissionDenied'; Target = 'proc/sys/net/netfilter/nf_conntrack_max' }
        @{ Fixture = 'sosreport-rhel8-4.18'; Max = 300000; Id = 'SettingReadOnly'; Category = 'PermissionDenied'; Target = 'proc/sys/net/netfilter/nf_conntrack_max' }
        @{ Fixture = 'ubuntu-4.15-nf_conntrack'; Max = 1000; Id = 'MaxBelowCount'; Category = 'InvalidOperation'; Target = 'proc/sys/net/netfilter/nf_conntrack_max' }
        @{ Fixture = 'linux-2.4.27-netfilter'; Max = 1000000; Id = 'MaxExceedsMemory'; Category = 'LimitsExceeded'; Target = $null }
        @{ Fixture = 'debian-5.10-no-conntrack'; Max = 300000; Id = 'ConntrackNotLoaded'; Category = 'ResourceUnavailable'; Target = '' }
    ) {
        $root = Copy-Fixture $Fixture
        $before = Get-TreeState $root
        $err = Get-Err { Set-ConntrackLimit -Root $root -Max $Max -Persist }
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be "$Id,ConntrackTuning.Commands.SetConntrackLimitCommand"
        $err[0].CategoryInfo.Category | Should -Be $Category
        $expected = if ($null -eq $Target) { "$Max" } elseif ($Target) { "$root/$Target" } else { $root }
        $err[0].TargetObject | Should -Be $expected
        $err[0].ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
        Get-TreeState $root | Should -Be $before
    }

    It 'goes ahead with -Force where it refused a max below the count' {
        $root = Copy-Fixture ubuntu-4.15-nf_conntrack
        (Set-ConntrackLimit -Root $root -Max 1000 -Force -PassThru).NewValue | Should -Be 1000
    }

    It 'gives PersistenceOverridden naming the later file that would win at boot' {
        $root = Copy-Fixture centos7-3.10-nf_conntrack
        Add-Content "$root/etc/sysctl.conf" 'net.netfilter.nf_conntrack_max = 655360'
        $before = Get-TreeState $root
        $err = Get-Err { Set-ConntrackLimit -Root $root -Max 300000 -Persist }
        $err[0].FullyQualifiedErrorId | Should -Be 'PersistenceOverridden,ConntrackTuning.Commands.SetConntrackLimitCommand'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $err[0].TargetObject | Should -Be "$root/etc/sysctl.conf"
        $err[0].Exception.Message | Should -Match 'sysctl.conf:11 sets net.netfilter.nf_conntrack_max to 655360'
        Get-TreeState $root | Should -Be $before
    }

    It 'gives PersistenceFileInvalid for a garbage file and PersistenceFileUnreadable for a folder, leaving them as they were' {
        $root = Copy-Fixture linux-6.18-builtin
        $null = New-Item -ItemType Directory "$root/etc/sysctl.d" -Force
        [IO.File]::WriteAllBytes("$root/$own", [byte[]](0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x00, 0x00))
        $before = Get-TreeState $root
        $err = Get-Err { Set-ConntrackLimit -Root $root -Max 300000 -Persist }
        $err[0].FullyQualifiedErrorId | Should -Be 'PersistenceFileInvalid,ConntrackTuning.Commands.SetConntrackLimitCommand'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $err[0].TargetObject | Should -Be "$root/$own"
        Get-TreeState $root | Should -Be $before

        Remove-Item "$root/$own"; $null = New-Item -ItemType Directory "$root/$own"
        $before = Get-TreeState $root
        $err = Get-Err { Set-ConntrackLimit -Root $root -Max 300000 -Persist }
        $err[0].FullyQualifiedErrorId | Should -Be 'PersistenceFileUnreadable,ConntrackTuning.Commands.SetConntrackLimitCommand'
        $err[0].TargetObject | Should -Be "$root/$own"
        Get-TreeState $root | Should -Be $before
    }

    It 'gives UnsafeSymbolicLink for its own file linked out of its folder, before the kernel is touched' {
        $root = Copy-Fixture linux-6.18-builtin
        $null = New-Item -ItemType Directory "$root/etc/sysctl.d" -Force
        Set-Content "$root/etc/passwd" 'root:x:0:0::/root:/bin/sh'
        $null = New-Item -ItemType SymbolicLink -Path "$root/$own" -Target '../passwd'
        $err = Get-Err { Set-ConntrackLimit -Root $root -Max 300000 -Persist }
        $err[0].FullyQualifiedErrorId | Should -Be 'UnsafeSymbolicLink,ConntrackTuning.Commands.SetConntrackLimitCommand'
        $err[0].TargetObject | Should -Be "$root/$own"
        Get-Content "$root/etc/passwd" | Should -Be 'root:x:0:0::/root:/bin/sh'
        Get-Content "$root/proc/sys/net/netfilter/nf_conntrack_max" | Should -Be '262144'
    }

    It 'waits while another invocation holds the lock, then writes' {
        # The cmdlet gives up after 60 s with WriteLockTimeout; that id, its category and target are asserted by
        # the xunit SafeWriteTests with a short wait. Here: the lock is the one the cmdlet takes, and while it is
        # held the cmdlet waits rather than writes.
        $root = Copy-Fixture linux-6.18-builtin
        $null = New-Item -ItemType Directory "$root/run/conntrack-tuning" -Force
        [IO.File]::SetUnixFileMode("$root/run/conntrack-tuning", [IO.UnixFileMode]'UserRead, UserWrite, UserExecute')
        $held = [IO.File]::Open("$root/run/conntrack-tuning/lock", [IO.FileStreamOptions]@{ Mode = 'OpenOrCreate'; Access = 'ReadWrite'; Share = 'None'; UnixCreateMode = [IO.UnixFileMode]'UserRead, UserWrite' })
        try {
            $job = Start-ThreadJob { param($m, $r) Import-Module $m; Set-ConntrackLimit -Root $r -Max 300000 -PassThru } -ArgumentList $ModulePath, $root
            Start-Sleep -Seconds 2
            Get-Content "$root/proc/sys/net/netfilter/nf_conntrack_max" | Should -Be '262144'
        }
        finally { $held.Dispose() }
        ($job | Wait-Job -Timeout 30 | Receive-Job).NewValue | Should -Be 300000
    }

    It 'serialises two concurrent Set-ConntrackLimit -Persist processes: one well-formed file agreeing with the kernel value' {
        $root = Copy-Fixture ubuntu-4.15-nf_conntrack
        $pwsh = Get-PwshCommand
        $procs = foreach ($max in 300001, 300002) {
            $args = @($pwsh | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive', '-Command',
                "Import-Module '$ModulePath'; foreach (`$i in 1..5) { Set-ConntrackLimit -Root '$root' -Max ($max + `$i * 10) -Persist -ErrorAction Stop }")
            Start-Process -FilePath $pwsh[0] -ArgumentList $args -PassThru -RedirectStandardError (Join-Path $TestDrive "err-$max.txt")
        }
        $procs | Wait-Process -Timeout 120
        $procs.ExitCode | Should -Be @(0, 0)
        $running = (Get-Content "$root/proc/sys/net/netfilter/nf_conntrack_max").Trim()
        $lines = Get-Content "$root/$own" | Where-Object { $_ -notmatch '^#' }
        $lines | Should -Be "net.netfilter.nf_conntrack_max = $running"
        Get-ChildItem -Force "$root/etc/sysctl.d" | ForEach-Object Name | Should -Be @('10-network-security.conf', '90-conntrack-tuning.conf')
    }
}

Describe 'Set-ConntrackLimit as an unprivileged user' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    It 'gives RootRequired (PermissionDenied) saying to run elevated, before touching anything' {
        $before = if (Test-Path /etc/sysctl.d) { Get-TreeState /etc/sysctl.d }
        $result = Invoke-Unprivileged -ScriptBlock {
            Set-ConntrackLimit -Max 300000 -Persist -ErrorAction SilentlyContinue -ErrorVariable err
            Set-ConntrackTimeout -Protocol tcp -State established -Seconds 1200 -ErrorAction SilentlyContinue -ErrorVariable err2
            [pscustomobject]@{ Id = $err[0].FullyQualifiedErrorId; Category = "$($err[0].CategoryInfo.Category)"; Target = $err[0].TargetObject; Action = $err[0].ErrorDetails.RecommendedAction; Id2 = $err2[0].FullyQualifiedErrorId }
        }
        $result.Id | Should -Be 'RootRequired,ConntrackTuning.Commands.SetConntrackLimitCommand'
        $result.Category | Should -Be 'PermissionDenied'
        $result.Target | Should -Be 'nf_conntrack_max'
        $result.Action | Should -Match 'sudo pwsh'
        $result.Id2 | Should -Be 'RootRequired,ConntrackTuning.Commands.SetConntrackTimeoutCommand'
        $(if (Test-Path /etc/sysctl.d) { Get-TreeState /etc/sysctl.d }) | Should -Be $before
    }

    It 'gives PersistenceFileUnreadable for a configuration file it cannot read' {
        $root = Copy-Fixture linux-6.18-builtin
        $null = New-Item -ItemType Directory "$root/etc/sysctl.d" -Force
        Set-Content "$root/$own" 'net.netfilter.nf_conntrack_max = 1'
        [IO.File]::SetUnixFileMode("$root/$own", [IO.UnixFileMode]0)
        Get-ChildItem -Recurse $root -Directory | ForEach-Object { [IO.File]::SetUnixFileMode($_.FullName, [IO.UnixFileMode]0x1FF) }
        [IO.File]::SetUnixFileMode($root, [IO.UnixFileMode]0x1FF)
        $result = Invoke-Unprivileged -ArgumentList $root -ScriptBlock {
            param($root)
            Set-ConntrackLimit -Root $root -Max 300000 -PersistOnly -ErrorAction SilentlyContinue -ErrorVariable err
            [pscustomobject]@{ Id = $err[0].FullyQualifiedErrorId; Category = "$($err[0].CategoryInfo.Category)"; Target = $err[0].TargetObject }
        }
        $result.Id | Should -Be 'PersistenceFileUnreadable,ConntrackTuning.Commands.SetConntrackLimitCommand'
        $result.Category | Should -Be 'PermissionDenied'
        $result.Target | Should -Be "$root/$own"
        [IO.File]::SetUnixFileMode("$root/$own", [IO.UnixFileMode]0x1A4)
        Get-Content "$root/$own" | Should -Be 'net.netfilter.nf_conntrack_max = 1'
    }
}

Describe 'Set-Conntrack* -WhatIf on this machine' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll { $script:lock = Enter-ConntrackLock }
    AfterAll { $script:lock.Dispose() }

    It 'leaves the running kernel, /etc and the lock file exactly as they were' {
        $values = {
            foreach ($file in '/proc/sys/net/netfilter/nf_conntrack_max', '/proc/sys/net/netfilter/nf_conntrack_buckets',
                '/sys/module/nf_conntrack/parameters/hashsize', '/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established') {
                if (Test-Path $file) { "$file=$((Get-Content $file).Trim())" }
            }
        }
        $files = {
            foreach ($path in '/etc/sysctl.d', '/etc/modprobe.d', '/etc/modules-load.d', '/etc/sysctl.conf', '/run/conntrack-tuning/lock') {
                $item = Get-Item -LiteralPath $path -Force -ErrorAction Ignore
                if (-not $item) { "$path absent" }
                elseif ($item.PSIsContainer) { Get-TreeState $path | ForEach-Object { "$path$_" }; "$path|$($item.LastWriteTimeUtc.Ticks)" }
                else { "$path|$($item.Length)|$($item.LastWriteTimeUtc.Ticks)|$((Get-FileHash -LiteralPath $path).Hash)" }
            }
        }
        $valuesBefore = & $values
        $filesBefore = & $files
        $max = [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_max)
        $established = [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established)
        $records = @(
            Set-ConntrackLimit -Max ($max + 4096) -Persist -WhatIf -PassThru -Force -WarningAction SilentlyContinue
            Set-ConntrackHashSize -HashSize 131072 -Persist -WhatIf -PassThru -Force -WarningAction SilentlyContinue
            Set-ConntrackTimeout -Protocol tcp -State established -Seconds ($established + 60) -Persist -WhatIf -PassThru -Force -WarningAction SilentlyContinue
        )
        & $values | Should -Be $valuesBefore
        & $files | Should -Be $filesBefore
        $records | Should -HaveCount 3
        $records | ForEach-Object { $_.Applied | Should -BeFalse }
        $records[0].NewValue | Should -Be ($max + 4096)
        $records[0].PersistedTo | Should -Contain '/etc/sysctl.d/90-conntrack-tuning.conf'
    }
}

Describe 'Set-ConntrackLimit on this machine' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll { $script:lock = Enter-ConntrackLock }
    AfterAll { $script:lock.Dispose() }

    It 'writes nf_conntrack_max in the initial namespace, reads it back through every alias, and restores it' {
        $original = [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_max)
        $target = $original + 4096
        try {
            $record = Set-ConntrackLimit -Max $target -PassThru -WarningAction SilentlyContinue
            $record.OldValue | Should -Be $original
            $record.NewValue | Should -Be $target
            [long](& sysctl -n net.netfilter.nf_conntrack_max) | Should -Be $target
            [long](Get-Content /proc/sys/net/nf_conntrack_max) | Should -Be $target
            (Set-ConntrackLimit -Max $target -PassThru -WarningAction SilentlyContinue).Changed | Should -BeFalse
        }
        finally {
            # sysctl(8), not Set-Content: PowerShell's file provider does not reliably write procfs files.
            & sysctl -q -w "net.netfilter.nf_conntrack_max=$original"
        }
        [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_max) | Should -Be $original
    }

    It 'gives HostOwnedSetting inside unshare -n, not a raw access denied' {
        $result = Invoke-InNetns -ScriptBlock {
            Set-ConntrackLimit -Max 300000 -ErrorAction SilentlyContinue -ErrorVariable e1
            Set-ConntrackHashSize -HashSize 65536 -ErrorAction SilentlyContinue -ErrorVariable e2
            [pscustomobject]@{ Id1 = $e1[0].FullyQualifiedErrorId; Id2 = $e2[0].FullyQualifiedErrorId; Message = $e1[0].Exception.Message; Category = "$($e1[0].CategoryInfo.Category)"
                Target1 = $e1[0].TargetObject; Target2 = $e2[0].TargetObject }
        }
        # Both name the file that holds the setting, so a script can report either refusal the same way.
        $result.Target1 | Should -Be '/proc/sys/net/netfilter/nf_conntrack_max'
        $result.Target2 | Should -Be '/sys/module/nf_conntrack/parameters/hashsize'
        $result.Id1 | Should -Be 'HostOwnedSetting,ConntrackTuning.Commands.SetConntrackLimitCommand'
        $result.Id2 | Should -Be 'HostOwnedSetting,ConntrackTuning.Commands.SetConntrackHashSizeCommand'
        $result.Category | Should -Be 'PermissionDenied'
        $result.Message | Should -Match 'belongs to the host'
    }
}
