BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:helpers = Join-Path $PSScriptRoot 'EventHelpers.ps1'
}

Describe 'Get-ConntrackEvent without the running kernel' {
    It 'refuses a -Root tree with EventsNeedLiveSystem: only the running kernel sends events' {
        $root = Copy-Fixture linux-6.18-builtin
        $null = Get-ConntrackEvent -Root $root -Duration 1 -ErrorVariable err -ErrorAction SilentlyContinue
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be 'EventsNeedLiveSystem,ConntrackTuning.Commands.GetConntrackEventCommand'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $err[0].TargetObject | Should -Be $root
    }

    It 'completes -EventType with the event types' {
        $names = (TabExpansion2 'Get-ConntrackEvent -EventType Exp' 33).CompletionMatches.CompletionText
        @($names | Sort-Object) | Should -Be @('ExpectDestroy', 'ExpectNew', 'ExpectUpdate')
    }

    It 'takes -Duration in seconds as a plain number' {
        $p = (Get-Command Get-ConntrackEvent).Parameters['Duration']
        $p.ParameterType | Should -Be ([timespan])
        $root = Copy-Fixture linux-6.18-builtin
        # Binding is what is checked; the -Root tree then makes the command fail fast.
        { Get-ConntrackEvent -Root $root -Duration 2.5 -ErrorAction SilentlyContinue } | Should -Not -Throw
    }
}

