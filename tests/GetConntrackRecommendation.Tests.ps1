BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
    $script:expectations = (Get-Content -Raw (Join-Path $PSScriptRoot 'fixtures/expectations.json') | ConvertFrom-Json -AsHashtable).fixtures
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:cmdletId = 'ConntrackTuning.Commands.GetConntrackRecommendationCommand'

    # Each 'Read <path>' verbose line is one file the engine opened.
    function Get-ReadPath([object[]] $Records) {
        @($Records | Where-Object { $_ -is [Management.Automation.VerboseRecord] -and $_.Message -like 'Read *' } | ForEach-Object { $_.Message.Substring(5) })
    }
}

Describe 'Get-ConntrackRecommendation planning without a machine' {
    It 'gives the seed''s 32-bit 512 MB numbers exactly' {
        $r = Get-ConntrackRecommendation -Profile All -MemoryBytes 512MB -PointerBits 32 -KernelVersion 2.6.5 -WarningAction SilentlyContinue
        $r.Profile | Should -Be @('KernelDefault', 'Guide', 'FirewallOnly', 'Balanced')
        $r[0].Max | Should -Be 32768
        $r[0].HashSize | Should -Be 4096
        $r[1].Max | Should -Be 32768
        $r[1].HashSize | Should -Be 4096
        $r[2].Max | Should -Be 1048576
        $r[2].HashSize | Should -Be 1048576
        $r[2].EstimatedMemoryBytes | Should -Be (1048576 * 308)
        $r[2].Reasons | Should -Contain 'From 2.4.21 the hash spreads well over any size and the guide advises a power of two, so the largest power of two not above 1,307,315: 1,048,576.'
        $r.Root | Should -Be @($null, $null, $null, $null)
        $r.CurrentMax | Should -Be @($null, $null, $null, $null)
        $r.KernelVersion | Should -Be @('2.6.5', '2.6.5', '2.6.5', '2.6.5')
        $r.Era | Select-Object -Unique | Should -Be '2.6-ip_conntrack'
    }

    It 'gives the 64-bit counterparts' {
        $r = Get-ConntrackRecommendation -Profile KernelDefault, Guide, FirewallOnly -MemoryBytes 512MB -PointerBits 64 -KernelVersion 2.6.5 -EntrySize 300 -WarningAction SilentlyContinue
        $r[0].Max, $r[0].HashSize | Should -Be @(16384, 2048)
        $r[1].Max, $r[1].HashSize | Should -Be @(16384, 2048)
        # (512 - 128) MiB / (300 + 16) = 1,274,219, still 2^20.
        $r[2].Max, $r[2].HashSize | Should -Be @(1048576, 1048576)
        $r[2].BucketSize | Should -Be 16
    }

    It 'reads no file, not even of this machine' {
        $records = Get-ConntrackRecommendation -MemoryBytes 512MB -PointerBits 32 -KernelVersion 2.6.5 -Verbose -WarningAction SilentlyContinue 4>&1
        Get-ReadPath $records | Should -BeNullOrEmpty
        ($records | Where-Object { $_ -is [Management.Automation.VerboseRecord] }).Message | Should -Contain 'Planning without a machine: -MemoryBytes and -KernelVersion are given and -Root is not, so nothing is read.'
    }

    It 'takes a release as uname -r prints it, with the pointer width it names' {
        $r = Get-ConntrackRecommendation -MemoryBytes 16GB -KernelVersion 3.10.0-1160.el7.x86_64 -Profile KernelDefault
        $r.KernelVersion | Should -Be '3.10.0'
        $r.Era | Should -Be '2.6.27-nf_conntrack'
        $r.PointerBits | Should -Be 64
        $r.Max | Should -Be 65536
        $r.HashSize | Should -Be 16384
    }
}

