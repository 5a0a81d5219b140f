BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
    if (-not $realKernelSkip -and -not (Get-Command setpriv -ErrorAction Ignore)) { $script:realKernelSkip = "'setpriv' is not installed (util-linux)" }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

Describe '-NetworkNamespace with a capture' {
    It 'is refused when typed with another root (NamespaceNeedsLiveRoot)' {
        $tree = Copy-Fixture linux-6.18-builtin
        Get-ConntrackStatistic -Root $tree -NetworkNamespace somewhere -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should -Be 'NamespaceNeedsLiveRoot,ConntrackTuning.Commands.GetConntrackStatisticCommand'
        $errs[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
    }

    It 'is ignored when it comes with an object of the capture (its own inode)' {
        $tree = Copy-Fixture linux-6.18-builtin
        $kernel = [pscustomobject]@{ Root = $tree; NetworkNamespace = '4026531840' }
        $stat = $kernel | Get-ConntrackStatistic -ErrorVariable errs
        $errs | Should -BeNullOrEmpty
        $stat.Root | Should -Be $tree
    }
}

# One throwaway ip netns with its own flows and timeouts; every cmdlet that takes -NetworkNamespace must see
# that namespace, by each way of naming it, and leave the host's values alone.
Describe '-NetworkNamespace on this kernel' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll {
        $script:named = 'cttw' + [guid]::NewGuid().ToString('n').Substring(0, 8)
        & ip netns add $named
        & ip -n $named link set lo up
        foreach ($i in 1..4) {
            & ip netns exec $named conntrack -I -p udp -s 127.0.0.1 -d 127.0.0.9 --sport (5000 + $i) --dport 53 -t 300 2>&1 | Out-Null
        }
        & ip netns exec $named sysctl -q -w net.netfilter.nf_conntrack_udp_timeout=77
        $script:inode = ((& stat -L -c %i "/run/netns/$named") | Out-String).Trim()
        $script:hostUdp = [IO.File]::ReadAllText('/proc/sys/net/netfilter/nf_conntrack_udp_timeout').Trim()
        $script:sleeper = Start-Process -FilePath ip -ArgumentList 'netns', 'exec', $named, 'sleep', '300' -PassThru
        $deadline = (Get-Date).AddSeconds(5)
        while ((& readlink "/proc/$($sleeper.Id)/ns/net") -ne "net:[$inode]" -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 20 }
        function Get-Inside([string] $Key) { (& ip netns exec $named sysctl -n $Key | Out-String).Trim() }
    }
    AfterAll {
        if ($script:sleeper) { Stop-Process -Id $script:sleeper.Id -Force -ErrorAction SilentlyContinue }
        & ip netns delete $script:named 2>$null
    }

    It 'reads the entries inside the namespace by name, inode, process id and path' {
        foreach ($spec in $named, $inode, "$($sleeper.Id)", "/run/netns/$named", "net:[$inode]") {
            $entries = @(Get-ConntrackEntry -NetworkNamespace $spec -Protocol udp)
            $entries.Count | Should -Be 4 -Because "-NetworkNamespace $spec"
            @($entries.SourcePort | Sort-Object) | Should -Be 5001, 5002, 5003, 5004
        }
        @(Get-ConntrackEntry -Protocol udp -Destination 127.0.0.9).Count | Should -Be 0 -Because 'the host table does not hold them'
    }

    It 'pipes Get-ConntrackNamespace into Get-ConntrackEntry -Summary by property name' {
        $summary = Get-ConntrackNamespace | Where-Object Name -eq $named | Get-ConntrackEntry -Summary
        $summary.Entries | Should -Be 4
        $summary.KernelCount | Should -Be ([long](@(& ip netns exec $named conntrack -C)[0]))
    }

    It 'reads the statistics and the timeouts of the namespace' {
        $stat = Get-ConntrackStatistic -NetworkNamespace $named
        $stat.NetworkNamespace | Should -Be $inode
        $stat.Entries | Should -Be 4
        $stat.IsInitialNamespace | Should -BeFalse
        (Get-ConntrackTimeout -NetworkNamespace $named -Protocol udp -State '').Seconds | Should -Be 77
        (Get-ConntrackTimeout -Protocol udp -State '').Seconds | Should -Be $hostUdp
    }

    It 'sets a timeout inside the namespace only, and -WhatIf changes nothing' {
        Set-ConntrackTimeout -NetworkNamespace $named -Protocol udp -Seconds 55 -WhatIf
        Get-Inside net.netfilter.nf_conntrack_udp_timeout | Should -Be '77'
        $change = Set-ConntrackTimeout -NetworkNamespace $named -Protocol udp -Seconds 55 -PassThru -Confirm:$false
        $change.OldValue | Should -Be 77
        $change.NewValue | Should -Be 55
        Get-Inside net.netfilter.nf_conntrack_udp_timeout | Should -Be '55'
        [IO.File]::ReadAllText('/proc/sys/net/netfilter/nf_conntrack_udp_timeout').Trim() | Should -Be $hostUdp
    }

    It 'refuses -Persist for a namespace (NamespaceCannotPersist), writing nothing' {
        Set-ConntrackTimeout -NetworkNamespace $named -Protocol udp -Seconds 44 -Persist -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should -Be 'NamespaceCannotPersist,ConntrackTuning.Commands.SetConntrackTimeoutCommand'
        Get-Inside net.netfilter.nf_conntrack_udp_timeout | Should -Not -Be '44'
    }

    It 'checks the health of the namespace' {
        $findings = @(Test-ConntrackHealth -NetworkNamespace $named -ErrorVariable errs)
        $errs | Should -BeNullOrEmpty
        ($findings | Where-Object Check -eq 'Namespace').Message | Should -Match 'not the initial'
        ($findings | Where-Object Check -eq 'Usage').Message | Should -Match '\b4 of\b|\(4 of'
    }

    It 'says when no namespace has that name (NamespaceNotFound)' {
        Get-ConntrackStatistic -NetworkNamespace 'cttw-no-such-namespace' -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should -Be 'NamespaceNotFound,ConntrackTuning.Commands.GetConntrackStatisticCommand'
        $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        Get-ConntrackEntry -NetworkNamespace '/etc/hostname' -ErrorVariable errs2 -ErrorAction SilentlyContinue
        $errs2[0].FullyQualifiedErrorId | Should -Be 'NamespaceNotFound,ConntrackTuning.Commands.GetConntrackEntryCommand'
    }

    It 'says when the namespace cannot be entered without CAP_SYS_ADMIN (NamespaceEnterFailed)' {
        # Root's uid keeps the pwsh under /root readable; with every capability dropped setns refuses (EPERM).
        $pwsh = Get-PwshCommand
        $script = "Import-Module '$ModulePath'; Get-ConntrackStatistic -NetworkNamespace '$named' -ErrorVariable e -ErrorAction SilentlyContinue; `$e[0].FullyQualifiedErrorId; `$e[0].CategoryInfo.Category"
        $out = @(& setpriv --bounding-set=-all --inh-caps=-all -- @pwsh -NoProfile -NonInteractive -Command $script)
        $out[0] | Should -Be 'NamespaceEnterFailed,ConntrackTuning.Commands.GetConntrackStatisticCommand'
        $out[1] | Should -Be 'PermissionDenied'
    }

    It 'completes the ip netns name' {
        $line = "Get-ConntrackEntry -NetworkNamespace $($named.Substring(0, 6))"
        $completion = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        $completion.CompletionMatches.CompletionText | Should -Contain $named
    }
}
