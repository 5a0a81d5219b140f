BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
    # Hashtables, so Pester turns each key into a variable of the test.
    $script:expectations = (Get-Content -Raw (Join-Path $PSScriptRoot 'fixtures/expectations.json') | ConvertFrom-Json -AsHashtable).fixtures
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

Describe 'Get-ConntrackKernel on the <name> fixture' -ForEach $expectations {
    BeforeAll {
        $script:root = Copy-Fixture $name
        $script:kernel = Get-ConntrackKernel -Root $root -WarningAction SilentlyContinue
    }

    It 'identifies release <release>, <tracker> (<moduleState>) and era <era>' {
        $kernel.KernelRelease | Should -Be $release
        $kernel.KernelVersion | Should -Be $version
        $kernel.Tracker | Should -Be $tracker
        $kernel.ModuleState | Should -Be $moduleState
        $kernel.Era | Should -Be $era
        $kernel.PointerBits | Should -Be $pointerBits
        $kernel.MemoryBytes | Should -Be $memoryBytes
        $kernel.IsInitialNamespace | Should -Be $initial
        $kernel.Root | Should -Be $root
    }

    It 'says what can be changed at run time, and why not' {
        $kernel.CanSetMax | Should -Be $canSetMax
        $kernel.CanSetHashSize | Should -Be $canSetHashSize
        $kernel.CanSetTimeouts | Should -Be $canSetTimeouts
        if (-not $canSetMax) { $kernel.MaxReadOnlyReason | Should -Not -BeNullOrEmpty }
        if (-not $canSetHashSize) { $kernel.HashSizeReadOnlyReason | Should -Not -BeNullOrEmpty }
    }

    It 'gives the limits the table expects, or says conntrack is not loaded' {
        if (-not $_.ContainsKey('max')) {
            Get-ConntrackLimit -Root $root -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -Be 'ConntrackNotLoaded,ConntrackTuning.Commands.GetConntrackLimitCommand'
            $err[0].CategoryInfo.Category | Should -Be 'ResourceUnavailable'
            $err[0].ErrorDetails.RecommendedAction | Should -Match 'modprobe nf_conntrack'
        }
        else {
            $limit = Get-ConntrackLimit -Root $root -WarningAction SilentlyContinue
            $limit.Max | Should -Be $_.max
            $limit.Count | Should -Be $_.count
            $limit.HashSize | Should -Be $_.hashSize
            $limit.HashSizeSource | Should -BeLike "$root/$($_.hashSizeFrom)*"
        }
    }
}

