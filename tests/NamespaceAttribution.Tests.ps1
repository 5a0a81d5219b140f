BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
    if (-not $realKernelSkip -and -not (Get-Command bash -ErrorAction Ignore)) { $script:realKernelSkip = "'bash' is not installed" }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

# A table-full event provoked in a named ip netns: the global max is lowered for the few milliseconds a bash
# loop inside the namespace sends UDP to 60 ports of 127.0.0.1 (restored in a finally, under the lock every
# real-kernel test that touches the global max takes). The kernel names the namespace by inode; the cmdlets must
# name it back while it exists and say "gone" after.
Describe 'Attribution of table-full messages and per-namespace counts' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll {
        $script:named = 'cttw' + [guid]::NewGuid().ToString('n').Substring(0, 8)
        & ip netns add $named
        & ip -n $named link set lo up
        & ip netns exec $named sysctl -q -w net.netfilter.nf_conntrack_udp_timeout=600
        "table inet ctt {`n chain o { type filter hook output priority 0; ct state new counter; }`n}`n" | & ip netns exec $named nft -f -
        if ($LASTEXITCODE) { throw 'nft failed to install the tracking rule' }
        $script:inode = ((& stat -L -c %i "/run/netns/$named") | Out-String).Trim()
        # The sender runs only while the max is lowered, and is killed after 5 s at most: nothing may hold the
        # global max down for longer (no fifo or pipe that could block while it is lowered).
        $psi = [Diagnostics.ProcessStartInfo]::new('ip')
        foreach ($a in 'netns', 'exec', $named, 'bash', '-c', 'for p in $(seq 1 60); do echo x 2>/dev/null > /dev/udp/127.0.0.1/$((30000 + p)); done') {
            $psi.ArgumentList.Add($a)
        }
        $script:start = (Get-Date).AddSeconds(-1)
        $lock = Enter-ConntrackLock
        $maxPath = '/proc/sys/net/netfilter/nf_conntrack_max'
        $script:original = [IO.File]::ReadAllText($maxPath).Trim()
        try {
            [IO.File]::WriteAllText($maxPath, '20')
            $sender = [Diagnostics.Process]::Start($psi)
            if (-not $sender.WaitForExit(5000)) { $sender.Kill($true) }
        }
        finally {
            [IO.File]::WriteAllText($maxPath, $original)
            $lock.Dispose()
        }
        Start-Sleep -Milliseconds 300
        $script:events = @(Get-ConntrackDropEvent -Since $start | Where-Object NetworkNamespace -eq $inode)
        $script:health = @(Test-ConntrackHealth -Since $start)
        $script:metrics = @(Export-ConntrackMetric -TopNamespaces 10000 | Where-Object Name -eq 'conntrack_tuning_namespace_entries')
        $script:metricsTop1 = @(Export-ConntrackMetric -TopNamespaces 1 | Where-Object Name -eq 'conntrack_tuning_namespace_entries')
        $script:count = [long](@(& ip netns exec $named conntrack -C)[0])
        & ip netns delete $named
        Start-Sleep -Milliseconds 200
        $script:afterGone = @(Get-ConntrackDropEvent -Since $start | Where-Object NetworkNamespace -eq $inode)
    }
    AfterAll {
        & ip netns delete $script:named 2>$null
    }

    It 'restored the global max' {
        [IO.File]::ReadAllText('/proc/sys/net/netfilter/nf_conntrack_max').Trim() | Should -Be $original
    }

    It 'names the namespace of each table-full message while it exists' {
        $events.Count | Should -BeGreaterThan 0
        $events | ForEach-Object {
            $_.NamespaceName | Should -Be $named
            $_.Owner | Should -Be "ip netns $named"
        }
    }

    It 'says gone once the namespace is deleted' {
        $afterGone.Count | Should -Be $events.Count
        $afterGone | ForEach-Object {
            $_.NamespaceName | Should -Be 'gone'
            $_.Owner | Should -Be 'gone'
        }
    }

    It 'names the namespace in Test-ConntrackHealth' {
        $finding = $health | Where-Object { $_.Check -eq 'Namespaces' -and $_.Message -like '*Table-full messages name*' }
        $finding | Should -Not -BeNullOrEmpty
        $finding.Message | Should -BeLike "*$inode (ip netns $named)*"
        $finding.Severity | Should -Be 'Warning'
        $closest = $health | Where-Object { $_.Check -eq 'Namespaces' -and $_.Message -like 'Closest to the limit*' }
        $closest | Should -Not -BeNullOrEmpty
    }

    It 'exports the namespace''s entries with its name and owner, and bounds the series' {
        $mine = $metrics | Where-Object { $_.Labels['netns'] -eq $inode }
        $mine.Value | Should -Be $count
        $count | Should -Be 20 -Because 'the table filled to the lowered max'
        $mine.Labels['name'] | Should -Be $named
        $mine.Labels['owner'] | Should -Be "ip netns $named"
        $metricsTop1.Count | Should -Be 2
        @($metricsTop1 | Where-Object { $_.Labels['netns'] -eq 'other' }).Count | Should -Be 1
    }
}
