BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
    $script:sysctlProgram = @('/lib/systemd/systemd-sysctl', '/usr/lib/systemd/systemd-sysctl') | Where-Object { Test-Path $_ } | Select-Object -First 1
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

Describe 'Persisted values and drift in Get-ConntrackLimit' {
    It '<Name>: persisted max <PersistedMax>, hash size <PersistedHashSize>, drift <Drift>' -ForEach @(
        @{ Name = 'sosreport-rhel8-4.18'; PersistedMax = 524288; PersistedHashSize = $null; Drift = $true; Source = 'etc/sysctl.d/50-conntrack.conf:2' }
        @{ Name = 'ubuntu-5.4-stale-buckets'; PersistedMax = 524288; PersistedHashSize = 131072; Drift = $false; Source = 'etc/sysctl.d/60-conntrack.conf:1' }
        @{ Name = 'centos7-3.10-nf_conntrack'; PersistedMax = $null; PersistedHashSize = $null; Drift = $false; Source = $null }
        @{ Name = 'linux-6.18-builtin'; PersistedMax = $null; PersistedHashSize = $null; Drift = $false; Source = $null }
    ) {
        $root = Copy-Fixture $Name
        $limit = Get-ConntrackLimit -Root $root -WarningAction SilentlyContinue
        $limit.PersistedMax | Should -Be $PersistedMax
        $limit.PersistedHashSize | Should -Be $PersistedHashSize
        $limit.Drift | Should -Be $Drift
        if ($Source) { $limit.PersistedMaxSource | Should -Be "$root/$Source" }
        if ($Drift) { $limit.DriftReason | Should -Match "max is $($limit.Max) now but the next boot applies $PersistedMax" }
    }

    It 'shows drift after a run-time-only change and none after the same change with -Persist' {
        $root = Copy-Fixture ubuntu-5.4-stale-buckets
        Set-ConntrackLimit -Root $root -Max 600000 -WarningVariable warnings -WarningAction SilentlyContinue
        $warnings -join "`n" | Should -Match 'nf_conntrack_max is not persisted: the next boot applies 524288'
        (Get-ConntrackLimit -Root $root).Drift | Should -BeTrue
        Set-ConntrackLimit -Root $root -Max 600000 -Persist
        $limit = Get-ConntrackLimit -Root $root
        $limit.Drift | Should -BeFalse
        $limit.PersistedMax | Should -Be 600000
        $limit.PersistedMaxSource | Should -Be "$root/etc/sysctl.d/90-conntrack-tuning.conf:4"
    }

    It 'shows drift when a run-time change is not persisted and the kernel default would come back' {
        $root = Copy-Fixture linux-6.18-builtin
        Set-ConntrackLimit -Root $root -Max 524288
        $limit = Get-ConntrackLimit -Root $root
        $limit.PersistedMax | Should -BeNullOrEmpty
        $limit.Drift | Should -BeTrue
        $limit.DriftReason | Should -Match "max is 524288 now but nothing persists it, so the next boot applies the kernel's default of 262144"
    }

    It 'follows the boot order: etc/sysctl.conf last, a name in etc/sysctl.d hiding the same name in usr/lib/sysctl.d' {
        $root = Copy-Fixture linux-6.18-builtin
        $null = New-Item -ItemType Directory "$root/etc/sysctl.d", "$root/usr/lib/sysctl.d" -Force
        Set-Content "$root/usr/lib/sysctl.d/50-vendor.conf" 'net.netfilter.nf_conntrack_max = 1'
        Set-Content "$root/etc/sysctl.d/50-vendor.conf" 'net.netfilter.nf_conntrack_max = 2'
        Set-Content "$root/usr/lib/sysctl.d/95-late.conf" 'net.nf_conntrack_max = 3'
        (Get-ConntrackLimit -Root $root).PersistedMax | Should -Be 3
        Set-Content "$root/etc/sysctl.conf" '-net/netfilter/nf_conntrack_max = 4'
        $limit = Get-ConntrackLimit -Root $root
        $limit.PersistedMax | Should -Be 4
        $limit.PersistedMaxSource | Should -Be "$root/etc/sysctl.conf:1"
    }

    It 'takes a link to /dev/null for a masked file, as systemd does, without a warning' {
        $root = Copy-Fixture linux-6.18-builtin
        $null = New-Item -ItemType Directory "$root/etc/sysctl.d", "$root/usr/lib/sysctl.d", "$root/dev" -Force
        Set-Content "$root/usr/lib/sysctl.d/50-vendor.conf" 'net.netfilter.nf_conntrack_max = 1000'
        $null = New-Item -ItemType SymbolicLink -Path "$root/etc/sysctl.d/50-vendor.conf" -Target /dev/null
        # The root's own dev/null, as a chroot or an image with /dev has it (a FIFO stands in for the device without root).
        if ((& id -u) -eq '0') { & mknod "$root/dev/null" c 1 3 } else { & mkfifo "$root/dev/null" }
        $limit = Get-ConntrackLimit -Root $root -WarningVariable warnings -WarningAction SilentlyContinue
        $limit.PersistedMax | Should -BeNullOrEmpty
        $change = Set-ConntrackLimit -Root $root -Max 300000 -PersistOnly -PassThru -WarningVariable +warnings -WarningAction SilentlyContinue
        $change.NextBootValue | Should -Be 300000
        $null = Test-ConntrackHealth -Root $root -WarningVariable +warnings -WarningAction SilentlyContinue
        $warnings | Should -BeNullOrEmpty
    }

    It 'says a FIFO among the sysctl files was skipped, not that nothing was changed, when the change goes through' {
        $root = Copy-Fixture linux-6.18-builtin
        $null = New-Item -ItemType Directory "$root/etc/sysctl.d" -Force
        & mkfifo "$root/etc/sysctl.d/40-fifo.conf"
        $change = Set-ConntrackLimit -Root $root -Max 300000 -PersistOnly -PassThru -WarningVariable warnings -WarningAction SilentlyContinue
        $change.Changed | Should -BeTrue
        $warnings -join "`n" | Should -Match '40-fifo\.conf. is a FIFO .*; it was not read\. Its settings were not taken into account\.'
        $warnings -join "`n" | Should -Not -Match 'nothing was changed'
    }

    It 'warns about, and skips, a broken line of a sysctl file it only reads (systemd-sysctl skips the line alone)' {
        $root = Copy-Fixture linux-6.18-builtin
        $null = New-Item -ItemType Directory "$root/etc/sysctl.d" -Force
        Set-Content "$root/etc/sysctl.d/10-broken.conf" 'this is not a sysctl line'
        $limit = Get-ConntrackLimit -Root $root -WarningVariable warnings -WarningAction SilentlyContinue
        $limit.Max | Should -Be 262144
        $warnings -join "`n" | Should -Match '10-broken\.conf:1 .*systemd-sysctl skips that line'
    }
}