Describe 'Get-ConntrackKernel behaviour' {
    It 'warns, but still describes the kernel, when conntrack is not loaded' {
        $root = Copy-Fixture debian-5.10-no-conntrack
        $kernel = Get-ConntrackKernel -Root $root -WarningVariable warnings -WarningAction SilentlyContinue
        $kernel.ModuleState | Should -Be 'NotLoaded'
        $kernel.KernelRelease | Should -Be '5.10.0-26-amd64'
        $warnings | Should -HaveCount 1
        "$warnings" | Should -Match 'not active'
    }

    It 'writes each file it reads to the verbose stream' {
        $root = Copy-Fixture linux-6.18-builtin
        $verbose = Get-ConntrackLimit -Root $root -Verbose 4>&1 | Where-Object { $_ -is [Management.Automation.VerboseRecord] }
        $verbose.Message | Should -Contain "Read $root/proc/sys/net/netfilter/nf_conntrack_max"
        $verbose.Message | Should -Contain "Read $root/proc/meminfo"
    }

    It 'binds -Root from the output of another cmdlet' {
        $root = Copy-Fixture rhel6-2.6.32-nf_conntrack
        (Get-ConntrackKernel -Root $root | Get-ConntrackLimit).Max | Should -Be 65536
    }

    It 'describes every folder piped from Get-ChildItem, each with its own era' {
        $parent = Join-Path $TestDrive 'captures'
        $null = Copy-Fixture rhel5-2.6.18-ip_conntrack -Destination (Join-Path $parent 'a-rhel5')
        $null = Copy-Fixture sosreport-rhel8-4.18 -Destination (Join-Path $parent 'b-sosreport')
        $kernels = Get-ChildItem $parent -Directory | Get-ConntrackKernel
        $kernels.Root | Should -Be @((Join-Path $parent 'a-rhel5'), (Join-Path $parent 'b-sosreport'))
        $kernels.Era | Should -Be @('2.6.14-ip_conntrack', '4.9-nf_conntrack')
        $kernels.MaxSysctlKey | Should -Be @('net.ipv4.netfilter.ip_conntrack_max', 'net.netfilter.nf_conntrack_max')
    }

    It 'resolves a relative -Root against the current location' {
        $root = Copy-Fixture centos7-3.10-nf_conntrack
        Push-Location (Split-Path $root)
        try { (Get-ConntrackLimit -Root (Split-Path -Leaf $root)).Root | Should -Be $root }
        finally { Pop-Location }
    }

    It 'keeps names and numbers through ConvertTo-Json' {
        $root = Copy-Fixture ubuntu-4.15-nf_conntrack
        $json = Get-ConntrackKernel -Root $root | ConvertTo-Json | ConvertFrom-Json
        $json.ModuleState | Should -Be 'Module'
        $json.Tracker | Should -Be 'nf_conntrack'
        $json.MemoryBytes | Should -Be 8348200960
        $json.Paths.Max | Should -Be "$root/proc/sys/net/netfilter/nf_conntrack_max"
    }

    It 'shows the default list view with the writability reasons' {
        $root = Copy-Fixture netns-6.18
        $text = Get-ConntrackKernel -Root $root | Out-String -Width 300
        $text | Should -Match 'CanSetMax\s+: False: This is not the initial network namespace'
        $text | Should -Match 'Era\s+: 5\.15-nf_conntrack'
        # A capture must not pass for this machine at a glance.
        $text | Should -Match 'RootKind\s+: Capture'
    }
}

Describe 'Get-ConntrackLimit reports damaged value files by name' {
    It 'gives <id> for a max file holding <what>' -ForEach @(
        @{ id = 'ValueFileEmpty'; what = 'nothing'; content = '' }
        @{ id = 'ValueFileEmpty'; what = 'only white space'; content = "  `n" }
        @{ id = 'ValueFileNotNumeric'; what = 'digits and letters'; content = "65536abc`n" }
        @{ id = 'ValueFileNotNumeric'; what = 'NUL bytes'; content = [string][char]0 * 4 }
    ) {
        $root = Copy-Fixture ubuntu-4.15-nf_conntrack
        $file = "$root/proc/sys/net/netfilter/nf_conntrack_max"
        [IO.File]::WriteAllText($file, $content)
        Get-ConntrackLimit -Root $root -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be "$id,ConntrackTuning.Commands.GetConntrackLimitCommand"
        $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $err[0].TargetObject | Should -Be $file
        $err[0].Exception.Message | Should -BeLike "*$file*"
    }

    It 'goes on with the next root after a bad one' {
        $bad = Join-Path $TestDrive 'missing'
        $good = Copy-Fixture linux-6.18-builtin
        $limits = $bad, $good | Get-ConntrackLimit -ErrorAction SilentlyContinue -ErrorVariable err
        $limits | Should -HaveCount 1
        $limits.Root | Should -Be $good
        $err | Should -HaveCount 1
    }
}

Describe 'Get-ConntrackKernel on this machine' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    It 'agrees with uname, meminfo and the namespace link' {
        $kernel = Get-ConntrackKernel
        $kernel.KernelRelease | Should -Be (& uname -r)
        $kernel.ModuleState | Should -BeIn 'BuiltIn', 'Module'
        $kernel.IsInitialNamespace | Should -BeTrue
        $kernel.NetworkNamespace | Should -Be ((& readlink /proc/self/ns/net) -replace '\D')
        $memKb = [long]((Get-Content /proc/meminfo | Select-String '^MemTotal:\s+(\d+)').Matches[0].Groups[1].Value)
        $kernel.MemoryBytes | Should -Be ($memKb * 1024)
    }
}