Describe 'Get-ConntrackEvent on this machine' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll {
        $lock = Enter-ConntrackLock
        # One namespace for the counting cases: starting pwsh there costs seconds, so they share it.
        $script:r = Invoke-InNetns -Track -ArgumentList $helpers -ScriptBlock {
            param($helpers)
            . $helpers
            $result = @{}

            # Every flow created is one New event, parsed with its tuple.
            $c = Start-ModuleCommand Get-ConntrackEvent @{ EventType = 'New'; Count = 3000; Duration = 60; SummaryVariable = 'ignored' }
            Send-UdpFlow -Count 3000
            $result.New = Wait-ModuleCommand $c

            # A filter (user space, Get-ConntrackEntry's) keeps only its flows; the summary counts them and who made them.
            $c = Start-ModuleCommand Get-ConntrackEvent @{ EventType = 'New'; DestinationPort = 9001; Summary = $true; Duration = 30; Count = 200 }
            Send-UdpFlow -Count 300 -Port 9000 -Offset 5000
            Send-UdpFlow -Count 200 -Port 9001 -Offset 6000
            $result.Filtered = Wait-ModuleCommand $c

            # Destroy events carry the counters (acct) and the stamps (timestamp) when both are on.
            & sysctl -q -w net.netfilter.nf_conntrack_acct=1 net.netfilter.nf_conntrack_timestamp=1
            $c = Start-ModuleCommand Get-ConntrackEvent @{ EventType = 'Destroy'; Count = 50; Duration = 30; Destination = '127.1.40.0/24' }
            Send-UdpFlow -Count 50 -Offset 10000
            & conntrack -F 2>$null
            $result.Destroy = Wait-ModuleCommand $c

            # A tiny queue overflows at once: the loss is warned and counted, never silent.
            $c = Start-ModuleCommand Get-ConntrackEvent @{ EventType = 'New'; ReceiveBufferBytes = 1024; Summary = $true; Duration = 4 }
            Send-UdpFlow -Count 5000 -Offset 20000
            $result.Tiny = Wait-ModuleCommand $c
            $result.TinyWarnings = @($c.PowerShell.Streams.Warning | ForEach-Object Message)

            # The kernel-side socket filter: flows that fail it never reach the process (Received counts what arrived).
            $c = Start-ModuleCommand Get-ConntrackEvent @{ EventType = 'New'; Protocol = 'udp'; Destination = '127.1.50.0/24'; Port = 9002; Summary = $true; Duration = 6 }
            Send-UdpFlow -Count 40 -Port 9002 -Offset 12500     # 127.1.50.x:9002, udp: the matches
            Send-UdpFlow -Count 40 -Port 9002 -Offset 15000     # 127.1.60.x: another destination
            Send-UdpFlow -Count 40 -Port 9003 -Offset 12600     # 127.1.50.x, another port
            foreach ($i in 1..20) {
                # TCP to a closed port: the SYN makes a new entry (a New event), then the RST ends it.
                $tcp = [Net.Sockets.TcpClient]::new()
                try { $tcp.Connect([ipaddress]"127.1.50.$($i + 100)", 9002) } catch { } finally { $tcp.Dispose() }
            }
            $result.KernelFiltered = Wait-ModuleCommand $c
            $result.KernelFilteredVerbose = @($c.PowerShell.Streams.Verbose | ForEach-Object Message)
            # A zone filter is one the socket program does not decide: no program, every event arrives and is filtered here.
            $c = Start-ModuleCommand Get-ConntrackEvent @{ EventType = 'New'; Zone = 0; Summary = $true; Duration = 4 }
            Send-UdpFlow -Count 40 -Port 9002 -Offset 17500
            $result.Unfiltered = Wait-ModuleCommand $c

            # LostEstimate: with nf_conntrack_events = 1 and New and Destroy both received, what the entry count
            # moved by beyond New - Destroy is what was lost. An empty table first, so only these flows count.
            & sysctl -q -w net.netfilter.nf_conntrack_events=1
            & conntrack -F 2>$null
            $result.CountBeforeEstimate = [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_count)
            $c = Start-ModuleCommand Get-ConntrackEvent @{ ReceiveBufferBytes = 1024; Summary = $true; Duration = 5 }
            Send-UdpFlow -Count 5000 -Offset 40000
            $result.Estimate = Wait-ModuleCommand $c
            $result.EstimateWarnings = @($c.PowerShell.Streams.Warning | ForEach-Object Message)
            $result.CountAfterEstimate = [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_count)

            # Ctrl+C: PowerShell.Stop() ends the command within the bound, and the summary still reaches the variable.
            $c = Start-ModuleCommand Get-ConntrackEvent @{ Summary = $true; SummaryVariable = 'summary' }
            Send-UdpFlow -Count 400 -Offset 30000
            Start-Sleep -Milliseconds 500
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $c.PowerShell.Stop()
            $result.StopMilliseconds = $clock.Elapsed.TotalMilliseconds
            $result.Stopped = $c.PowerShell.Runspace.SessionStateProxy.GetVariable('summary')

            # Events switched off in the namespace: a clear error, not an empty stream.
            & sysctl -q -w net.netfilter.nf_conntrack_events=0
            $null = Get-ConntrackEvent -Duration 1 -ErrorVariable off -ErrorAction SilentlyContinue
            $result.OffErrors = @($off | ForEach-Object { "$($_.FullyQualifiedErrorId)|$($_.CategoryInfo.Category)|$_" })
            [pscustomobject]$result
        }
    }

    AfterAll { if ($lock) { $lock.Dispose() } }

    It 'receives exactly one New event per UDP flow created' {
        $events = @($r.New)
        $events.Count | Should -Be 3000
        # Through CLIXML an enum comes back as its number; cast it back to compare by name.
        @($events | Where-Object { [ConntrackTuning.ConntrackEventType]$_.Type -ne 'New' }).Count | Should -Be 0
        @($events | Where-Object Protocol -ne 'udp').Count | Should -Be 0
        @($events.Destination | Sort-Object -Unique).Count | Should -Be 3000
        $events[0].Destination | Should -Be '127.1.0.1'
        $events[0].DestinationPort | Should -Be 9000
        $events[0].Status | Should -Be 'CONFIRMED'
        $events[0].Unreplied | Should -BeTrue
        $events[0].NetworkNamespace | Should -BeNullOrEmpty -Because 'events heard in this process''s own namespace need no name'
        # A DateTimeOffset comes back from CLIXML as a property bag; its ticks are compared.
        $events[0].Time.UtcTicks | Should -BeGreaterThan ([datetimeoffset]::UtcNow.AddMinutes(-10).UtcTicks)
    }

    It 'keeps only the events that pass the filters, and summarizes who opened them' {
        $s = @($r.Filtered)[-1]
        $s.Matched | Should -Be 200
        # The port filter is decided in the kernel too: the 300 flows to port 9000 never arrived.
        $s.Received | Should -Be 200
        $s.New | Should -BeGreaterOrEqual 200
        $s.EndedBy | Should -Be 'Count'
        $s.Filter | Should -Match '9001'
        $s.TopDestinationPorts[0].DestinationPort | Should -Be 9001
        $s.TopDestinationPorts[0].Count | Should -Be 200
        $s.TopSources[0].Source | Should -Be '127.0.0.1'
        $s.TopSources[0].Count | Should -Be 200
        $s.NewPerSecond | Should -BeGreaterThan 0
        $s.Overruns | Should -Be 0
    }

    It 'gives Destroy events the byte and packet counters and the kernel stamps when accounting and timestamps are on' {
        $events = @($r.Destroy)
        $events.Count | Should -Be 50
        foreach ($e in $events) {
            [ConntrackTuning.ConntrackEventType]$e.Type | Should -Be 'Destroy'
            $e.OriginalPackets | Should -Be 1
            $e.OriginalBytes | Should -Be 29   # 20 IP + 8 UDP + 1 byte
            $e.StartTime | Should -Not -BeNullOrEmpty
            $e.KernelTime | Should -Not -BeNullOrEmpty
            $e.KernelTime.UtcTicks | Should -BeGreaterOrEqual $e.StartTime.UtcTicks
        }
    }

    It 'attaches a kernel-side socket filter, so a filtered subscription receives only the matching events' {
        $s = @($r.KernelFiltered)[-1]
        # 40 matching flows among 140 created: the 100 others never reached the process.
        $s.Matched | Should -Be 40
        $s.Received | Should -Be 40
        $s.New | Should -Be 40
        $s.KernelFilter | Should -Match 'protocol'
        $s.KernelFilter | Should -Match 'destination address'
        $s.KernelFilter | Should -Match '\bport'
        # The length of the program the socket holds, as the kernel reports it back (SO_GET_FILTER).
        $s.KernelFilterInstructions | Should -BeGreaterThan 10
        @($r.KernelFilteredVerbose | Where-Object { $_ -match 'Kernel-side event filter attached \(SO_ATTACH_FILTER, \d+ instructions read back\)' }).Count | Should -Be 1
        $s.TopDestinationPorts[0].DestinationPort | Should -Be 9002
        # A zone filter is not one the socket program decides: none is attached, and the user-space filter still works.
        $u = @($r.Unfiltered)[-1]
        $u.KernelFilterInstructions | Should -Be 0
        $u.KernelFilter | Should -Be ''
        $u.Matched | Should -Be 40
    }

    It 'estimates the events an overrun lost from the entry count, consistent with the flows created minus the events received' {
        $s = @($r.Estimate)[-1]
        $r.CountBeforeEstimate | Should -Be 0
        $r.CountAfterEstimate | Should -Be 5000
        $s.Overruns | Should -BeGreaterThan 0
        $s.Destroy | Should -Be 0
        $s.New | Should -BeLessThan 5000
        # Nothing was destroyed, so every New event not received is a lost one.
        $s.LostEstimate | Should -Be (5000 - $s.New)
        $s.LostEvents | Should -Be ([math]::Max($s.Overruns, $s.LostEstimate))
        $s.LostEvents | Should -BeGreaterThan $s.Overruns
        @($r.EstimateWarnings | Where-Object { $_ -match "at least $($s.LostEvents) event\(s\) were lost \(estimate from the entry count: $($s.LostEstimate)\)" }).Count | Should -Be 1
    }

    It 'makes the loss of a deliberately tiny receive queue visible: warned at once and counted' {
        $s = @($r.Tiny)[-1]
        $s.ReceiveBufferRequested | Should -Be 1024
        $s.Overruns | Should -BeGreaterThan 0
        $s.LostEvents | Should -BeGreaterOrEqual $s.Overruns
        $s.New | Should -BeLessThan 5000
        $r.TinyWarnings | Should -Not -BeNullOrEmpty
        $r.TinyWarnings[0] | Should -Match 'ENOBUFS'
        @($r.TinyWarnings | Where-Object { $_ -match 'at least \d+ event' }).Count | Should -Be 1
    }

    It 'ends within 200 ms of Ctrl+C (PowerShell.Stop) and still delivers the summary' {
        # 200 ms is the bound for the command (a blocked read wakes every 100 ms); Stop() itself adds the
        # pipeline's teardown, so 400 ms is allowed here.
        Write-Host "Stop() took $([math]::Round($r.StopMilliseconds)) ms"
        $r.StopMilliseconds | Should -BeLessThan 400
        $r.Stopped | Should -Not -BeNullOrEmpty
        $r.Stopped.EndedBy | Should -Be 'Stopped'
        $r.Stopped.New | Should -Be 400
    }

    It 'explains that events are off (nf_conntrack_events = 0) with ConntrackEventsDisabled' {
        $r.OffErrors.Count | Should -Be 1
        $r.OffErrors[0] | Should -BeLike 'ConntrackEventsDisabled,ConntrackTuning.Commands.GetConntrackEventCommand|ResourceUnavailable|*nf_conntrack_events = 0*'
    }

    It 'needs CAP_NET_ADMIN, and says so with NetlinkPermissionDenied' {
        $errors = Invoke-Unprivileged -ScriptBlock {
            $null = Get-ConntrackEvent -Duration 1 -ErrorVariable e -ErrorAction SilentlyContinue
            @($e | ForEach-Object { "$($_.FullyQualifiedErrorId)|$($_.CategoryInfo.Category)|$_" })
        }
        @($errors).Count | Should -Be 1
        @($errors)[0] | Should -BeLike 'NetlinkPermissionDenied,ConntrackTuning.Commands.GetConntrackEventCommand|PermissionDenied|*CAP_NET_ADMIN*'
    }
}