Describe 'A sysctl file the user may not read' -Skip:((& id -u) -ne '0') {
    It 'leaves the next boot''s values unknown instead of reporting the kernel default, and Test-ConntrackHealth says why' {
        # Test-ConntrackHealth's Persistence check is the one asked about; the others may say what they like.
        $root = Copy-Fixture linux-6.18-builtin
        [IO.File]::SetUnixFileMode($root, [IO.UnixFileMode]0x1ED)
        $file = "$root/etc/sysctl.d/50-private.conf"
        $null = New-Item -ItemType Directory -Force "$root/etc/sysctl.d"
        Set-Content -LiteralPath $file -Value 'net.netfilter.nf_conntrack_max = 500000'
        & chmod -R a+rX "$root/etc"
        # Owned by another user and readable only by it, as a private sysctl file is to anyone but root.
        & chown 12345 $file
        [IO.File]::SetUnixFileMode($file, [IO.UnixFileMode]::UserRead)
        $result = Invoke-Unprivileged -ArgumentList $root -ScriptBlock {
            param($root)
            [pscustomobject]@{
                Limit = Get-ConntrackLimit -Root $root -WarningVariable w -WarningAction SilentlyContinue
                Warnings = @($w | ForEach-Object Message)
                Persistence = Test-ConntrackHealth -Root $root -WarningAction SilentlyContinue | Where-Object Check -eq Persistence
                Drift = @(Export-ConntrackMetric -Root $root -WarningAction SilentlyContinue | Where-Object Name -eq 'conntrack_tuning_drift').Count
            }
        }
        $result.Warnings | Where-Object { $_ -like "*$file*permission denied*" } | Should -Not -BeNullOrEmpty
        $result.Limit.NextBootMax | Should -BeNullOrEmpty
        $result.Limit.NextBootHashSize | Should -BeNullOrEmpty
        $result.Limit.NextBootMaxSource | Should -BeLike "*$file*"
        $result.Limit.Drift | Should -BeFalse
        $result.Persistence.Severity | Should -Be 'Info'
        $result.Persistence.Message | Should -BeLike "*$file*"
        $result.Persistence.Message | Should -Not -BeLike '*applies the max and the hash size that run now*'
        $result.Persistence.Recommendation | Should -BeLike '*root*'
        $result.Drift | Should -Be 0 -Because 'a drift of 0 would claim the next boot keeps the values'
    }
}

