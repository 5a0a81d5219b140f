# The Ansible role in examples/ansible, run by Debian's ansible-playbook against this machine (-c local): check
# mode first, then the real run, then the same play again, asserting the changed counts. It changes only a fixture
# copy and the timeouts of a throwaway network namespace that ansible-playbook runs inside.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:skip = Get-RealKernelSkipReason
    if (-not $skip -and -not (Get-Command ansible-playbook -ErrorAction Ignore)) { $script:skip = "ansible-playbook is not installed (apt-get install ansible)" }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

Describe 'The conntrack_tuning Ansible role' -Tag RealKernel -Skip:([bool]$skip) {
    BeforeAll {
        $script:lock = Enter-ConntrackLock
        $script:fixture = Copy-Fixture ubuntu-5.15-module-noprocfs
        $script:netns = "ctt-ansible-$([guid]::NewGuid().ToString('n').Substring(0, 8))"
        & ip netns add $netns
        if ($LASTEXITCODE) { throw "ip netns add $netns failed" }
        $timeoutDir = '/proc/sys/net/netfilter'

        function Invoke-Playbook([switch] $Check) {
            $pwsh = (Get-PwshCommand) -join ' '
            $arguments = @('netns', 'exec', $netns, 'ansible-playbook', '-i', 'localhost,', '-c', 'local',
                (Join-Path $RepoRoot 'tests/ansible/integration.yml'),
                '-e', "ansible_pwsh_interpreter='$pwsh' conntrack_tuning_module=$ModulePath fixture_root=$fixture")
            if ($Check) { $arguments += '--check', '--diff' }
            $saved = $env:ANSIBLE_STDOUT_CALLBACK, $env:ANSIBLE_ROLES_PATH, $env:ANSIBLE_NOCOLOR
            try {
                $env:ANSIBLE_STDOUT_CALLBACK = 'ansible.posix.json'
                $env:ANSIBLE_ROLES_PATH = Join-Path $RepoRoot 'examples/ansible/roles'
                $env:ANSIBLE_NOCOLOR = '1'
                $output = & ip @arguments 2>$null
            }
            finally {
                $env:ANSIBLE_STDOUT_CALLBACK, $env:ANSIBLE_ROLES_PATH, $env:ANSIBLE_NOCOLOR = $saved
            }
            $run = ($output -join "`n") | ConvertFrom-Json -Depth 20
            # One result per application of the role (the json callback names tasks "role : task").
            $results = @($run.plays.tasks | Where-Object { $_.task.name -like '*: Size, apply and persist conntrack settings' } |
                ForEach-Object { $_.hosts.localhost })
            if ($results.Count -ne 2) { throw "Expected the role's module task twice in the output, found $($results.Count)." }
            [pscustomobject]@{ Stats = $run.stats.localhost; Results = $results }
        }

        function Get-NetnsValue([string] $Name) { [long](& ip netns exec $netns cat "$timeoutDir/$Name") }

        $script:hostEstablished = [long](Get-Content "$timeoutDir/nf_conntrack_tcp_timeout_established")
        $script:before = Get-TreeState $fixture
        $script:checkRun = Invoke-Playbook -Check
        $script:afterCheck = Get-TreeState $fixture
        $script:establishedAfterCheck = Get-NetnsValue nf_conntrack_tcp_timeout_established
        $script:realRun = Invoke-Playbook
        $script:established = Get-NetnsValue nf_conntrack_tcp_timeout_established
        $script:udp = Get-NetnsValue nf_conntrack_udp_timeout
        $script:rerun = Invoke-Playbook
    }

    AfterAll {
        if ($netns) { & ip netns delete $netns }
        $lock.Dispose()
    }

    It 'in check mode reports both targets as changed and touches nothing' {
        $checkRun.Stats.failures | Should -Be 0
        $checkRun.Stats.changed | Should -Be 2
        $checkRun.Results | ForEach-Object { $_.changed | Should -BeTrue }
        $checkRun.Results[0].changes.Applied | Should -Not -Contain $true
        $afterCheck | Should -Be $before
        $establishedAfterCheck | Should -Be 432000
    }

    It 'in check mode shows the file changes as a diff' {
        $diff = @($checkRun.Results[0].diff)
        $diff.before_header | Should -Contain "$fixture/etc/sysctl.d/90-conntrack-tuning.conf"
        ($diff | Where-Object before_header -like '*modules-load.d*').after | Should -Match 'nf_conntrack'
    }

    It 'applies and persists on the real run, reporting what changed' {
        $realRun.Stats.failures | Should -Be 0
        $realRun.Stats.changed | Should -Be 2
        $recommended = Get-ConntrackRecommendation -Root $fixture -WarningAction SilentlyContinue
        (Get-ConntrackLimit -Root $fixture).Max | Should -Be $recommended.Max
        Get-Content "$fixture/etc/sysctl.d/90-conntrack-tuning.conf" | Should -Contain "net.netfilter.nf_conntrack_max = $($recommended.Max)"
        Get-Content "$fixture/etc/sysctl.d/90-conntrack-tuning.conf" | Should -Contain 'net.netfilter.nf_conntrack_tcp_timeout_established = 86400'
        Get-Content "$fixture/etc/modules-load.d/conntrack-tuning.conf" | Should -Contain 'nf_conntrack'
        # The hash size too: run time through the module parameter, and for the next load as a module option.
        (Get-ConntrackLimit -Root $fixture).HashSize | Should -Be $recommended.HashSize
        Get-Content "$fixture/etc/modprobe.d/conntrack-tuning.conf" | Should -Contain "options nf_conntrack hashsize=$($recommended.HashSize)"
        $established | Should -Be 7200
        $udp | Should -Be 45
        # The namespace's timeouts are its own; the host keeps its value.
        [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established) | Should -Be $hostEstablished
    }

    It 'returns the limits and health findings as facts' {
        $facts = $realRun.Results[0].ansible_facts.conntrack
        $facts.limit.Max | Should -Be (Get-ConntrackLimit -Root $fixture).Max
        $facts.kernel.Tracker | Should -Be 'nf_conntrack'
        @($facts.health).Count | Should -BeGreaterThan 0
        $facts.health[0].Severity | Should -BeIn 'Ok', 'Info', 'Warning', 'Critical'
    }

    It 'changes nothing when the same play runs again' {
        $rerun.Stats.failures | Should -Be 0
        $rerun.Stats.changed | Should -Be 0
        $rerun.Results | ForEach-Object { $_.changed | Should -BeFalse }
    }
}