Describe 'Get-ConntrackRecommendation parameters, pipeline and output' {
    BeforeAll { $script:root = Copy-Fixture linux-6.18-builtin }

    It 'gives Balanced by default' {
        $r = Get-ConntrackRecommendation -Root $root
        @($r).Count | Should -Be 1
        $r.Profile | Should -Be 'Balanced'
        $r.Max | Should -Be 1048576
        $r.HashSize | Should -Be 1048576
        $r.EntriesPerBucket | Should -Be 1
        $r.KernelDefaultMax | Should -Be 262144
        $r.CurrentMax | Should -Be 262144
        $r.Root | Should -Be $root
    }

    It 'gives the profiles asked for, in order, once each, in any case' {
        (Get-ConntrackRecommendation -Root $root -Profile FirewallOnly, guide, FirewallOnly).Profile | Should -Be @('FirewallOnly', 'Guide')
        (Get-ConntrackRecommendation -Root $root -Profile all).Profile | Should -Be @('KernelDefault', 'Guide', 'FirewallOnly', 'Balanced')
        (Get-ConntrackRecommendation All -Root $root).Count | Should -Be 4
    }

    It 'completes -Profile and -PointerBits with their closed sets' {
        $line = 'Get-ConntrackRecommendation -Profile '
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText |
            Should -Be @('All', 'Balanced', 'FirewallOnly', 'Guide', 'KernelDefault')
        $line = 'Get-ConntrackRecommendation -PointerBits '
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('32', '64')
    }

    It 'lets -EntriesPerBucket set the ratio' {
        $r = Get-ConntrackRecommendation -Root $root -Profile Balanced, FirewallOnly -EntriesPerBucket 4
        $r.EntriesPerBucket | Should -Be @(4, 4)
        $r[0].Max | Should -Be (4 * $r[0].HashSize)
    }

    It 'plans another kernel on the same root with the root''s current values' {
        $r = Get-ConntrackRecommendation -Root $root -KernelVersion 4.19.0-6-amd64 -Profile KernelDefault
        $r.Era | Should -Be '4.9-nf_conntrack'
        $r.Max | Should -Be 262144
        $r.HashSize | Should -Be 65536
        $r.CurrentMax | Should -Be 262144
        $r.Root | Should -Be $root
    }

    It 'recommends for every folder piped from Get-ChildItem' {
        $parent = Join-Path $TestDrive 'hosts'
        $null = Copy-Fixture linux-6.18-builtin -Destination (Join-Path $parent 'a')
        $null = Copy-Fixture ubuntu-5.15-module-noprocfs -Destination (Join-Path $parent 'b')
        $r = Get-ChildItem $parent -Directory | Get-ConntrackRecommendation -Profile KernelDefault
        $r.Root | Should -Be @((Join-Path $parent 'a'), (Join-Path $parent 'b'))
        $r.Max | Should -Be @(262144, 65536)
    }

    It 'reads a piped root even when memory and a kernel version are given' {
        $r = Get-Item $root | Get-ConntrackRecommendation -MemoryBytes 1GB -KernelVersion 5.15 -Profile KernelDefault -WarningAction SilentlyContinue
        $r.Root | Should -Be $root
        $r.CurrentMax | Should -Be 262144
        $r.MemoryBytes | Should -Be 1GB
        $r.Max | Should -Be 8192
    }

    It 'takes the root from a piped Get-ConntrackKernel' {
        $r = Get-ConntrackKernel -Root $root | Get-ConntrackRecommendation -Profile KernelDefault
        $r.Root | Should -Be $root
    }

    It 'binds Max, HashSize and Root by name into a cmdlet with the Set- parameters' {
        function Test-SetBinding {
            param(
                [Parameter(ValueFromPipelineByPropertyName)] [long] $Max,
                [Parameter(ValueFromPipelineByPropertyName)] [long] $HashSize,
                [Parameter(ValueFromPipelineByPropertyName)] [string] $Root
            )
            process { [pscustomobject]@{ Max = $Max; HashSize = $HashSize; Root = $Root } }
        }
        $r = Get-ConntrackRecommendation -Root $root
        $r.Max | Should -BeOfType [long]
        $r.HashSize | Should -BeOfType [long]
        $bound = $r | Test-SetBinding
        $bound.Max | Should -Be 1048576
        $bound.HashSize | Should -Be 1048576
        $bound.Root | Should -Be $root
    }

    It 'keeps its property names and string profile in JSON' {
        $json = Get-ConntrackRecommendation -Root $root -Profile FirewallOnly | ConvertTo-Json -Depth 3 | ConvertFrom-Json
        $json.Profile | Should -Be 'FirewallOnly'
        $json.Max | Should -Be 67108864
        $json.HashSize | Should -Be 67108864
        $json.EntrySizeSource | Should -BeLike 'estimate for nf_conntrack era 5.15-nf_conntrack on 64-bit*'
        $json.Reasons.Count | Should -BeGreaterThan 3
        $json.Root | Should -Be $root
        @($json.PSObject.Properties.Name) | Should -Be @('Profile', 'Max', 'HashSize', 'EntriesPerBucket', 'EstimatedMemoryBytes', 'EntrySize',
            'EntrySizeSource', 'BucketSize', 'MemoryBytes', 'PointerBits', 'PageSize', 'KernelVersion', 'Era', 'CurrentMax', 'CurrentHashSize',
            'CurrentCount', 'KernelDefaultMax', 'KernelDefaultHashSize', 'Reasons', 'Root')
    }

    It 'shows Profile, Max, HashSize, EntriesPerBucket and MiB in its default table' {
        $text = Get-ConntrackRecommendation -Root $root -Profile All | Out-String
        $text | Should -Match 'Profile\s+Max\s+HashSize\s+EntriesPerBucket\s+Memory \(MiB\)'
        $text | Should -Match 'Balanced\s+1048576\s+1048576\s+1\s+264\.0'
        (Get-Command Get-ConntrackRecommendation).OutputType.Name | Should -Be 'ConntrackTuning.ConntrackRecommendation'
    }

    It 'logs each file it reads and each profile it sizes to the verbose stream' {
        $records = Get-ConntrackRecommendation -Root $root -Verbose 4>&1
        Get-ReadPath $records | Should -Contain "$root/proc/meminfo"
        Get-ReadPath $records | Should -Contain "$root/proc/sys/net/netfilter/nf_conntrack_max"
        ($records | Where-Object { $_ -is [Management.Automation.VerboseRecord] }).Message | Should -Contain 'Balanced: max 1048576, hash size 1048576, 264 MiB per full table.'
    }
}

