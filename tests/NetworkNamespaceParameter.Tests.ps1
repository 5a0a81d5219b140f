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

    It 'is refused by Remove-ConntrackEntry -WhatIf typed with a capture, rather than previewing the capture' {
        $tree = Copy-Fixture linux-6.18-entries
        Remove-ConntrackEntry -Root $tree -NetworkNamespace somewhere -Protocol tcp -WhatIf -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should -Be 'NamespaceNeedsLiveRoot,ConntrackTuning.Commands.RemoveConntrackEntryCommand'
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
        # Several namespaces piped in give several summaries: each says whose table it counted.
        $summary.NetworkNamespace | Should -Be $inode
        ($summary | Out-String) | Should -Match "Entries 4 from ctnetlink in network namespace $inode;"
        (Get-ConntrackEntry -Summary).NetworkNamespace | Should -BeNullOrEmpty -Because "this process's own table needs no name"
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

    It 'recommends a timeout fix for the namespace checked, which runs as written (no -Persist, the namespace named)' {
        $timeout = Test-ConntrackHealth -NetworkNamespace $named | Where-Object Check -eq 'TcpEstablishedTimeout'
        $timeout.Recommendation | Should -Be "Set-ConntrackTimeout -Protocol tcp -State established -Seconds 86400 -NetworkNamespace $inode"
        $before = Get-Inside net.netfilter.nf_conntrack_tcp_timeout_established
        Invoke-Expression "$($timeout.Recommendation) -WhatIf -ErrorVariable errs"
        $errs | Should -BeNullOrEmpty
        Get-Inside net.netfilter.nf_conntrack_tcp_timeout_established | Should -Be $before
    }

    It 'deletes entries inside the namespace with Remove-ConntrackEntry, and only there' {
        & ip netns exec $named conntrack -I -p udp -s 127.0.0.1 -d 127.0.0.10 --sport 6001 --dport 53 -t 300 2>&1 | Out-Null
        & conntrack -I -p udp -s 127.0.0.1 -d 127.0.0.10 --sport 6001 --dport 53 -t 300 2>&1 | Out-Null
        try {
            $result = Remove-ConntrackEntry -NetworkNamespace $named -Protocol udp -Destination 127.0.0.10 -Confirm:$false
            $result.Deleted | Should -Be 1
            $result.NetworkNamespace | Should -Be $inode -Because 'the record names the namespace acted on'
            @(Get-ConntrackEntry -NetworkNamespace $named -Protocol udp -Destination 127.0.0.10).Count | Should -Be 0
            @(Get-ConntrackEntry -Protocol udp -Destination 127.0.0.10).Count | Should -Be 1 -Because 'the host table is not touched'
        }
        finally {
            & conntrack -D -p udp -s 127.0.0.1 -d 127.0.0.10 2>&1 | Out-Null
        }
    }

    It 'deletes a piped entry in the namespace it was read from, not in the host, where the same tuple is another entry' {
        # A pod's connection is tracked in the pod's namespace and again, by the same original tuple, in the host's:
        # a piped entry of the pod must not cut the host's.
        & ip netns exec $named conntrack -I -p udp -s 127.0.0.1 -d 127.0.0.11 --sport 6002 --dport 53 -t 300 2>&1 | Out-Null
        & conntrack -I -p udp -s 127.0.0.1 -d 127.0.0.11 --sport 6002 --dport 53 -t 300 2>&1 | Out-Null
        try {
            $inside = @(Get-ConntrackEntry -NetworkNamespace $named -Protocol udp -Destination 127.0.0.11)
            $inside.Count | Should -Be 1
            $inside[0].NetworkNamespace | Should -Be $inode
            @(Get-ConntrackEntry -Protocol udp -Destination 127.0.0.11)[0].NetworkNamespace | Should -BeNullOrEmpty -Because 'this process''s own table needs no name'

            # A typed namespace that is not the entry's is refused, and nothing is deleted anywhere.
            $out = @($inside | Remove-ConntrackEntry -NetworkNamespace "$PID" -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue)
            $errs[0].FullyQualifiedErrorId | Should -Be 'EntryNamespaceMismatch,ConntrackTuning.Commands.RemoveConntrackEntryCommand'
            $errs[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
            $errs[0].TargetObject | Should -Be 'udp 127.0.0.1:6002 -> 127.0.0.11:53'
            $out | Should -BeNullOrEmpty
            @(& ip netns exec $named conntrack -L -p udp -d 127.0.0.11 2>$null).Count | Should -Be 1
            @(& conntrack -L -p udp -d 127.0.0.11 2>$null).Count | Should -Be 1

            $result = $inside | Remove-ConntrackEntry -Confirm:$false
            $result.Deleted | Should -Be 1
            $result.NetworkNamespace | Should -Be $inode
            @(& ip netns exec $named conntrack -L -p udp -d 127.0.0.11 2>$null).Count | Should -Be 0
            @(& conntrack -L -p udp -d 127.0.0.11 2>$null).Count | Should -Be 1 -Because 'the host''s entry of the same tuple is not the piped one'

            # Entries of two tables in one pipeline: each deleted in its own, one record for each.
            & ip netns exec $named conntrack -I -p udp -s 127.0.0.1 -d 127.0.0.11 --sport 6002 --dport 53 -t 300 2>&1 | Out-Null
            $both = @(Get-ConntrackEntry -NetworkNamespace $named -Protocol udp -Destination 127.0.0.11) + @(Get-ConntrackEntry -Protocol udp -Destination 127.0.0.11)
            $results = @($both | Remove-ConntrackEntry -Confirm:$false)
            $results.Count | Should -Be 2
            ($results | Where-Object NetworkNamespace -eq $inode).Deleted | Should -Be 1
            ($results | Where-Object { -not $_.NetworkNamespace }).Deleted | Should -Be 1
            @(& ip netns exec $named conntrack -L -p udp -d 127.0.0.11 2>$null).Count | Should -Be 0
            @(& conntrack -L -p udp -d 127.0.0.11 2>$null).Count | Should -Be 0
        }
        finally {
            & conntrack -D -p udp -s 127.0.0.1 -d 127.0.0.11 2>&1 | Out-Null
        }
    }

    It 'says once when the namespace piped entries came from is gone, and counts the rest in a warning' {
        $gone = 'cttg' + [guid]::NewGuid().ToString('n').Substring(0, 8)
        & ip netns add $gone
        try {
            foreach ($i in 1..3) { & ip netns exec $gone conntrack -I -p udp -s 127.0.0.1 -d 127.0.0.12 --sport (7000 + $i) --dport 53 -t 300 2>&1 | Out-Null }
            $entries = @(Get-ConntrackEntry -NetworkNamespace $gone -Protocol udp)
            $entries.Count | Should -Be 3
        }
        finally {
            & ip netns delete $gone 2>$null
        }
        $out = @($entries | Remove-ConntrackEntry -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue -WarningVariable warns -WarningAction SilentlyContinue)
        $out | Should -BeNullOrEmpty
        @($errs).Count | Should -Be 1 -Because 'one error for the namespace, not one per entry'
        $errs[0].FullyQualifiedErrorId | Should -Be 'NamespaceNotFound,ConntrackTuning.Commands.RemoveConntrackEntryCommand'
        $warns | Should -Be "2 more piped entries of network namespace $($entries[0].NetworkNamespace) were not deleted: it could not be entered (see the error)."
    }

    It 'runs the next command of the pipeline in its own namespace, not in the one the previous command entered' {
        # The next command's ProcessRecord runs inside the WriteObject call: it must not inherit -NetworkNamespace.
        $seen = Get-ConntrackTimeout -NetworkNamespace $named -Protocol udp -State '' | ForEach-Object { (Get-ConntrackTimeout -Protocol udp -State '').Seconds }
        $seen | Should -Be ([long]$hostUdp)
    }

    It 'pipes a timeout read in the namespace to Set-ConntrackTimeout, which changes it there, also when the objects were saved first' {
        $before = Get-Inside net.netfilter.nf_conntrack_udp_timeout
        try {
            $saved = Get-ConntrackTimeout -NetworkNamespace $named -Protocol udp -State ''
            $saved.NetworkNamespace | Should -Be $inode
            (Get-ConntrackTimeout -Protocol udp -State '').NetworkNamespace | Should -BeNullOrEmpty -Because 'this process''s own needs no name'
            $change = $saved | Set-ConntrackTimeout -Seconds 66 -Confirm:$false -PassThru
            $change.Applied | Should -BeTrue
            Get-Inside net.netfilter.nf_conntrack_udp_timeout | Should -Be '66'
            [IO.File]::ReadAllText('/proc/sys/net/netfilter/nf_conntrack_udp_timeout').Trim() | Should -Be $hostUdp -Because 'the host''s timeout is not touched'
        }
        finally {
            & ip netns exec $named sysctl -q -w "net.netfilter.nf_conntrack_udp_timeout=$before"
        }
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

# The listeners and the table actions: Get-ConntrackEvent, Watch-Conntrack, Clear-ConntrackTable and
# Get-ConntrackExpectation with -NetworkNamespace, each proved against what conntrack sees inside the namespace and
# against a marker entry (or event) made on the host at the same time, which they must not see or touch.
Describe '-NetworkNamespace on the listeners and the table actions' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll {
        $script:lock = Enter-ConntrackLock
        $script:named = 'cttw' + [guid]::NewGuid().ToString('n').Substring(0, 8)
        $script:other = "$named-b"
        & ip netns add $named
        & ip netns add $other
        & ip -n $named link set lo up
        $script:inode = ((& stat -L -c %i "/run/netns/$named") | Out-String).Trim()
        # Real loopback traffic is tracked only where a rule asks for conntrack; unreplied UDP lives long enough here
        # for every count taken below to agree.
        "table inet ctt {`n chain o { type filter hook output priority 0; ct state new counter; }`n}`n" | & ip netns exec $named nft -f -
        if ($LASTEXITCODE) { throw 'nft failed to install the tracking rule in the namespace' }
        & ip netns exec $named sysctl -q -w net.netfilter.nf_conntrack_udp_timeout=600
        $script:hostMarks = [Collections.Generic.List[string]]::new()

        function Add-Entries([string] $Destination, [int[]] $SourcePorts, [switch] $OnHost) {
            foreach ($port in $SourcePorts) {
                $cli = @('conntrack', '-I', '-p', 'udp', '-s', '127.0.0.1', '-d', $Destination, '--sport', "$port", '--dport', '53', '-t', '300')
                if ($OnHost) { & $cli[0] @($cli[1..($cli.Count - 1)]) 2>&1 | Out-Null } else { & ip netns exec $named @cli 2>&1 | Out-Null }
                if ($LASTEXITCODE) { throw "conntrack -I $Destination $port failed" }
            }
            if ($OnHost) { $script:hostMarks.Add($Destination) }
        }
        function Get-InsideCount { [long](@(& ip netns exec $named conntrack -C)[0]) }
        function Get-HostLines([string] $Destination) { @(& conntrack -L -p udp -d $Destination 2>$null) }
        # A bash script run in the background after a delay (the listener must be listening first); the names
        # come in as arguments, never inside the script text.
        function Start-Later([string] $Script) {
            $psi = [Diagnostics.ProcessStartInfo]::new('bash')
            foreach ($a in '-c', $Script, 'later', $named) { $psi.ArgumentList.Add($a) }
            $psi.UseShellExecute = $false
            $psi.RedirectStandardOutput = $true
            $psi.RedirectStandardError = $true
            [Diagnostics.Process]::Start($psi)
        }
        Add-Entries 127.0.0.9 (5001..5040)
    }
    AfterAll {
        foreach ($d in $script:hostMarks) { & conntrack -D -p udp -d $d 2>&1 | Out-Null }
        & ip netns delete $script:named 2>$null
        & ip netns delete $script:other 2>$null
        $script:lock.Dispose()
    }

    It 'Get-ConntrackEvent hears the events of the namespace (inserts and real loopback traffic), not the host''s' {
        # The host's event is sent first: a listener in the wrong namespace would count it among its 4.
        $gen = Start-Later @'
sleep 1.5
conntrack -I -p udp -s 127.0.0.1 -d 127.0.0.20 --sport 7009 --dport 53 -t 300 >/dev/null 2>&1
for p in 7001 7002 7003; do ip netns exec "$1" conntrack -I -p udp -s 127.0.0.1 -d 127.0.0.20 --sport $p --dport 53 -t 300 >/dev/null 2>&1; done
ip netns exec "$1" bash -c 'echo x > /dev/udp/127.0.0.1/7100'
'@
        $script:hostMarks.Add('127.0.0.20')
        $events = @(Get-ConntrackEvent -NetworkNamespace $named -EventType New -Protocol udp -Count 4 -Duration 20)
        $gen.WaitForExit(10000) | Out-Null
        $events.Count | Should -Be 4
        @($events | Where-Object Destination -eq '127.0.0.20' | ForEach-Object SourcePort | Sort-Object) | Should -Be 7001, 7002, 7003
        @($events | Where-Object DestinationPort -eq 7100).Count | Should -Be 1 -Because 'the datagram sent inside the namespace is tracked there'
        $events.SourcePort | Should -Not -Contain 7009
        Get-HostLines 127.0.0.20 | Should -HaveCount 1 -Because 'the host did get its own entry'
        # Listeners of several namespaces (one job each) merge into one stream that says whose each event is.
        @($events.NetworkNamespace | Sort-Object -Unique) | Should -Be @($inode)
        (Get-ConntrackEvent -NetworkNamespace $named -Summary -Duration 0.5).NetworkNamespace | Should -Be $inode
    }

    It 'Watch-Conntrack samples the namespace''s count and counts only its new connections' {
        $inside = Get-InsideCount
        $outside = [long](@(& conntrack -C)[0])
        $inside | Should -Not -Be $outside -Because 'the test needs a namespace whose count differs from the host''s'
        $gen = Start-Later @'
sleep 1.2
for p in 7211 7212; do conntrack -I -p udp -s 127.0.0.1 -d 127.0.0.21 --sport $p --dport 53 -t 300 >/dev/null 2>&1; done
for p in 7201 7202 7203 7204 7205; do ip netns exec "$1" conntrack -I -p udp -s 127.0.0.1 -d 127.0.0.21 --sport $p --dport 53 -t 300 >/dev/null 2>&1; done
'@
        $script:hostMarks.Add('127.0.0.21')
        $samples = @(Watch-Conntrack -NetworkNamespace $named -Interval 1 -Count 4 -AsObject -WarningVariable warned)
        $gen.WaitForExit(10000) | Out-Null
        $warned | Should -BeNullOrEmpty
        $samples.Count | Should -Be 4
        $samples[0].Count | Should -Be $inside
        $samples[-1].Count | Should -Be ($inside + 5)
        $samples[-1].Count | Should -Be (Get-InsideCount)
        $samples[-1].NewConnectionsTotal | Should -Be 5 -Because 'the 2 host inserts are not in this namespace'
        $samples[-1].Max | Should -Be ([long][IO.File]::ReadAllText('/proc/sys/net/netfilter/nf_conntrack_max')) -Because 'every namespace counts against the one global max'
        # Samples kept or exported from several watches still say which namespace each watched.
        $samples.NetworkNamespace | Sort-Object -Unique | Should -Be $inode
    }

    It 'Clear-ConntrackTable flushes the namespace''s table only, and -WhatIf flushes nothing' {
        Add-Entries 127.0.0.22 7301 -OnHost
        $before = Get-InsideCount
        $before | Should -BeGreaterThan 40
        Clear-ConntrackTable -NetworkNamespace $named -WhatIf
        Get-InsideCount | Should -Be $before
        $r = Clear-ConntrackTable -NetworkNamespace $named -Confirm:$false
        $r.Table | Should -Be 'Connection'
        $r.Matched | Should -Be $before
        $r.Deleted | Should -Be $before
        $r.NetworkNamespace | Should -Be $inode
        Get-InsideCount | Should -Be 0
        Get-HostLines 127.0.0.22 | Should -HaveCount 1 -Because 'the host''s table is not flushed'
        [long](@(& conntrack -C)[0]) | Should -BeGreaterThan 0
    }

    It 'lists and flushes the expectations made in the namespace, not the host''s' {
        $work = Join-Path $TestDrive 'ftp'
        $null = New-Item -ItemType Directory -Force $work
        # The ftp helper on tcp port 21 of the namespace, assigned by an nft ct helper object (as in
        # ConntrackExpectation.Tests.ps1); each PASV answer makes one expectation.
        "table inet cth {`n ct helper ftp-std {`n type `"ftp`" protocol tcp;`n }`n chain out {`n type filter hook output priority filter; policy accept;`n tcp dport 21 ct helper set `"ftp-std`"`n }`n}`n" | & ip netns exec $named nft -f -
        if ($LASTEXITCODE) { throw 'nft failed to load the helper rule' }
        Set-Content (Join-Path $work 'ftp.py') @'
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 21)); srv.listen(16)
held = []
for i in range(int(sys.argv[1])):
    c = socket.create_connection(("127.0.0.1", 21)); a, _ = srv.accept()
    a.sendall(b"220 ready\r\n"); c.recv(100)
    c.sendall(b"PASV\r\n"); a.recv(100)
    port = 20000 + i
    a.sendall(("227 Entering Passive Mode (127,0,0,1,%d,%d).\r\n" % (port >> 8, port & 255)).encode())
    c.recv(100)
    held += [c, a]
print("ready", flush=True)
sys.stdin.readline()
'@
        $psi = [Diagnostics.ProcessStartInfo]::new('ip')
        foreach ($a in 'netns', 'exec', $named, 'python3', (Join-Path $work 'ftp.py'), '2') { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardInput = $true; $psi.RedirectStandardOutput = $true; $psi.UseShellExecute = $false
        $ftp = [Diagnostics.Process]::Start($psi)
        try {
            $ftp.StandardOutput.ReadLine() | Should -Be 'ready'
            $listed = @(Get-ConntrackExpectation -NetworkNamespace $named)
            $listed.Count | Should -Be 2
            @($listed.DestinationPort | Sort-Object) | Should -Be 20000, 20001
            $listed.Helper | Should -Be 'ftp', 'ftp'
            $listed.MasterDestinationPort | Should -Be 21, 21
            $listed[0].ReadFrom | Should -Be 'ctnetlink'
            $listed.NetworkNamespace | Should -Be $inode, $inode -Because 'expectations of several namespaces say whose each is'
            @(& ip netns exec $named conntrack -L expect 2>$null).Count | Should -Be 2
            @(Get-ConntrackExpectation | Where-Object { $_.Helper -eq 'ftp' -and $_.MasterDestinationPort -eq 21 -and $_.DestinationPort -in 20000, 20001 }).Count |
                Should -Be 0 -Because 'the host''s expectation table does not hold them'

            $r = Clear-ConntrackTable -NetworkNamespace $inode -Table Expectation -Confirm:$false
            $r.Table | Should -Be 'Expectation'
            $r.Matched | Should -Be 2
            $r.NetworkNamespace | Should -Be $inode
            @(& ip netns exec $named conntrack -L expect 2>$null).Count | Should -Be 0
        }
        finally {
            $ftp.StandardInput.WriteLine()
            $ftp.WaitForExit(10000) | Out-Null
        }
    }

    It 'binds Get-ConntrackNamespace''s objects by property name into each of them' {
        # The ftp control connections of the test before are still tracked (closing): start from an empty table.
        & ip netns exec $named conntrack -F 2>&1 | Out-Null
        Add-Entries 127.0.0.23 (7401..7403)
        $ns = Get-ConntrackNamespace | Where-Object Name -eq $named
        $ns.NetworkNamespace | Should -Be $inode
        ($ns | Watch-Conntrack -Count 1 -AsObject).Count | Should -Be 3
        @($ns | Get-ConntrackExpectation).Count | Should -Be 0
        $gen = Start-Later @'
sleep 1.5
ip netns exec "$1" conntrack -I -p udp -s 127.0.0.1 -d 127.0.0.23 --sport 7404 --dport 53 -t 300 >/dev/null 2>&1
'@
        $heard = @($ns | Get-ConntrackEvent -EventType New -Count 1 -Duration 20)
        $gen.WaitForExit(10000) | Out-Null
        $heard.SourcePort | Should -Be 7404
        $r = $ns | Clear-ConntrackTable -Confirm:$false
        $r.Matched | Should -Be 4
        $r.NetworkNamespace | Should -Be $inode
        Get-InsideCount | Should -Be 0
    }

    It 'Clear-ConntrackTable flushes a namespace once, with one question, however many of its records are piped' {
        Add-Entries 127.0.0.24 (7501..7503)
        $records = @(Get-ConntrackEntry -NetworkNamespace $named -Protocol udp -Destination 127.0.0.24)
        $records.Count | Should -Be 3
        $results = @($records | Clear-ConntrackTable -Confirm:$false)
        $results.Count | Should -Be 1 -Because 'three records of one namespace name one table'
        $results[0].Matched | Should -Be 3
        $results[0].NetworkNamespace | Should -Be $inode
        Get-InsideCount | Should -Be 0
    }

    It 'refuses more than one namespace piped into a listener (NamespaceOneAtATime), and takes one by two names' {
        $two = @(Get-ConntrackNamespace | Where-Object Name -in $named, $other)
        $two.Count | Should -Be 2
        $samples = @($two | Watch-Conntrack -Count 1 -AsObject -ErrorVariable errs -ErrorAction SilentlyContinue)
        $samples.Count | Should -Be 0
        $errs[0].FullyQualifiedErrorId | Should -Be 'NamespaceOneAtATime,ConntrackTuning.Commands.WatchConntrackCommand'
        $errs[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $heard = @($two | Get-ConntrackEvent -Duration 1 -ErrorVariable errs2 -ErrorAction SilentlyContinue)
        $heard.Count | Should -Be 0
        $errs2[0].FullyQualifiedErrorId | Should -Be 'NamespaceOneAtATime,ConntrackTuning.Commands.GetConntrackEventCommand'

        $same = @([pscustomobject]@{ NetworkNamespace = $named; Root = '/' }, [pscustomobject]@{ NetworkNamespace = $inode; Root = '/' } | Watch-Conntrack -Count 1 -AsObject -ErrorVariable errs3)
        $errs3 | Should -BeNullOrEmpty
        $same.Count | Should -Be 1
        $same[0].Count | Should -Be (Get-InsideCount)
    }

    It 'reads nf_conntrack_events inside the namespace: off there, the listener says so while the host''s are on' {
        & ip netns exec $other sysctl -q -w net.netfilter.nf_conntrack_events=0
        [IO.File]::ReadAllText('/proc/sys/net/netfilter/nf_conntrack_events').Trim() | Should -Not -Be '0' -Because 'the host sends events'
        Get-ConntrackEvent -NetworkNamespace $other -Duration 1 -ErrorVariable errs -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $errs[0].FullyQualifiedErrorId | Should -Be 'ConntrackEventsDisabled,ConntrackTuning.Commands.GetConntrackEventCommand'
        $errs[0].Exception.Message | Should -BeLike '*off in this network namespace*'
        $sample = Watch-Conntrack -NetworkNamespace $other -Count 1 -AsObject -WarningVariable w 3>$null
        $sample.NewPerSecond | Should -BeNullOrEmpty
        ($w -join "`n") | Should -BeLike '*New connections per second are left out*nf_conntrack_events = 0*'
    }

    It 'completes the ip netns name for each of them' {
        foreach ($cmd in 'Get-ConntrackEvent', 'Watch-Conntrack', 'Clear-ConntrackTable', 'Get-ConntrackExpectation') {
            $line = "$cmd -NetworkNamespace $($named.Substring(0, 6))"
            (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain $named -Because $cmd
        }
    }

    It 'refuses -NetworkNamespace typed with a capture on each of them (NamespaceNeedsLiveRoot)' {
        $tree = Copy-Fixture linux-6.18-entries
        Get-ConntrackExpectation -Root $tree -NetworkNamespace $named -ErrorVariable e1 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e1[0].FullyQualifiedErrorId | Should -Be 'NamespaceNeedsLiveRoot,ConntrackTuning.Commands.GetConntrackExpectationCommand'
        Clear-ConntrackTable -Root $tree -NetworkNamespace $named -Confirm:$false -ErrorVariable e2 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e2[0].FullyQualifiedErrorId | Should -Be 'NamespaceNeedsLiveRoot,ConntrackTuning.Commands.ClearConntrackTableCommand'
        Watch-Conntrack -Root $tree -NetworkNamespace $named -Count 1 -AsObject -ErrorVariable e3 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e3[0].FullyQualifiedErrorId | Should -Be 'NamespaceNeedsLiveRoot,ConntrackTuning.Commands.WatchConntrackCommand'
        Get-ConntrackEvent -Root $tree -NetworkNamespace $named -Duration 1 -ErrorVariable e4 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e4[0].FullyQualifiedErrorId | Should -Be 'NamespaceNeedsLiveRoot,ConntrackTuning.Commands.GetConntrackEventCommand'
    }
}
