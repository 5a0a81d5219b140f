# Fleets over SSH remoting, proven on this machine: an sshd of the test's own on 127.0.0.1 and a spare port,
# with a pwsh subsystem and a throwaway key, serves Invoke-Command -HostName. Nothing outside loopback.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:skip = if ((& id -u) -ne '0') { 'sshd needs root to start here' }
    elseif (-not (Test-Path /usr/sbin/sshd)) { "openssh-server is not installed (apt-get install openssh-server)" }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

Describe 'ConntrackTuning over SSH remoting' -Tag RealKernel -Skip:([bool]$skip) {
    BeforeAll {
        $script:dir = Join-Path ([IO.Path]::GetTempPath()) ("ctt-sshd-" + [guid]::NewGuid().ToString('n'))
        $null = New-Item -ItemType Directory -Path $dir
        $null = New-Item -ItemType Directory -Force -Path /run/sshd   # sshd's privilege-separation folder
        & ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key"
        & ssh-keygen -q -t ed25519 -N '' -f "$dir/client_key"
        Copy-Item "$dir/client_key.pub" "$dir/authorized_keys"

        # A port nobody listens on: bind to 0 and take what the kernel hands out.
        $probe = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
        $probe.Start(); $script:port = $probe.LocalEndpoint.Port; $probe.Stop()

        $pwsh = (Get-PwshCommand) -join ' '
        @"
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_key
AuthorizedKeysFile $dir/authorized_keys
PidFile $dir/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem powershell $pwsh -sshs -NoLogo -NoProfile
"@ | Set-Content "$dir/sshd_config"
        $script:sshd = Start-Process /usr/sbin/sshd -ArgumentList '-D', '-e', '-f', "$dir/sshd_config" -PassThru -RedirectStandardError "$dir/sshd.log"
        $deadline = [datetime]::UtcNow.AddSeconds(20)
        while (-not (Test-NetConnectionLoopback $port)) {
            if ([datetime]::UtcNow -gt $deadline -or $sshd.HasExited) { throw "sshd did not start: $(Get-Content -Raw "$dir/sshd.log")" }
            Start-Sleep -Milliseconds 200
        }

        $script:remote = @{
            HostName    = '127.0.0.1'
            Port        = $port
            UserName    = 'root'
            KeyFilePath = "$dir/client_key"
            Options     = @{ StrictHostKeyChecking = 'no'; UserKnownHostsFile = '/dev/null'; LogLevel = 'ERROR' }
        }
        $script:fixture = Copy-Fixture rhel6-2.6.32-nf_conntrack
        # Three sessions stand for three hosts; -HostName takes a list, so they start side by side.
        $fleet = $remote.Clone(); $fleet.HostName = '127.0.0.1', '127.0.0.1', '127.0.0.1'
        $script:sessions = New-PSSession @fleet
    }

    AfterAll {
        $sessions | Remove-PSSession -ErrorAction Ignore
        if ($sshd -and -not $sshd.HasExited) { $sshd.Kill(); $sshd.WaitForExit() }
        Remove-Item $dir -Recurse -Force -ErrorAction Ignore
    }

    It 'runs the cmdlets on the remote side and brings back objects that still bind by name' {
        $limits = Invoke-Command @remote -ArgumentList $ModulePath, $fixture -ScriptBlock {
            param($module, $root)
            Import-Module $module
            Get-ConntrackLimit
            Get-ConntrackLimit -Root $root
        }
        $limits | Should -HaveCount 2
        $limits[0].PSComputerName | Should -Be '127.0.0.1'
        $limits[0].PSObject.TypeNames | Should -Contain 'Deserialized.ConntrackTuning.ConntrackLimit'
        $limits[0].Max | Should -Be ([long](Get-Content /proc/sys/net/netfilter/nf_conntrack_max))
        $limits[1].Max | Should -Be 65536
        # A deserialized object is a property bag; its Root still binds to the next cmdlet here.
        ($limits[1] | Get-ConntrackKernel).Era | Should -Be '2.6.27-nf_conntrack'
    }

    It 'collects one table from many hosts' {
        $sessions | Should -HaveCount 3
        $table = Invoke-Command -Session $sessions -ArgumentList $ModulePath -ScriptBlock { param($m) Import-Module $m; Get-ConntrackKernel }
        $table | Should -HaveCount 3
        $table.RunspaceId | Select-Object -Unique | Should -HaveCount 3
        $table.KernelRelease | Select-Object -Unique | Should -Be (& uname -r)
        ($table | Format-Table PSComputerName, KernelRelease, Tracker, ModuleState | Out-String) | Should -Match 'nf_conntrack'
    }

    It 'tunes as the README shows: remote change records tell what changed, and a rerun reports nothing' {
        # Each "host" tunes its own copy of a captured system (the README's block runs on / of each host).
        $roots = 1..3 | ForEach-Object { Copy-Fixture rhel6-2.6.32-nf_conntrack }
        $tune = {
            param($m, $root, $kernelRoots)
            # The copies stand in for each host's live system: the engine gives run-time writes only to the running
            # system or to a tree the test suite declares (see PlatformHooks), and SSH does not carry the variable.
            $env:CONNTRACK_TUNING_TEST_KERNEL_ROOTS = $kernelRoots
            Import-Module $m
            Get-ConntrackRecommendation -Root $root | Set-ConntrackLimit -Persist -PassThru -WarningAction SilentlyContinue
            Get-ConntrackRecommendation -Root $root | Set-ConntrackHashSize -Persist -PassThru -WarningAction SilentlyContinue
        }
        $first = for ($i = 0; $i -lt 3; $i++) { Invoke-Command -Session $sessions[$i] -ArgumentList $ModulePath, $roots[$i], $env:CONNTRACK_TUNING_TEST_KERNEL_ROOTS -ScriptBlock $tune }
        $first | Should -HaveCount 6
        $first[0].PSObject.TypeNames | Should -Contain 'Deserialized.ConntrackTuning.ConntrackChange'
        $changed = @($first | Where-Object Changed)
        $changed | Should -HaveCount 6
        ($changed | Format-Table PSComputerName, Setting, OldValue, NewValue, PersistedTo | Out-String) | Should -Match 'nf_conntrack_max'
        $recommended = Get-ConntrackRecommendation -Root $roots[0]
        foreach ($root in $roots) {
            (Get-ConntrackLimit -Root $root).Max | Should -Be $recommended.Max
            Get-Content "$root/etc/sysctl.conf" | Should -Contain "net.netfilter.nf_conntrack_max = $($recommended.Max)"
        }
        $again = for ($i = 0; $i -lt 3; $i++) { Invoke-Command -Session $sessions[$i] -ArgumentList $ModulePath, $roots[$i], $env:CONNTRACK_TUNING_TEST_KERNEL_ROOTS -ScriptBlock $tune }
        $again | Should -HaveCount 6
        @($again | Where-Object Changed) | Should -HaveCount 0

        # A deserialized recommendation binds Max and Root into a local Set-ConntrackLimit as the live object does.
        $remotePlan = Invoke-Command -Session $sessions[0] -ArgumentList $ModulePath, $fixture -ScriptBlock { param($m, $root) Import-Module $m; Get-ConntrackRecommendation -Root $root }
        $check = $remotePlan | Set-ConntrackLimit -WhatIf -PassThru -WarningAction SilentlyContinue
        $check.Root | Should -Be $fixture
        $check.NewValue | Should -Be $remotePlan.Max
        $check.Applied | Should -BeFalse
    }

    It 'collects the health findings of a fleet into one table, worst first' {
        $findings = Invoke-Command -Session $sessions -ArgumentList $ModulePath, $fixture -ScriptBlock {
            param($m, $root)
            Import-Module $m
            Test-ConntrackHealth -Root $root -MinimumSeverity Warning
        } | Sort-Object SeverityLevel -Descending
        $findings.Count | Should -BeGreaterThan 0
        ($findings.RunspaceId | Select-Object -Unique).Count | Should -Be 3
        $findings[0].Severity | Should -Be 'Critical'
        $findings | ForEach-Object { $_.SeverityLevel | Should -BeGreaterOrEqual 2 }
        ($findings | Where-Object Recommendation).Recommendation | Should -Match '^Set-Conntrack'
        ($findings | Format-Table PSComputerName, Severity, Check, Recommendation | Out-String) | Should -Match 'Usage'
    }
}