Describe 'Change records for scripts and Ansible' {
    It 'under -WhatIf -PassThru says what would change (check mode) and changes nothing' {
        $root = Copy-Fixture ubuntu-4.15-nf_conntrack
        $before = Get-TreeState $root
        $record = Set-ConntrackLimit -Root $root -Max 300000 -Persist -PassThru -WhatIf
        $record.Changed | Should -BeTrue
        $record.Applied | Should -BeFalse
        $record.NextBootValue | Should -Be 300000
        $record.Files.Action | Should -Be @('Create', 'Create')
        $record.Files[0].After | Should -Match 'net.netfilter.nf_conntrack_max = 300000'
        Get-TreeState $root | Should -Be $before
    }

    # As each Set- cmdlet's -PassThru help says: Applied is False under -WhatIf only where a change was pending;
    # a value already there is applied, -WhatIf or not (Ansible's check mode reports it unchanged).
    It 'under -WhatIf -PassThru, with the value already there, says <Command> changed nothing and the state is as asked' -ForEach @(
        @{ Command = 'Set-ConntrackLimit'; Arguments = @{ Max = 300000 } }
        @{ Command = 'Set-ConntrackHashSize'; Arguments = @{ HashSize = 131072 } }
        @{ Command = 'Set-ConntrackTimeout'; Arguments = @{ Protocol = 'tcp'; State = 'established'; Seconds = 1200 } }
        @{ Command = 'Set-ConntrackSetting'; Arguments = @{ Name = 'tcp_be_liberal'; Value = 1 } }
    ) {
        $root = Copy-Fixture linux-6.18-builtin
        & $Command -Root $root @Arguments -PersistOnly -WarningAction SilentlyContinue
        $before = Get-TreeState $root
        $record = & $Command -Root $root @Arguments -PersistOnly -PassThru -WhatIf -WarningAction SilentlyContinue
        $record.Changed | Should -BeFalse
        $record.Applied | Should -BeTrue
        Get-TreeState $root | Should -Be $before
        $help = (Get-Help $Command -Parameter PassThru).description.Text -join ' '
        $help | Should -Match 'Applied is then False where a change was pending; True where the value was already there'
    }

    It 'survives ConvertTo-Json with names and numbers intact' {
        $root = Copy-Fixture rhel6-2.6.32-nf_conntrack
        $json = Set-ConntrackLimit -Root $root -Max 300000 -Persist -PassThru -WarningAction SilentlyContinue | ConvertTo-Json -Depth 4 | ConvertFrom-Json
        $json.Setting | Should -Be 'nf_conntrack_max'
        $json.OldValue | Should -Be 65536
        $json.NewValue | Should -Be 300000
        $json.Changed | Should -BeTrue
        $json.Mode | Should -Be 'RuntimeAndPersistent'
        $json.PersistedTo | Should -Be "$root/etc/sysctl.conf"
        $json.Files[0].Action | Should -Be 'Update'
        $json.Warnings.Count | Should -Be 1
        $timeout = Get-ConntrackTimeout -Root $root tcp established | ConvertTo-Json | ConvertFrom-Json
        $timeout.Seconds | Should -Be 432000
        $timeout.State | Should -Be 'established'
    }

    It 'keeps UTF-8 comments readable in the Before and After texts' {
        $root = Copy-Fixture rhel6-2.6.32-nf_conntrack
        [IO.File]::WriteAllText("$root/etc/sysctl.conf", "# 默认超时时间为5天`n")
        $record = Set-ConntrackTimeout -Root $root tcp established 1200 -Persist -PassThru -WarningAction SilentlyContinue
        $record.Files[0].Before | Should -Be "# 默认超时时间为5天`n"
        $record.Files[0].After | Should -Be "# 默认超时时间为5天`nnet.netfilter.nf_conntrack_tcp_timeout_established = 1200`n"
    }
}