Describe 'Get-ConntrackRecommendation bad input' {
    It 'refuses <Parameter> <Value> while binding' -ForEach @(
        @{ Parameter = 'PointerBits'; Value = 16 }
        @{ Parameter = 'PointerBits'; Value = 128 }
        @{ Parameter = 'MemoryBytes'; Value = 0 }
        @{ Parameter = 'MemoryBytes'; Value = -1 }
        @{ Parameter = 'EntrySize'; Value = 0 }
        @{ Parameter = 'EntrySize'; Value = -300 }
        @{ Parameter = 'ReservedMemoryBytes'; Value = 0 }
        @{ Parameter = 'EntriesPerBucket'; Value = 0 }
        @{ Parameter = 'EntriesPerBucket'; Value = 9 }
        @{ Parameter = 'Profile'; Value = 'Huge' }
    ) {
        $splat = @{ MemoryBytes = 1GB; KernelVersion = '6.1' }
        $splat[$Parameter] = $Value
        { Get-ConntrackRecommendation @splat } | Should -Throw -ErrorId "ParameterArgumentValidationError,$cmdletId"
    }

    It 'says InvalidKernelVersion for <Version>' -ForEach @(
        @{ Version = 'banana'; Action = 'uname -r' }
        @{ Version = '2.2.20'; Action = 'from 2.4.0' }
    ) {
        Get-ConntrackRecommendation -MemoryBytes 1GB -KernelVersion $Version -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be "InvalidKernelVersion,$cmdletId"
        $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err[0].TargetObject | Should -Be $Version
        $err[0].ErrorDetails.RecommendedAction | Should -Match $Action
        $err[0].Exception.Message | Should -Not -Match 'Exception'
    }

    It 'says InvalidSizingInput for a page size that is not a power of two' {
        Get-ConntrackRecommendation -MemoryBytes 1GB -KernelVersion 6.1 -PageSize 5000 -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be "InvalidSizingInput,$cmdletId"
        $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err[0].TargetObject | Should -Be '5000'
    }

    It 'says InvalidSizingInput when the root''s MemTotal is 0' {
        $root = Copy-Fixture linux-6.18-builtin
        Set-Content "$root/proc/meminfo" 'MemTotal:              0 kB'
        Get-ConntrackRecommendation -Root $root -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be "InvalidSizingInput,$cmdletId"
        $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $err[0].TargetObject | Should -Be "$root/proc/meminfo"
    }

    It 'says MemorySizeUnknown when the root has no MemTotal, and answers with -MemoryBytes' {
        $root = Copy-Fixture linux-6.18-builtin
        Remove-Item "$root/proc/meminfo" -Force
        Get-ConntrackRecommendation -Root $root -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be "MemorySizeUnknown,$cmdletId"
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].TargetObject | Should -Be "$root/proc/meminfo"
        $err[0].ErrorDetails.RecommendedAction | Should -Match '-MemoryBytes'
        (Get-ConntrackRecommendation -Root $root -MemoryBytes 8GB -Profile KernelDefault).Max | Should -Be 262144
    }

    It 'says ReserveExceedsMemory for FirewallOnly and still gives the other profiles' {
        $r = Get-ConntrackRecommendation -MemoryBytes 512MB -KernelVersion 6.1 -ReservedMemoryBytes 1GB -Profile All -ErrorAction SilentlyContinue -ErrorVariable err
        $r.Profile | Should -Be @('KernelDefault', 'Guide', 'Balanced')
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be "ReserveExceedsMemory,$cmdletId"
        $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err[0].TargetObject | Should -Be '1073741824'
        $err[0].Exception.Message | Should -BeLike 'The reserve of 1,073,741,824 bytes (1 GiB) is not below the RAM of 536,870,912 bytes (512 MiB)*'
    }
}

