BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
    if (-not $realKernelSkip -and -not (Get-Command python3 -ErrorAction Ignore)) { $script:realKernelSkip = 'python3 is not installed (the FTP pair that makes expectations)' }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:getId = 'ConntrackTuning.Commands.GetConntrackExpectationCommand'
    $script:clearId = 'ConntrackTuning.Commands.ClearConntrackTableCommand'
}

Describe 'Get-ConntrackExpectation on captured roots' {
    It 'reads every line of proc/net/nf_conntrack_expect: timeout, family, tuple, flags, helper and policy' {
        $root = Copy-Fixture linux-6.18-entries
        $e = @(Get-ConntrackExpectation -Root $root)
        $e.Count | Should -Be 4
        $e[0].PSObject.TypeNames[0] | Should -Be 'ConntrackTuning.ConntrackExpectation'
        $e[0].Timeout, $e[0].Protocol, $e[0].Destination, $e[0].DestinationPort, $e[0].Helper | Should -Be 298, 'tcp', '127.0.0.1', 20001, 'ftp'
        $e[2].Helper, $e[2].PolicyName, ($e[2].Flags -join ','), $e[2].Source | Should -Be 'sip', 'audio', 'Permanent', '192.0.2.10'
        $e[3].Family, $e[3].Source, $e[3].Timeout, ($e[3].Flags -join ',') | Should -Be 'IPv6', '::1', $null, 'Permanent,Userspace'
        $e[0].ReadFrom | Should -Be (Join-Path $root 'proc/net/nf_conntrack_expect')
        @(Get-ConntrackExpectation -Root $root -Helper SIP).Count | Should -Be 2
    }

    It 'says ExpectationTableNotFound for a root without the file' {
        $root = Copy-Fixture linux-6.18-builtin
        Get-ConntrackExpectation -Root $root -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be "ExpectationTableNotFound,$getId"
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'Clear-ConntrackTable refuses a root that is not the running system' {
        $root = Copy-Fixture linux-6.18-entries
        $before = Get-TreeState $root
        Clear-ConntrackTable -Root $root -Table Expectation -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be "NotLiveSystem,$clearId"
        Get-TreeState $root | Should -Be $before
    }
}

Describe 'The expectation table on this machine' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll {
        $script:lock = Enter-ConntrackLock
        $work = Join-Path $TestDrive 'ftp'
        $null = New-Item -ItemType Directory $work
        # The ftp helper on tcp port 21 of this namespace, assigned by an nft ct helper object.
        Set-Content (Join-Path $work 'helper.nft') @'
table inet cth {
  ct helper ftp-std {
    type "ftp" protocol tcp;
  }
  chain out {
    type filter hook output priority filter; policy accept;
    tcp dport 21 ct helper set "ftp-std"
  }
}
'@
        # N FTP control connections on 127.0.0.1:21; each client sends PASV and the server answers 227, which
        # makes the helper announce one data connection: one expectation per control connection. They stay open
        # until a line arrives on stdin.
        Set-Content (Join-Path $work 'ftp.py') @'
import socket, struct, sys, resource
n = int(sys.argv[1])
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 21)); srv.listen(4096)
held = []
for i in range(n):
    c = socket.create_connection(("127.0.0.1", 21)); a, _ = srv.accept()
    a.sendall(b"220 ready\r\n"); c.recv(100)
    c.sendall(b"PASV\r\n"); a.recv(100)
    port = 20000 + i
    a.sendall(("227 Entering Passive Mode (127,0,0,1,%d,%d).\r\n" % (port >> 8, port & 255)).encode())
    # Past nf_conntrack_expect_max the helper drops the 227 (and every retransmission of it): do not wait long.
    c.settimeout(None if i < 4096 else 0.3)
    try:
        c.recv(100)
    except socket.timeout:
        pass
    held += [c, a]
