BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:data = Join-Path $PSScriptRoot 'ConntrackTuning.Engine.Tests/Data'
    $script:id = 'ConntrackTuning.Commands.GetConntrackEntryCommand'

    # An independent reading of one conntrack -L or procfs line (regular expressions, not the engine), reduced to
    # what identifies an entry: protocol, original tuple, state and flags, mark and zone.
    function ConvertTo-EntryKey([string] $Line) {
        if ($Line -notmatch '^(?:ipv[46]\s+\d+\s+)?(?<proto>\S+)\s+(?<num>\d+)\s+(?:\d+\s+)?(?<state>[A-Z_0-9]+\s+)?.*?src=(?<src>\S+) dst=(?<dst>\S+)(?: sport=(?<sport>\d+) dport=(?<dport>\d+))?') { return $null }
        $m = $Matches
        $proto = if ($m.proto -eq 'unknown') { $m.num } else { $m.proto }
        $state = if ($m.state -and $m.state.Trim() -notmatch '^(timeout|stream_timeout)') { $m.state.Trim() } else { '' }
        $src = [Net.IPAddress]::Parse($m.src).ToString()
        $dst = [Net.IPAddress]::Parse($m.dst).ToString()
        $mark = if ($Line -match ' mark=(\d+)') { $Matches[1] } else { '' }
        $zone = if ($Line -match ' zone=(\d+)') { $Matches[1] } else { '0' }
        '{0} {1}:{2} {3}:{4} {5} U={6} A={7} m={8} z={9}' -f $proto, $src, $m.sport, $dst, $m.dport, $state,
        ($Line -match '\[UNREPLIED\]'), ($Line -match '\[ASSURED\]'), $mark, $zone
    }

    function Get-EntryKey($Entry) {
        '{0} {1}:{2} {3}:{4} {5} U={6} A={7} m={8} z={9}' -f $Entry.Protocol, $Entry.Source, $Entry.SourcePort, $Entry.Destination,
        $Entry.DestinationPort, $Entry.State, $Entry.Unreplied, $Entry.Assured, $Entry.Mark, $Entry.Zone
    }
}