Describe 'Get-ConntrackRecommendation warnings' {
    It 'warns once that a 2.4 kernel cannot resize its hash at run time' {
        $root = Copy-Fixture linux-2.4.27-netfilter
        $null = Get-ConntrackRecommendation -Root $root -Profile All -WarningVariable warnings -WarningAction SilentlyContinue
        @($warnings | Where-Object { $_ -like '*cannot change the hash size at run time*' }).Count | Should -Be 1
    }

    It 'warns when a profile is below the entries in the table now' {
        $root = Copy-Fixture ubuntu-4.15-nf_conntrack
        $r = Get-ConntrackRecommendation -Root $root -MemoryBytes 256MB -Profile KernelDefault, Balanced -WarningVariable warnings -WarningAction SilentlyContinue
        $r[0].Max | Should -Be 8192
        $warnings.Message | Should -Contain 'KernelDefault: max 8,192 is below the 251,904 entries in the table now; applying it would drop new connections until the count falls.'
        $r[1].Max | Should -BeGreaterOrEqual (2 * 251904)
    }

    It 'counts the network namespaces of the processes under the root' {
        $root = Copy-Fixture linux-6.18-builtin
        foreach ($link in @{ 1 = 4026531833; 40 = 4026531833; 500 = 4026532177 }.GetEnumerator()) {
            $null = New-Item -ItemType Directory -Force "$root/proc/$($link.Key)/ns"
            [IO.File]::CreateSymbolicLink("$root/proc/$($link.Key)/ns/net", "net:[$($link.Value)]")
        }
        $r = Get-ConntrackRecommendation -Root $root -WarningVariable warnings -WarningAction SilentlyContinue
        $warnings.Message | Should -Contain '2 network namespaces have processes here. Each namespace that tracks connections has its own table, and each may grow to Max: the worst case is 2 x EstimatedMemoryBytes.'
        $r.Reasons | Should -Contain 'Each network namespace may fill its own table to Max: 2 namespaces have processes here, so the worst case is 2 x 276,824,064 = 553,648,128 bytes (528 MiB).'
    }
}

Describe 'Get-ConntrackRecommendation on the <name> fixture' -ForEach $expectations {
    It 'gives every profile with a named entry-size source' {
        $root = Copy-Fixture $name
        $r = Get-ConntrackRecommendation -Root $root -Profile All -WarningAction SilentlyContinue
        $r.Profile | Should -Be @('KernelDefault', 'Guide', 'FirewallOnly', 'Balanced')
        foreach ($one in $r) {
            $one.EntrySizeSource | Should -Match '^(estimate for \S+ era \S+ on (32|64)-bit|/.+: .*bytes per conntrack|/.+slab.*)'
            $one.Max | Should -BeGreaterOrEqual 128
            $one.HashSize | Should -BeGreaterOrEqual 16
            $one.EstimatedMemoryBytes | Should -Be ($one.Max * $one.EntrySize + $one.HashSize * $one.BucketSize)
            $one.Root | Should -Be $root
            $one.Era | Should -Be $era
            $one.PointerBits | Should -Be $pointerBits
            $one.MemoryBytes | Should -Be $memoryBytes
        }
        $r[3].Max | Should -BeGreaterOrEqual $r[0].Max
        if ($_.ContainsKey('count')) { $r[3].Max | Should -BeGreaterOrEqual (2 * $_.count) }
    }
}