print("ready", flush=True)
sys.stdin.readline()
# A 227 the helper dropped stays unacknowledged: closed normally, its socket would retransmit it for minutes after
# this process ends, and every retransmission logs "expectation table full" into the tests that run next (using up
# net_ratelimit's budget of 10 lines per 5 s). A zero linger closes with a reset instead.
for s in held:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
'@
        $script:r = Invoke-InNetns -ArgumentList @($work, (Join-Path $PSScriptRoot 'EventHelpers.ps1')) -ScriptBlock {
            param([string] $Work, [string] $Helpers)
            . $Helpers
            & nft -f (Join-Path $Work 'helper.nft'); if ($LASTEXITCODE) { throw 'nft failed to load the helper rule' }
            function Start-Ftp([int] $Count) {
                $info = [Diagnostics.ProcessStartInfo]::new('python3')
                $info.ArgumentList.Add((Join-Path $Work 'ftp.py')); $info.ArgumentList.Add([string]$Count)
                $info.RedirectStandardInput = $true; $info.RedirectStandardOutput = $true; $info.UseShellExecute = $false
                $p = [Diagnostics.Process]::Start($info)
                if ($p.StandardOutput.ReadLine() -ne 'ready') { throw 'the FTP pair did not start' }
                $p
            }
            function Stop-Ftp($p) { $p.StandardInput.WriteLine(); $p.WaitForExit(10000) | Out-Null }
            $out = [ordered]@{}

            # Expectation events: the helper's three expectations are announced (ExpectNew) and the flush below ends them (ExpectDestroy).
            $listener = Start-ModuleCommand Get-ConntrackEvent @{ EventType = @('ExpectNew', 'ExpectDestroy'); Duration = 60 }
            $ftp = Start-Ftp 3
            $out.Cli = @(& conntrack -L expect 2>$null)
            $out.Proc = @(Get-Content /proc/net/nf_conntrack_expect)
            $out.Netlink = @(Get-ConntrackExpectation)
            $out.WhatIf = @(Clear-ConntrackTable -Table Expectation -WhatIf)
            $out.AfterWhatIf = @(& conntrack -L expect 2>$null).Count
            $out.ClearExpect = Clear-ConntrackTable -Table Expectation -Confirm:$false
            $out.AfterClearExpect = @(& conntrack -L expect 2>$null).Count
            Start-Sleep -Milliseconds 500
            $listener.PowerShell.Stop()
            $out.ExpectEvents = @($listener.Output)
            $out.ConnectionsBefore = [long](& conntrack -C)
            $out.ClearConnections = Clear-ConntrackTable -Confirm:$false
            $out.ConnectionsAfter = [long](& conntrack -C)
            Stop-Ftp $ftp

            # Fill the table: one expectation per control connection, three more than nf_conntrack_expect_max
            # (global, so it is read, never lowered, here).
            $max = [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_expect_max)
            $out.ExpectMax = $max
            $since = [datetime]::Now.AddSeconds(-2)
            $ftp = Start-Ftp ($max + 3)
            $out.FullLimit = Get-ConntrackLimit
            $out.FullHealth = Test-ConntrackHealth | Where-Object Check -EQ ExpectationUsage
            $out.FullCli = @(& conntrack -L expect 2>$null).Count
            $out.FullList = @(Get-ConntrackExpectation).Count
            $out.Dmesg = @(& dmesg 2>$null | Select-String -SimpleMatch 'expectation table full').Count
            $out.Events = @(Get-ConntrackDropEvent -Since $since -WarningAction SilentlyContinue | Where-Object Kind -EQ ExpectationTableFull)
            $out.Metrics = @(Export-ConntrackMetric | Where-Object Name -Like '*expectations*')
            Stop-Ftp $ftp
            [pscustomobject]$out
        }
        $script:denied = Invoke-Unprivileged -ScriptBlock {
            # -WhatIf: the count before the question is what the kernel refuses, and nothing could be flushed anyway.
            Clear-ConntrackTable -Table Expectation -WhatIf -ErrorAction SilentlyContinue -ErrorVariable err | Out-Null
            [pscustomobject]@{ Id = $err[0].FullyQualifiedErrorId; Category = [string]$err[0].CategoryInfo.Category }
        }
    }
    AfterAll { $script:lock.Dispose() }

    It 'lists the helper''s expectations over ctnetlink with their masters and masks, as conntrack -L expect does' {
        $r.Cli.Count | Should -Be 3
        $r.Netlink.Count | Should -Be 3
        foreach ($e in $r.Netlink) {
            $e.Protocol | Should -Be 'tcp'
            $e.Helper | Should -Be 'ftp'
            $e.MasterDestinationPort | Should -Be 21
            $e.MaskDestinationPort | Should -Be 65535
            $e.MaskSourcePort | Should -Be 0
            $e.ReadFrom | Should -Be 'ctnetlink'
            $e.Timeout | Should -BeGreaterThan 200
            $line = $r.Cli | Where-Object { $_ -match " dport=$($e.DestinationPort) " -and $_ -match "master-src=\S+ master-dst=\S+ sport=$($e.MasterSourcePort) dport=21 " }
            $line | Should -HaveCount 1
        }
        @($r.Netlink.DestinationPort | Sort-Object) | Should -Be 20000, 20001, 20002
    }

    It 'receives the helper''s expectations as ExpectNew events and their flush as ExpectDestroy events, with master and helper' {
        $events = @($r.ExpectEvents)
        # Through CLIXML an enum comes back as its number; cast it back to compare by name.
        $new = @($events | Where-Object { [ConntrackTuning.ConntrackEventType]$_.Type -eq 'ExpectNew' })
        $gone = @($events | Where-Object { [ConntrackTuning.ConntrackEventType]$_.Type -eq 'ExpectDestroy' })
        $seen = ($events | ForEach-Object { "$([ConntrackTuning.ConntrackEventType]$_.Type) $($_.DestinationPort)" }) -join ', '
        $new.Count + $gone.Count | Should -Be $events.Count -Because "only expectation events were asked for ($seen)"
        # Each of the three expectations is announced (at least once: a run here saw one announced twice), and the flush ends each.
        @($new.DestinationPort | Sort-Object -Unique) | Should -Be 20000, 20001, 20002 -Because $seen
        @($gone.DestinationPort | Sort-Object -Unique) | Should -Be 20000, 20001, 20002 -Because $seen
        foreach ($e in $events) {
            $e.Protocol | Should -Be 'tcp'
            $e.Destination | Should -Be '127.0.0.1'
            $e.Helper | Should -Be 'ftp'
            $e.MasterDestination | Should -Be '127.0.0.1'
            $e.MasterDestinationPort | Should -Be 21
        }
        # Each destroy names an expectation that was announced before it.
        foreach ($g in $gone) { @($new | Where-Object DestinationPort -EQ $g.DestinationPort) | Should -Not -BeNullOrEmpty }
    }

    It 'reads the procfs lines of this kernel the same way' {
        $r.Proc.Count | Should -Be 3
        $r.Proc | ForEach-Object { $_ | Should -Match '^\d+ l3proto = 2 proto=6 src=127\.0\.0\.1 dst=127\.0\.0\.1 sport=0 dport=2000[0-2] ftp$' }
    }

    It 'flushes the expectation table, reporting how many there were; -WhatIf flushes nothing' {
        $r.WhatIf | Should -BeNullOrEmpty
        $r.AfterWhatIf | Should -Be 3
        $r.ClearExpect.Table | Should -Be 'Expectation'
        $r.ClearExpect.Matched | Should -Be 3
        $r.ClearExpect.Deleted | Should -Be 3
        $r.AfterClearExpect | Should -Be 0
    }

    It 'flushes the connection table, reporting how many entries there were' {
        $r.ConnectionsBefore | Should -BeGreaterOrEqual 3
        $r.ClearConnections.Table | Should -Be 'Connection'
        $r.ClearConnections.Matched | Should -Be $r.ConnectionsBefore
        $r.ConnectionsAfter | Should -Be 0
    }

    It 'counts a full expectation table in Get-ConntrackLimit, from ctnetlink' {
        $r.FullCli | Should -Be $r.ExpectMax
        $r.FullList | Should -Be $r.ExpectMax
        $r.FullLimit.ExpectCount | Should -Be $r.ExpectMax
        $r.FullLimit.ExpectMax | Should -Be $r.ExpectMax
        $r.FullLimit.ExpectUsagePercent | Should -Be 100
        $r.FullLimit.ExpectCountSource | Should -Be 'ctnetlink'
        $r.FullLimit.ExpectMaxSource | Should -Be '/proc/sys/net/netfilter/nf_conntrack_expect_max'
    }

    It 'flags it in Test-ConntrackHealth and exports both figures' {
        $r.FullHealth.Severity | Should -Be 'Critical'
        $r.FullHealth.Message | Should -Match 'expectation table is 100 % full'
        ($r.Metrics | Where-Object Name -EQ 'conntrack_tuning_expectations').Value | Should -Be $r.ExpectMax
        ($r.Metrics | Where-Object Name -EQ 'conntrack_tuning_expectations_limit').Value | Should -Be $r.ExpectMax
    }

    It 'finds the kernel''s "expectation table full" message in the log as ExpectationTableFull' {
        if ($r.Dmesg -eq 0) { Set-ItResult -Inconclusive -Because 'the kernel printed no "expectation table full" line (net_ratelimit may have swallowed it)' }
        $r.Events.Count | Should -BeGreaterThan 0
        $r.Events[0].Tracker | Should -Be 'nf_conntrack'
        $r.Events[0].Message | Should -Match 'expectation table full'
    }

    It 'refuses to flush without CAP_NET_ADMIN' {
        $denied.Id | Should -Be "NetlinkPermissionDenied,$clearId"
        $denied.Category | Should -Be 'PermissionDenied'
    }
}