Describe 'Get-ConntrackEntry on fixture trees and saved files' {
    BeforeAll {
        $script:root = Copy-Fixture linux-6.18-entries
        $script:lines = @(Get-Content (Join-Path $root 'proc/net/nf_conntrack'))
        $script:keys = @($lines | ForEach-Object { ConvertTo-EntryKey $_ })
    }

    It 'lists every entry of a root''s procfs copy as typed objects' {
        $entries = @(Get-ConntrackEntry -Root $root)
        $entries.Count | Should -Be $lines.Count
        $entries[0].PSObject.TypeNames[0] | Should -Be 'ConntrackTuning.ConntrackEntry'
        @($entries | ForEach-Object { Get-EntryKey $_ } | Sort-Object) | Should -Be @($keys | Sort-Object)
        $gre = $entries | Where-Object Protocol -EQ gre
        $gre.GreSourceKey, $gre.GreDestinationKey | Should -Be 1, 2
        ($entries | Where-Object Protocol -EQ icmpv6).Source | Should -Be '::1'
        ($entries | Where-Object DestinationPort -EQ 6000).Nat | Should -BeTrue
        $entries | Where-Object { $null -eq $_.OriginalPackets } | Should -HaveCount 0
    }

    It 'filters by <Name> like conntrack -L does' -TestCases @(
        @{ Name = 'protocol'; Filter = @{ Protocol = 'udp' }; Where = { $_ -like 'udp *' } }
        @{ Name = 'protocol number'; Filter = @{ Protocol = '253' }; Where = { $_ -like '253 *' } }
        @{ Name = 'state'; Filter = @{ State = 'ESTABLISHED' }; Where = { $_ -match ' ESTABLISHED ' } }
        @{ Name = 'source CIDR'; Filter = @{ Source = '10.0.0.0/29' }; Where = { $_ -match ' 10\.0\.0\.[0-7]:' } }
        @{ Name = 'destination'; Filter = @{ Destination = '::1' }; Where = { $_ -match ' ::1:\d* ::1:' } }
        @{ Name = 'port'; Filter = @{ Port = 5000 }; Where = { $_ -match ':5000 ' } }
        @{ Name = 'destination port'; Filter = @{ DestinationPort = 53, 7777 }; Where = { $_ -match ':(53|7777) ' } }
        @{ Name = 'mark'; Filter = @{ Mark = '7' }; Where = { $_ -match ' m=7 ' } }
        @{ Name = 'mark with mask'; Filter = @{ Mark = '0x78/0xff' }; Where = { $_ -match ' m=305419896 ' } }
        @{ Name = 'zone'; Filter = @{ Zone = 5 }; Where = { $_ -match ' z=5$' } }
        @{ Name = 'unreplied'; Filter = @{ Unreplied = $true }; Where = { $_ -match 'U=True' } }
        @{ Name = 'assured'; Filter = @{ Assured = $true }; Where = { $_ -match 'A=True' } }
        @{ Name = 'family'; Filter = @{ Family = 'IPv6' }; Where = { $_ -match '::1' } }
        @{ Name = 'several filters'; Filter = @{ Protocol = 'tcp'; Assured = $true; Destination = '127.0.0.0/8' }; Where = { $_ -like 'tcp *' -and $_ -match 'A=True' -and $_ -match ' 127\.0\.0\.1:\d+ ' } }
    ) {
        param($Name, $Filter, $Where)
        $expected = @($keys | Where-Object $Where | Sort-Object)
        $expected.Count | Should -BeGreaterThan 0
        @(Get-ConntrackEntry -Root $root @Filter | ForEach-Object { Get-EntryKey $_ } | Sort-Object) | Should -Be $expected
    }

    It 'summarizes the table with shares, unreplied and assured counts' {
        $s = Get-ConntrackEntry -Root $root -Summary -Top 3
        $s.PSObject.TypeNames[0] | Should -Be 'ConntrackTuning.ConntrackSummary'
        $s.Entries | Should -Be $lines.Count
        $s.KernelCount | Should -Be 21
        $s.Max | Should -Be 262144
        $s.Unreplied | Should -Be @($lines -match '\[UNREPLIED\]').Count
        $s.Assured | Should -Be @($lines -match '\[ASSURED\]').Count
        $udp = $s.ByProtocol | Where-Object Protocol -EQ udp
        $udp.Count | Should -Be @($lines -match '^ipv[46]\s+\d+ udp ').Count
        $udp.Percent | Should -Be ([math]::Round(100 * $udp.Count / $lines.Count, 2))
        $s.TopSources | Should -HaveCount 3
        $s.TopSources[0].Source | Should -Be '127.0.0.1'
        $s.TopSources[0].Count | Should -Be @($keys -match '^\S+ 127\.0\.0\.1:').Count
        $s.TopDestinationPorts[0].DestinationPort | Should -Be 5000
        $s.Source | Should -Be (Join-Path $root 'proc/net/nf_conntrack')
        $s.Exact | Should -BeTrue
    }

    It 'reads saved conntrack -L output given to -Path, and finds the same entries as in the procfs copy' {
        $saved = Join-Path $data 'dump-mixed.conntrack-L.txt'
        $fromSaved = @(Get-ConntrackEntry -Path $saved | ForEach-Object { Get-EntryKey $_ } | Sort-Object)
        $fromSaved | Should -Be @($keys | Sort-Object)
        @(Get-Content $saved | ForEach-Object { ConvertTo-EntryKey $_ } | Sort-Object) | Should -Be $fromSaved
        (Get-ConntrackEntry -Path $saved | Where-Object Id).Count | Should -Be $lines.Count
    }

    It 'reads every file piped from Get-ChildItem, and every folder as a root' {
        $dir = Join-Path $TestDrive 'saved'
        $null = New-Item -ItemType Directory $dir
        Copy-Item (Join-Path $data 'dump-mixed.conntrack-L.txt') (Join-Path $dir 'a.txt')
        Copy-Item (Join-Path $data 'dump-large.conntrack-L.txt') (Join-Path $dir 'b.txt')
        $summaries = @(Get-ChildItem $dir -File | Sort-Object Name | Get-ConntrackEntry -Summary)
        $summaries.Entries | Should -Be $lines.Count, @(Get-Content (Join-Path $dir 'b.txt')).Count
        $summaries[1].Root | Should -Be (Join-Path $dir 'b.txt')

        $roots = Join-Path $TestDrive 'roots'
        $null = Copy-Fixture linux-6.18-entries -Destination (Join-Path $roots 'host-a')
        $null = Copy-Fixture linux-6.18-entries -Destination (Join-Path $roots 'host-b')
        (Get-ChildItem $roots -Directory | Get-ConntrackEntry -Summary).Root | Should -Be (Join-Path $roots 'host-a'), (Join-Path $roots 'host-b')
    }

    It 'skips a cut-off line with a warning naming it and reads the rest' {
        $file = Join-Path $TestDrive 'cut.txt'
        Set-Content $file -Value ($lines + $lines[0].Substring(0, 70))
        $entries = @(Get-ConntrackEntry -Path $file -WarningVariable warnings -WarningAction SilentlyContinue)
        $entries.Count | Should -Be $lines.Count
        $warnings.Count | Should -Be 1
        $warnings[0].Message | Should -Match "line $($lines.Count + 1)\b"
    }

    It 'shows entries in a table and the summary as readable sections' {
        $table = Get-ConntrackEntry -Root $root -Protocol tcp | Out-String -Width 200
        $table | Should -Match 'Protocol\s+State\s+Source\s+SPort\s+Destination\s+DPort\s+Timeout\s+Flags\s+Mark'
        $table | Should -Match 'ESTABLISHED\s+127\.0\.0\.1\s+\d+\s+127\.0\.0\.1\s+5000\s+\d+\s+ASSURED'
        $text = Get-ConntrackEntry -Root $root -Summary -Top 2 | Out-String -Width 200
        $text | Should -Match "Entries $($lines.Count) from .*nf_conntrack; the kernel counts 21 of max 262,144"
        foreach ($section in 'By protocol', 'By state', 'Top 2 sources', 'Top 2 destinations', 'Top 2 destination ports') {
            $text | Should -Match $section
        }
    }

    It 'completes -<Parameter> with <Expected>' -TestCases @(
        @{ Parameter = 'Protocol'; Word = 'ic'; Expected = 'icmp', 'icmpv6' }
        @{ Parameter = 'Protocol'; Word = ''; Expected = 'tcp', 'udp', 'icmp', 'icmpv6', 'sctp', 'gre', 'udplite', 'dccp' }
        @{ Parameter = 'State'; Word = 'TIME'; Expected = 'TIME_WAIT', 'TIMEWAIT' }
        @{ Parameter = 'State'; Word = 'syn_'; Expected = 'SYN_SENT', 'SYN_RECV', 'SYN_SENT2' }
    ) {
        param($Parameter, $Word, $Expected)
        $line = "Get-ConntrackEntry -$Parameter $Word"
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be $Expected
    }

    It 'completes -State with the states of the -Protocol already typed: <Line>' -TestCases @(
        @{ Line = 'Get-ConntrackEntry -Protocol sctp -State SHUT'; Expected = 'SHUTDOWN_SENT', 'SHUTDOWN_RECD', 'SHUTDOWN_ACK_SENT' }
        @{ Line = 'Get-ConntrackEntry -Protocol dccp -State TIME'; Expected = @('TIMEWAIT') }
        @{ Line = 'Get-ConntrackEntry -Protocol tcp -State TIME'; Expected = @('TIME_WAIT') }
        @{ Line = 'Remove-ConntrackEntry -Protocol 132 -State COOKIE'; Expected = 'COOKIE_WAIT', 'COOKIE_ECHOED' }
        @{ Line = 'Get-ConntrackEntry -Protocol tcp,dccp -State TIME'; Expected = 'TIME_WAIT', 'TIMEWAIT' }
    ) {
        param($Line, $Expected)
        (TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches.CompletionText | Should -Be $Expected
    }

    It 'offers no TCP state for a protocol that has none' {
        $line = 'Get-ConntrackEntry -Protocol udp -State E'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Not -Contain 'ESTABLISHED'
    }

    It 'names the root without a table copy in an EntryTableNotFound error' {
        $bare = Copy-Fixture linux-6.18-builtin
        Remove-Item "$bare/proc/net/nf_conntrack" -Force
        Get-ConntrackEntry -Root $bare -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be "EntryTableNotFound,$id"
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].TargetObject | Should -Be $bare
        $err[0].ErrorDetails.RecommendedAction | Should -Match '-Path'
    }

    It 'names a missing -Path file in an EntryFileNotFound error and goes on with the others' {
        $missing = Join-Path $TestDrive 'no-such-file.txt'
        $entries = Get-ConntrackEntry -Path $missing, (Join-Path $data 'dump-mixed.conntrack-L.txt') -ErrorAction SilentlyContinue -ErrorVariable err
        @($entries).Count | Should -Be $lines.Count
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be "EntryFileNotFound,$id"
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].TargetObject | Should -Be $missing
    }

    It 'rejects a file holding no entries with EntryFormatUnknown' {
        $xml = Join-Path $TestDrive 'ct.xml'
        Set-Content $xml '<?xml version="1.0" encoding="utf-8"?>', '<conntrack><flow type="new"></flow></conntrack>'
        Get-ConntrackEntry -Path $xml -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be "EntryFormatUnknown,$id"
        $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $err[0].TargetObject | Should -Be $xml
    }

    It 'stops with InvalidEntryFilter for -<Parameter> <Value> before reading anything' -TestCases @(
        @{ Parameter = 'Protocol'; Value = 'tcpx' }
        @{ Parameter = 'State'; Value = 'ESTABLISH' }
        @{ Parameter = 'Source'; Value = '10.0.0.0/33' }
        @{ Parameter = 'Destination'; Value = 'example.org' }
        @{ Parameter = 'Mark'; Value = '0x1/zz' }
    ) {
        param($Parameter, $Value)
        $filter = @{ $Parameter = $Value }
        $err = $null
        try { Get-ConntrackEntry -Root $root @filter -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be "InvalidEntryFilter,$id"
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.TargetObject | Should -Be $Value
        $err.Exception.Message | Should -Match "-$Parameter '"
    }
}