Describe 'Get-ConntrackRecommendation on this machine' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll { $script:lock = Enter-ConntrackLock }
    AfterAll { $script:lock.Dispose() }

    It 'computes the default this kernel really chose from its MemTotal' {
        $r = Get-ConntrackRecommendation -Profile KernelDefault
        $liveMax = [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_max)
        $liveBuckets = [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_buckets)
        $r.Max | Should -Be $liveMax
        $r.HashSize | Should -Be $liveBuckets
        $r.Max | Should -Be 262144
        $r.KernelDefaultMax | Should -Be $liveMax
        $r.MemoryBytes | Should -Be (1024 * [long]((Select-String -Path /proc/meminfo -Pattern '^MemTotal:\s+(\d+)').Matches[0].Groups[1].Value))
        $r.PageSize | Should -Be ([long](& getconf PAGESIZE))
    }

    It 'measures the entry size from the live slab as root' {
        $r = Get-ConntrackRecommendation
        $r.EntrySize | Should -Be ([long](Get-Content /sys/kernel/slab/nf_conntrack/slab_size))
        $r.EntrySizeSource | Should -BeLike '/sys/kernel/slab/nf_conntrack/slab_size, the slot of a * object (object_size)'
    }

    It 'falls back to the estimate for a user who may not read the slab' {
        $root = Copy-Fixture linux-6.18-builtin
        [IO.File]::SetUnixFileMode($root, [IO.UnixFileMode]0x1ED)
        # As on a live 6.x kernel, the slab files are readable only by their owner (here another user, because
        # the unprivileged process keeps root's uid outside its user namespace and would own root's files).
        $null = New-Item -ItemType Directory -Force "$root/sys/kernel/slab/nf_conntrack"
        foreach ($file in "$root/sys/kernel/slab/nf_conntrack/slab_size", "$root/sys/kernel/slab/nf_conntrack/object_size", "$root/proc/slabinfo") {
            Set-Content $file '256'
            & chown 12345 $file
            [IO.File]::SetUnixFileMode($file, [IO.UnixFileMode]::UserRead)
        }
        $asRoot = Get-ConntrackRecommendation -Root $root
        $asRoot.EntrySizeSource | Should -BeLike "$root/sys/kernel/slab/nf_conntrack/slab_size*"
        $r = Invoke-Unprivileged -ArgumentList $root -ScriptBlock {
            param($root)
            Get-ConntrackRecommendation -Root $root -WarningAction SilentlyContinue
        }
        $r.EntrySizeSource | Should -BeLike 'estimate for nf_conntrack era 5.15-nf_conntrack on 64-bit*'
        $r.Max | Should -Be $asRoot.Max
    }

    It 'counts a throwaway network namespace among those that can each fill a table' {
        $before = Get-ConntrackRecommendation -WarningVariable w0 -WarningAction SilentlyContinue
        $baseline = if ($w0.Message -join "`n" -match '(\d+) network namespaces have processes here') { [int]$Matches[1] } else { 1 }
        $sleeper = [Diagnostics.Process]::Start('unshare', [string[]]@('-n', 'sleep', '60'))
        try {
            $deadline = [datetime]::UtcNow.AddSeconds(10)
            while ((& readlink "/proc/$($sleeper.Id)/ns/net") -eq (& readlink /proc/self/ns/net) -and [datetime]::UtcNow -lt $deadline) {
                Start-Sleep -Milliseconds 50
            }
            $null = Get-ConntrackRecommendation -WarningVariable w1 -WarningAction SilentlyContinue
            $text = $w1.Message -join "`n"
            $text | Should -Match '\d+ network namespaces have processes here'
            $null = $text -match '(\d+) network namespaces have processes here'
            [int]$Matches[1] | Should -BeGreaterThan $baseline
            $before.Max | Should -BeGreaterThan 0
        }
        finally {
            $sleeper.Kill()
            $sleeper.WaitForExit()
            $sleeper.Dispose()
        }
    }
}