Describe 'Get-ConntrackLimit without privileges' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    It 'names the max file it may not read in a FileReadFailed error' {
        $root = Copy-Fixture linux-6.18-builtin
        [IO.File]::SetUnixFileMode($root, [IO.UnixFileMode]0x1ED)
        $file = "$root/proc/sys/net/netfilter/nf_conntrack_max"
        # Owned by another user and readable only by it: the unprivileged process has no way in.
        & chown 12345 $file
        [IO.File]::SetUnixFileMode($file, [IO.UnixFileMode]::UserRead)
        $err = Invoke-Unprivileged -ArgumentList $root -ScriptBlock {
            param($root)
            $null = Get-ConntrackLimit -Root $root -ErrorAction SilentlyContinue -ErrorVariable e
            $e | ForEach-Object { [pscustomobject]@{ Id = $_.FullyQualifiedErrorId; Category = "$($_.CategoryInfo.Category)"; Target = $_.TargetObject } }
        }
        $err.Id | Should -Be 'FileReadFailed,ConntrackTuning.Commands.GetConntrackLimitCommand'
        $err.Category | Should -Be 'PermissionDenied'
        $err.Target | Should -Be $file
    }

    It 'falls back quietly from the root-only hashsize parameter to the buckets sysctl' {
        $root = Copy-Fixture linux-6.18-builtin
        [IO.File]::SetUnixFileMode($root, [IO.UnixFileMode]0x1ED)
        $param = "$root/sys/module/nf_conntrack/parameters/hashsize"
        & chown 12345 $param
        [IO.File]::SetUnixFileMode($param, [IO.UnixFileMode]::UserRead -bor [IO.UnixFileMode]::UserWrite)
        $result = Invoke-Unprivileged -ArgumentList $root -ScriptBlock {
            param($root)
            [pscustomobject]@{ Limit = Get-ConntrackLimit -Root $root -WarningVariable w; Warnings = $w.Count }
        }
        $result.Warnings | Should -Be 0
        $result.Limit.HashSizeSource | Should -Be "$root/proc/sys/net/netfilter/nf_conntrack_buckets"
        $result.Limit.HashSize | Should -Be 262144
    }

    It 'says that changing the live limits requires root' {
        $kernel = Invoke-Unprivileged -ScriptBlock { Get-ConntrackKernel }
        $kernel.CanSetMax | Should -BeFalse
        $kernel.MaxReadOnlyReason | Should -Match 'requires root; run pwsh with sudo'
        $kernel.CanSetHashSize | Should -BeFalse
    }
}

Describe 'A root without a running kernel' {
    It 'says a disk image has no proc/ rather than advising modprobe' {
        $image = Join-Path $TestDrive 'image'
        $null = New-Item -ItemType Directory -Path "$image/etc/sysctl.d", "$image/usr/lib/modules"
        Get-ConntrackLimit -Root $image -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'NoRunningKernel,ConntrackTuning.Commands.GetConntrackLimitCommand'
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].TargetObject | Should -Be $image
        $err[0].ErrorDetails.RecommendedAction | Should -Match '-PersistOnly'
    }

    It 'still lets an image be configured with -PersistOnly' {
        $image = Join-Path $TestDrive 'image2'
        $null = New-Item -ItemType Directory -Path "$image/etc/sysctl.d"
        $change = Set-ConntrackLimit -Root $image -Max 262144 -PersistOnly -PassThru -WarningAction SilentlyContinue
        $change.Changed | Should -BeTrue
        Get-Content "$image/etc/sysctl.d/90-conntrack-tuning.conf" | Should -Contain 'net.netfilter.nf_conntrack_max = 262144'
    }
}