Describe 'What a reboot applies, by the real systemd-sysctl' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    # The module predicts what the next boot applies (PersistedSeconds, NextBootValue, Drift) from its own reading of
    # the sysctl.d folders. Here the boot is played for real: systemd-sysctl (the program that applies them at boot)
    # runs in a throwaway network and mount namespace where the root's etc/sysctl.d and usr/lib/sysctl.d are mounted
    # over this machine's, limited by --prefix to per-namespace timeouts. Its result must be the module's prediction.
    BeforeAll {
        $script:lock = Enter-ConntrackLock
        $script:sysctlProgram = @('/lib/systemd/systemd-sysctl', '/usr/lib/systemd/systemd-sysctl') | Where-Object { Test-Path $_ } | Select-Object -First 1

        # systemd-sysctl's output first, then one line per key with the value it left in the namespace.
        function Invoke-Boot([string] $Root, [string[]] $Keys) {
            $script = @'
set -e
root=$1; shift
mount --bind "$root/etc/sysctl.d" /etc/sysctl.d
for d in /usr/lib/sysctl.d /lib/sysctl.d; do if [ -d "$d" ]; then mount --bind "$root/usr/lib/sysctl.d" "$d"; fi; done
program=$1; shift
for key in "$@"; do set -- "$@" "--prefix=$key"; shift; done
"$program" "$@" 2>&1
for key in "$@"; do echo "value ${key#--prefix=} $(cat /proc/sys/$(echo "${key#--prefix=}" | tr . /))"; done
'@
            $output = & unshare -n -m --propagation private -- sh -c $script sh $Root $sysctlProgram @Keys
            if ($LASTEXITCODE) { throw "systemd-sysctl in the namespace failed ($LASTEXITCODE): $($output -join "`n")" }
            [pscustomobject]@{
                Log    = @($output | Where-Object { $_ -notlike 'value *' })
                Values = @(foreach ($key in $Keys) { [long](($output | Where-Object { $_ -like "value $key *" }) -split ' ')[-1] })
            }
        }
    }
    AfterAll { $script:lock.Dispose() }

    It 'applies what Set-ConntrackTimeout -PersistOnly wrote, honours the files the module said win, and parses the file cleanly' -Skip:(-not $sysctlProgram) {
        $root = Copy-Fixture linux-6.18-builtin
        $null = New-Item -ItemType Directory "$root/etc/sysctl.d", "$root/usr/lib/sysctl.d" -Force
        # A vendor file hidden by a site file of the same name: its tcp value never applies, the site's udp value does.
        Set-Content "$root/usr/lib/sysctl.d/50-vendor.conf" "net.netfilter.nf_conntrack_tcp_timeout_established = 11`nnet.netfilter.nf_conntrack_udp_timeout = 33"
        Set-Content "$root/etc/sysctl.d/50-vendor.conf" "# site override`nnet.netfilter.nf_conntrack_udp_timeout = 44"
        $change = Set-ConntrackTimeout -Root $root -Protocol tcp -State established -Seconds 1200 -PersistOnly -PassThru
        $null = Set-ConntrackLimit -Root $root -Max 300000 -PersistOnly
        # A later file the site adds afterwards: the module must now predict its value, and refuse to fight it.
        Set-Content "$root/etc/sysctl.d/95-late.conf" 'net/netfilter/nf_conntrack_udp_timeout=55'
        $err = $null
        Set-ConntrackTimeout -Root $root -Protocol udp -Seconds 45 -PersistOnly -ErrorAction SilentlyContinue -ErrorVariable err
        $err[0].FullyQualifiedErrorId | Should -Be 'PersistenceOverridden,ConntrackTuning.Commands.SetConntrackTimeoutCommand'

        $predicted = @(
            (Get-ConntrackTimeout -Root $root -Protocol tcp -State established).PersistedSeconds
            (Get-ConntrackTimeout -Root $root -Protocol udp | Where-Object Key -EQ 'net.netfilter.nf_conntrack_udp_timeout').PersistedSeconds
        )
        $change.NextBootValue | Should -Be 1200
        $predicted | Should -Be @(1200, 55)

        $boot = Invoke-Boot $root 'net.netfilter.nf_conntrack_tcp_timeout_established', 'net.netfilter.nf_conntrack_udp_timeout'
        $boot.Values | Should -Be $predicted
        # systemd-sysctl complains about lines it cannot parse; the module's file must give it nothing to say.
        ($boot.Log -join "`n") | Should -Not -Match '90-conntrack-tuning'
    }
}