Describe 'Get-ConntrackEntry on this machine' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll {
        $script:lock = Enter-ConntrackLock
        # One namespace, a few thousand known flows, and every way of reading them, compared afterwards.
        $script:r = Invoke-InNetns -Track -ArgumentList @(((Get-PwshCommand) -join "`n"), $data) -ScriptBlock {
            param([string] $PwshLines, [string] $Data)
            $pwsh = $PwshLines -split "`n"
            # Per namespace: nothing expires while the test compares (Set-Content cannot write /proc/sys files).
            foreach ($name in 'udp_timeout', 'icmp_timeout', 'udp_timeout_stream') {
                [IO.File]::WriteAllText("/proc/sys/net/netfilter/nf_conntrack_$name", '3600')
            }
            $loop = [Net.IPAddress]::Loopback
            $udp = [Net.Sockets.UdpClient]::new([Net.IPEndPoint]::new($loop, 0))
            foreach ($port in 20000..21999) { $null = $udp.Send([byte[]](1), 1, [Net.IPEndPoint]::new([Net.IPAddress]::Parse('127.0.0.2'), $port)) }
            foreach ($s in 1..10) {
                $client = [Net.Sockets.UdpClient]::new([Net.IPEndPoint]::new($loop, 0))
                foreach ($port in 5300..5349) { $null = $client.Send([byte[]](1), 1, [Net.IPEndPoint]::new([Net.IPAddress]::Parse('127.0.0.3'), $port)) }
                $client.Dispose()
            }
            $udp6 = [Net.Sockets.UdpClient]::new([Net.Sockets.AddressFamily]::InterNetworkV6)
            foreach ($port in 4000..4099) { $null = $udp6.Send([byte[]](1), 1, [Net.IPEndPoint]::new([Net.IPAddress]::IPv6Loopback, $port)) }
            $listener = [Net.Sockets.TcpListener]::new($loop, 5000); $listener.Start()
            $held = [Collections.Generic.List[object]]::new()
            foreach ($i in 1..200) {
                $c = [Net.Sockets.TcpClient]::new(); $c.Connect($loop, 5000); $a = $listener.AcceptTcpClient()
                $c.GetStream().Write([byte[]](1), 0, 1); $null = $a.GetStream().Read([byte[]]::new(1), 0, 1)
                $a.GetStream().Write([byte[]](1), 0, 1); $null = $c.GetStream().Read([byte[]]::new(1), 0, 1)
                if ($i -le 100) { $held.Add($c); $held.Add($a) } else { $c.Close(); $a.Close() }
            }
            & conntrack -I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 2 --state SYN_SENT -t 3000 -m 7 -w 5 2>$null
            & conntrack -I -p tcp -s 10.0.0.3 -d 10.0.0.4 --sport 1 --dport 2 --state SYN_SENT -t 3000 -m 0x10 2>$null
            & conntrack -I -p udp -s 10.0.0.5 -d 10.0.0.6 --sport 1 --dport 53 -t 3000 -m 0x17 -w 5 2>$null
            Start-Sleep -Milliseconds 300

            $cli = @(& conntrack -L 2>$null)
            $key = { '{0} {1}:{2} {3}:{4} {5} U={6} A={7} m={8} z={9}' -f $_.Protocol, $_.Source, $_.SourcePort, $_.Destination, $_.DestinationPort, $_.State, $_.Unreplied, $_.Assured, $_.Mark, $_.Zone }
            $filters = [ordered]@{
                udp53      = @{ Protocol = 'udp'; DestinationPort = 5300 }
                source     = @{ Source = '127.0.0.1'; Protocol = 'tcp' }
                cidr       = @{ Destination = '127.0.0.0/30' }
                mark       = @{ Mark = '7' }
                markmask   = @{ Mark = '0x10/0xf0' }
                zone       = @{ Zone = 5 }
                unreplied  = @{ Unreplied = $true }
                assured    = @{ Assured = $true; Protocol = 'tcp' }
                state      = @{ State = 'TIME_WAIT' }
                ipv6       = @{ Source = '::1'; DestinationPort = 4010 }
                family     = @{ Family = 'IPv6' }
            }
            $filtered = [ordered]@{}
            foreach ($name in $filters.Keys) { $f = $filters[$name]; $filtered[$name] = @(Get-ConntrackEntry @f | ForEach-Object $key) }

            $denied = & unshare -m --propagation private -- setpriv --bounding-set -net_admin --inh-caps -net_admin -- @pwsh -NoProfile -NonInteractive -Command "
                Import-Module '$((Get-Module ConntrackTuning).Path | Split-Path)'
                `$s = Get-ConntrackEntry -Summary -WarningVariable w -WarningAction SilentlyContinue
                [pscustomobject]@{ Entries = `$s.Entries; Source = `$s.Source; Warning = [string]`$w[0] } | ConvertTo-Json -Compress"
            $noTable = & unshare -m --propagation private -- sh -c 'mount -t proc -o subset=pid proc /proc && exec setpriv --bounding-set -net_admin --inh-caps -net_admin -- "$@"' sh @pwsh -NoProfile -NonInteractive -Command "
                Import-Module '$((Get-Module ConntrackTuning).Path | Split-Path)'
                Get-ConntrackEntry -ErrorAction SilentlyContinue -ErrorVariable err -WarningAction SilentlyContinue | Out-Null
                [pscustomobject]@{ Id = `$err[0].FullyQualifiedErrorId; Category = [string]`$err[0].CategoryInfo.Category; Target = `$err[0].TargetObject } | ConvertTo-Json -Compress"

            $statistics = [ConntrackTuning.Engine.ErrorIds].Assembly.GetType('ConntrackTuning.Engine.Statistics.CtnetlinkStatistics', $true)
            [pscustomobject]@{
                Cli              = $cli
                CliCount         = [long](& conntrack -C)
                Procfs           = @(Get-Content /proc/net/nf_conntrack)
                Netlink          = @(Get-ConntrackEntry | ForEach-Object $key)
                FromProcfs       = @(Get-ConntrackEntry -Path /proc/net/nf_conntrack | ForEach-Object $key)
                Summary          = Get-ConntrackEntry -Summary -Top 5
                ProcfsSummary    = Get-ConntrackEntry -Summary -Top 5 -Path /proc/net/nf_conntrack
                Filtered         = [pscustomobject]$filtered
                CliUdp53         = @(& conntrack -L -p udp --dport 5300 2>$null)
                CliMark          = @(& conntrack -L -m 7 2>$null)
                CliZone          = @(& conntrack -L -w 5 2>$null)
                CliIPv6          = @(& conntrack -L -f ipv6 2>$null)
                # The engine's netlink statistics are internal: reached by reflection, as the test hooks are.
                Statistics       = $statistics.GetMethod('ReadPerCpu').Invoke($null, @($null, [Threading.CancellationToken]::None))
                CliStatistics    = @(& conntrack -S)
                Count            = $statistics.GetMethod('ReadCount').Invoke($null, @($null, [Threading.CancellationToken]::None))
                CliCountAfter    = [long](& conntrack -C)
                Denied           = $denied | ConvertFrom-Json
                NoTable          = $noTable | ConvertFrom-Json
            }
        }
        $script:cliKeys = @($r.Cli | ForEach-Object { ConvertTo-EntryKey $_ } | Sort-Object)
    }
    AfterAll { $script:lock.Dispose() }

    It 'lists over ctnetlink exactly the entries conntrack -L lists' {
        # 2000 + 500 UDP, 100 UDP over IPv6, 100 established and 100 closed TCP connections, 3 entries made by conntrack -I.
        $r.Netlink.Count | Should -Be 2803
        $r.Netlink.Count | Should -Be $r.CliCount
        @($r.Netlink | Sort-Object) | Should -Be $cliKeys
    }

    It 'reads the same entries from /proc/net/nf_conntrack' {
        $r.Procfs.Count | Should -Be $r.CliCount
        @($r.FromProcfs | Sort-Object) | Should -Be $cliKeys
    }

    It 'summarizes exactly what conntrack -C and conntrack -L show' {
        $s = $r.Summary
        $s.Entries | Should -Be $r.CliCount
        $s.KernelCount | Should -Be $r.CliCount
        $s.Max | Should -Be ([long](Get-Content /proc/sys/net/netfilter/nf_conntrack_max))
        $s.Unreplied | Should -Be @($r.Cli -match '\[UNREPLIED\]').Count
        $s.Assured | Should -Be @($r.Cli -match '\[ASSURED\]').Count
        $byProtocol = $cliKeys | Group-Object { ($_ -split ' ')[0] }
        foreach ($g in $byProtocol) { ($s.ByProtocol | Where-Object Protocol -EQ $g.Name).Count | Should -Be $g.Count }
        $top = $cliKeys | Group-Object { (($_ -split ' ')[2] -split ':(?=\d*$)')[0] } | Sort-Object Count -Descending | Select-Object -First 1
        $s.TopDestinations[0].Destination | Should -Be $top.Name
        $s.TopDestinations[0].Count | Should -Be $top.Count
        $s.TopDestinations[0].Unreplied | Should -Be 2000
        $ports = $cliKeys | Where-Object { ($_ -split ' ')[2] -match ':\d+$' } | Group-Object { ($_ -split ' ')[0] + ' ' + (($_ -split ' ')[2] -split ':')[-1] } |
            Sort-Object Count -Descending | Select-Object -First 1
        "$($s.TopDestinationPorts[0].Protocol) $($s.TopDestinationPorts[0].DestinationPort)" | Should -Be $ports.Name
        $s.TopDestinationPorts[0].Count | Should -Be $ports.Count
        $s.Exact | Should -BeTrue
    }

    It 'gives the same summary from the procfs file' {
        foreach ($p in 'Entries', 'Unreplied', 'Assured') { $r.ProcfsSummary.$p | Should -Be $r.Summary.$p }
        ($r.ProcfsSummary.TopDestinationPorts | ForEach-Object { "$($_.Protocol) $($_.DestinationPort) $($_.Count)" }) |
            Should -Be ($r.Summary.TopDestinationPorts | ForEach-Object { "$($_.Protocol) $($_.DestinationPort) $($_.Count)" })
        $r.ProcfsSummary.Source | Should -Be '/proc/net/nf_conntrack'
    }

    It 'filters by <Name> exactly as a filter over conntrack -L does' -TestCases @(
        @{ Name = 'udp53'; Where = { $_ -like 'udp * 127.0.0.3:5300 *' } }
        @{ Name = 'source'; Where = { $_ -like 'tcp 127.0.0.1:*' } }
        @{ Name = 'cidr'; Where = { $_ -match '^\S+ \S+ 127\.0\.0\.[0-3]:' } }
        @{ Name = 'mark'; Where = { $_ -match ' m=7 ' } }
        @{ Name = 'markmask'; Where = { $_ -match ' m=(16|23) ' } }
        @{ Name = 'zone'; Where = { $_ -match ' z=5$' } }
        @{ Name = 'unreplied'; Where = { $_ -match 'U=True' } }
        @{ Name = 'assured'; Where = { $_ -like 'tcp *' -and $_ -match 'A=True' } }
        @{ Name = 'state'; Where = { $_ -match ' TIME_WAIT ' } }
        @{ Name = 'ipv6'; Where = { $_ -like '* ::1:* ::1:4010 *' } }
        @{ Name = 'family'; Where = { $_ -match '::1' } }
    ) {
        param($Name, $Where)
        $expected = @($cliKeys | Where-Object $Where)
        $expected.Count | Should -BeGreaterThan 0
        @($r.Filtered.$Name | Sort-Object) | Should -Be $expected
    }

    It 'agrees with conntrack''s own filters for <Name>' -TestCases @(
        @{ Name = 'udp53'; Cli = 'CliUdp53' }
        @{ Name = 'mark'; Cli = 'CliMark' }
        @{ Name = 'zone'; Cli = 'CliZone' }
        @{ Name = 'family'; Cli = 'CliIPv6' }
    ) {
        param($Name, $Cli)
        @($r.Filtered.$Name | Sort-Object) | Should -Be @($r.$Cli | ForEach-Object { ConvertTo-EntryKey $_ } | Sort-Object)
    }

    It 'reads the per-CPU statistics conntrack -S reads, under the procfs names' {
        $rename = @{ error = 'icmp_error'; clash_resolve = 'clashres'; chaintoolong = 'chainlength' }
        $r.Statistics.Count | Should -Be $r.CliStatistics.Count
        foreach ($line in $r.CliStatistics) {
            $cli = ConvertFrom-ConntrackStatLine $line
            $row = $r.Statistics | Where-Object Cpu -EQ $cli.Cpu
            foreach ($name in $cli.Values.Keys) {
                $key = if ($rename[$name]) { $rename[$name] } else { $name }
                $row.Values[$key] | Should -Be $cli.Values[$name] -Because "cpu $($cli.Cpu) $name"
            }
            @($row.Values.Keys).Count | Should -Be $cli.Values.Count
        }
    }

    It 'reads the count conntrack -C reads, and the global max' {
        $r.Count.Entries | Should -Be $r.CliCountAfter
        $r.Count.Max | Should -Be ([long](Get-Content /proc/sys/net/netfilter/nf_conntrack_max))
    }

    It 'falls back to /proc/net/nf_conntrack with a warning without CAP_NET_ADMIN' {
        $r.Denied.Entries | Should -Be $r.CliCount
        $r.Denied.Source | Should -Be '/proc/net/nf_conntrack'
        $r.Denied.Warning | Should -Match 'CAP_NET_ADMIN'
    }

    It 'gives NetlinkPermissionDenied without CAP_NET_ADMIN when no table file can be read' {
        $r.NoTable.Id | Should -Be "NetlinkPermissionDenied,$id"
        $r.NoTable.Category | Should -Be 'PermissionDenied'
        $r.NoTable.Target | Should -Be 'ctnetlink'
    }
}

Describe 'Get-ConntrackEntry against damaged or refusing ctnetlink replies' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    # Replays through the engine's test seam, in a child pwsh so the seam never touches this session.
    BeforeAll {
        $script:lock = Enter-ConntrackLock
        $script:replays = Join-Path $TestDrive 'replays'
        $null = New-Item -ItemType Directory $replays
        $entry = (Get-Content (Join-Path $data 'dump-mixed.hex') | Where-Object { $_ -match '^[0-9A-F]' })[0]
        Set-Content (Join-Path $replays 'truncated.hex') $entry.Substring(0, 300)
        # NLMSG_ERROR with -EINVAL: what a kernel without nf_conntrack_netlink answers.
        Set-Content (Join-Path $replays 'einval.hex') '28000000020000000b000000c6430000eaffffff14000000010101000b0000000000000002000000'
        $script:results = Invoke-InNetns -ArgumentList @($replays, ((Get-PwshCommand) -join "`n")) -ScriptBlock {
            param([string] $Replays, [string] $PwshLines)
            $pwsh = $PwshLines -split "`n"
            $module = (Get-Module ConntrackTuning).Path | Split-Path
            foreach ($case in 'truncated', 'einval') {
                $hide = if ($case -eq 'einval') { 'mount -t proc -o subset=pid proc /proc && ' } else { '' }
                $json = & unshare -m --propagation private -- sh -c "$hide exec `"`$@`"" sh @pwsh -NoProfile -NonInteractive -Command "
                    Import-Module '$module'
                    [ConntrackTuning.Engine.ErrorIds].Assembly.GetType('ConntrackTuning.Engine.TestHooks').GetProperty('NetlinkReplayPath', [Reflection.BindingFlags]'NonPublic,Static').SetValue(`$null, '$Replays/$case.hex')
                    Get-ConntrackEntry -ErrorAction SilentlyContinue -ErrorVariable err -WarningAction SilentlyContinue | Out-Null
                    [pscustomobject]@{ Case = '$case'; Id = `$err[0].FullyQualifiedErrorId; Category = [string]`$err[0].CategoryInfo.Category; Target = `$err[0].TargetObject; Message = `$err[0].Exception.Message } | ConvertTo-Json -Compress"
                $json | ConvertFrom-Json
            }
        }
    }
    AfterAll { $script:lock.Dispose() }

    It 'turns a truncated reply into NetlinkFailed' {
        $e = $results | Where-Object Case -EQ truncated
        $e.Id | Should -Be "NetlinkFailed,$id"
        $e.Category | Should -Be 'ProtocolError'
        $e.Target | Should -Be 'ctnetlink'
        $e.Message | Should -Match 'claims \d+ bytes'
    }

    It 'turns a kernel without ctnetlink and without a table file into NetlinkUnavailable' {
        $e = $results | Where-Object Case -EQ einval
        $e.Id | Should -Be "NetlinkUnavailable,$id"
        $e.Category | Should -Be 'ResourceUnavailable'
        $e.Target | Should -Be 'ctnetlink'
    }
}
