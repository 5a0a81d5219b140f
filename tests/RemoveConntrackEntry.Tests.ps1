BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:id = 'ConntrackTuning.Commands.RemoveConntrackEntryCommand'
    $script:data = Join-Path $PSScriptRoot 'ConntrackTuning.Engine.Tests/Data'
}

Describe 'Remove-ConntrackEntry without a live table' {
    It 'refuses to delete under a -Root that is not the running system, and changes nothing there' {
        $root = Copy-Fixture linux-6.18-entries
        $before = Get-TreeState $root
        Remove-ConntrackEntry -Root $root -Protocol udp -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be "NotLiveSystem,$id"
        $err[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $err[0].TargetObject | Should -Be $root
        Get-TreeState $root | Should -Be $before
    }

    It 'previews a captured root under -WhatIf: it reads the saved table, writes nothing and outputs nothing' {
        $root = Copy-Fixture linux-6.18-entries
        $before = Get-TreeState $root
        $udp = @(Get-ConntrackEntry -Root $root -Protocol udp).Count
        $udp | Should -BeGreaterThan 0
        $out = Remove-ConntrackEntry -Root $root -Protocol udp -WhatIf -ErrorVariable err 6>&1
        $err | Should -BeNullOrEmpty
        $out | Should -BeNullOrEmpty
        Get-TreeState $root | Should -Be $before
    }

    It 'rejects a bad <Name> before reading anything' -TestCases @(
        @{ Name = 'reply source'; Filter = @{ ReplySource = '10.0.0.300' } }
        @{ Name = 'NAT address'; Filter = @{ NatAddress = 'nat-gw' } }
        @{ Name = 'reply port'; Filter = @{ ReplyDestinationPort = 70000 } }
        @{ Name = 'age'; Filter = @{ OlderThan = [timespan]::FromSeconds(-5) } }
    ) {
        { Remove-ConntrackEntry @Filter -Confirm:$false } | Should -Throw -ErrorId "InvalidEntryFilter,$id"
    }

    It 'has the delete manners: ShouldProcess with ConfirmImpact High, a summary type, completion of protocols' {
        $cmd = Get-Command Remove-ConntrackEntry
        $cmd.Parameters.Keys | Should -Contain 'WhatIf'
        $cmd.ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0].ConfirmImpact | Should -Be 'High'
        $cmd.OutputType.Name | Should -Contain 'ConntrackTuning.ConntrackRemoval'
        (TabExpansion2 'Remove-ConntrackEntry -Protocol ud' 33).CompletionMatches.CompletionText | Should -Contain 'udp'
        (TabExpansion2 'Remove-ConntrackEntry -Status Seen' 34).CompletionMatches.CompletionText | Should -Contain 'SeenReply'
    }
}

Describe 'Remove-ConntrackEntry when the kernel refuses a delete' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    # Replays through the engine's test seam in a child pwsh: the statistics request is answered (with DONE), the
    # delete with EINVAL, which is neither success nor "already gone".
    It 'counts the refusal as Failed and writes EntryDeleteFailed naming the entry' {
        $replay = Join-Path $TestDrive 'einval-delete.hex'
        Set-Content $replay @(
            ('240000000501020004000000714300000000000008000100000000060800020000040000' + '1400000003000200040000007143000000000000')
            '28000000020000000b000000c6430000eaffffff14000000020105000b0000000000000002000000'
        )
        $saved = Join-Path $data 'dump-mixed.conntrack-L.txt'
        $module = (Get-Module ConntrackTuning).Path | Split-Path
        $script = Join-Path $TestDrive 'refuse.ps1'
        Set-Content $script @"
Import-Module '$module'
[ConntrackTuning.Engine.ErrorIds].Assembly.GetType('ConntrackTuning.Engine.TestHooks').GetProperty('NetlinkReplayPath', [Reflection.BindingFlags]'NonPublic,Static').SetValue(`$null, '$replay')
`$entry = Get-ConntrackEntry -Path '$saved' -Protocol tcp | Select-Object -First 1
`$r = `$entry | Remove-ConntrackEntry -Confirm:`$false -ErrorAction SilentlyContinue -ErrorVariable err
[pscustomobject]@{ Matched = `$r.Matched; Deleted = `$r.Deleted; Failed = `$r.Failed; Id = `$err[0].FullyQualifiedErrorId; Target = `$err[0].TargetObject; Message = `$err[0].Exception.Message; Source = `$entry.Source } | ConvertTo-Json -Compress
"@
        $result = Invoke-Pwsh -File $script | ConvertFrom-Json
        $result.Id | Should -Be "EntryDeleteFailed,$id"
        $result.Matched | Should -Be 1
        $result.Failed | Should -Be 1
        $result.Deleted | Should -Be 0
        $result.Message | Should -Match 'EINVAL'
        $result.Target | Should -Match ([regex]::Escape($result.Source))
    }
}

Describe 'Remove-ConntrackEntry on this machine' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll {
        $script:lock = Enter-ConntrackLock
        $nat = Join-Path $TestDrive 'nat.nft'
        Set-Content $nat @'
table ip nat {
  chain out {
    type nat hook output priority -100; policy accept;
    udp dport 9999 dnat to 127.0.0.5:9998
  }
}
'@
        $script:r = Invoke-InNetns -ArgumentList @($nat) -ScriptBlock {
            param([string] $Nat)
            function Count { [long](& conntrack -C) }
            function Insert([string[]] $Arguments) { & conntrack -I @Arguments 2>$null; if ($LASTEXITCODE) { throw "conntrack -I $Arguments failed" } }
            function Snapshot { @(& conntrack -L -o id 2>$null | Sort-Object) }
            $out = [ordered]@{}

            # 1. By filter: 30 UDP flows to the DNS port, 10 to another port, 5 TCP; only the first 30 go.
            foreach ($i in 1..30) { Insert '-p', 'udp', '-s', '127.0.0.1', '-d', '127.0.0.2', '--sport', (1000 + $i), '--dport', '53', '-t', '600' }
            foreach ($i in 1..10) { Insert '-p', 'udp', '-s', '127.0.0.1', '-d', '127.0.0.2', '--sport', (1000 + $i), '--dport', '54', '-t', '600' }
            foreach ($i in 1..5) { Insert '-p', 'tcp', '-s', '127.0.0.1', '-d', '127.0.0.3', '--sport', (2000 + $i), '--dport', '53', '-t', '600', '--state', 'ESTABLISHED' }
            $out.Before = Count
            function Ids { @(& conntrack -L -o id 2>$null | Where-Object { $_ -notmatch 'dport=53 ' -or $_ -match '^tcp' } | ForEach-Object { $_ -replace '^.* id=(\d+).*$', '$1' } | Sort-Object) }
            $kept = Ids

            # -WhatIf first: it must delete nothing and output nothing.
            $out.WhatIfOutput = @(Remove-ConntrackEntry -Protocol udp -DestinationPort 53 -WhatIf)
            $out.AfterWhatIf = Count
            $out.Filter = Remove-ConntrackEntry -Protocol udp -DestinationPort 53 -Confirm:$false
            $out.AfterFilter = Count
            $out.KeptIntact = ($kept.Count -eq 15) -and -not (Compare-Object $kept (Ids))
            $out.NoDns = @(& conntrack -L -p udp --dport 53 2>$null).Count

            # 2. By pipeline: exactly the two piped entries go, and -PassThru returns them.
            $piped = @(Get-ConntrackEntry -Protocol tcp | Sort-Object SourcePort | Select-Object -First 2)
            $out.Piped = $piped | ForEach-Object { "$($_.SourcePort)" }
            $out.PassThru = @($piped | Remove-ConntrackEntry -Confirm:$false -PassThru)
            $out.TcpLeft = @(Get-ConntrackEntry -Protocol tcp | ForEach-Object { "$($_.SourcePort)" } | Sort-Object)

            # 3. While entries vanish: two of the piped entries are deleted behind our back, one is re-created with
            # the same tuple (a new id): the old object must not delete the successor.
            $victims = @(Get-ConntrackEntry -Protocol udp -DestinationPort 54 | Sort-Object SourcePort)
            & conntrack -D -p udp --sport $victims[0].SourcePort --dport 54 2>$null | Out-Null
            & conntrack -D -p udp --sport $victims[1].SourcePort --dport 54 2>$null | Out-Null
            # The kernel's id is a keyed hash that includes the entry's address, so an entry re-created at once in
            # the slot just freed gets the same id back; fillers take that slot first (retried until the ids differ).
            for ($try = 0; $try -lt 5; $try++) {
                foreach ($i in 1..20) { Insert '-p', 'udp', '-s', '127.0.0.1', '-d', '127.0.0.4', '--sport', (3000 + 20 * $try + $i), '--dport', '55', '-t', '600' }
                Insert '-p', 'udp', '-s', '127.0.0.1', '-d', '127.0.0.2', '--sport', $victims[1].SourcePort, '--dport', '54', '-t', '600'
                $successor = Get-ConntrackEntry -Protocol udp -SourcePort $victims[1].SourcePort -DestinationPort 54
                if ($successor.Id -ne $victims[1].Id) { break }
                & conntrack -D -p udp --sport $victims[1].SourcePort --dport 54 2>$null | Out-Null
            }
            $out.OldId = $victims[1].Id
            $out.SuccessorId = $successor.Id
            $out.Vanish = $victims | Remove-ConntrackEntry -Confirm:$false
            $out.Successor = @(& conntrack -L -p udp --dport 54 2>$null).Count

            # 4. conntrack -D's own filters: reply source and NAT (a real DNAT rule), mark with a mask, zone,
            # status, timeout.
            & nft -f $Nat; if ($LASTEXITCODE) { throw 'nft failed to load the NAT rule' }
            $u = [Net.Sockets.UdpClient]::new()
            foreach ($i in 1..3) { $null = $u.Send([byte[]](1), 1, [Net.IPEndPoint]::new([Net.IPAddress]::Parse('127.0.0.9'), 9999)); $u.Dispose(); $u = [Net.Sockets.UdpClient]::new() }
            $u.Dispose()
            Insert '-p', 'udp', '-s', '127.0.0.1', '-d', '127.0.0.9', '--sport', '7001', '--dport', '9999', '-t', '600'
            Insert '-p', 'udp', '-s', '127.0.0.1', '-d', '127.0.0.20', '--sport', '7002', '--dport', '80', '-t', '600', '-m', '0x1234'
            Insert '-p', 'udp', '-s', '127.0.0.1', '-d', '127.0.0.20', '--sport', '7003', '--dport', '80', '-t', '600', '-m', '0x1299'
            Insert '-p', 'udp', '-s', '127.0.0.1', '-d', '127.0.0.20', '--sport', '7004', '--dport', '80', '-t', '600', '-w', '9'
            Insert '-p', 'udp', '-s', '127.0.0.1', '-d', '127.0.0.21', '--sport', '7005', '--dport', '80', '-t', '20'
            Insert '-p', 'udp', '-s', '127.0.0.1', '-d', '127.0.0.23', '--sport', '7007', '--dport', '80', '-t', '600', '-r', '127.0.0.30', '-q', '127.0.0.1', '--reply-port-src', '80', '--reply-port-dst', '7007'
            Insert '-p', 'tcp', '-s', '127.0.0.1', '-d', '127.0.0.22', '--sport', '7006', '--dport', '80', '-t', '600', '--state', 'ESTABLISHED', '-u', 'SEEN_REPLY,ASSURED'
            $out.WhatIfNat = Count
            $out.DestinationNat = Remove-ConntrackEntry -DestinationNat -NatAddress 127.0.0.5 -Confirm:$false
            $out.DnatLeft = @(& conntrack -L -d 127.0.0.9 2>$null | ForEach-Object { ($_ -split '\s+' | Where-Object { $_ -like 'sport=*' })[0] })
            $out.SourceNat = Remove-ConntrackEntry -SourceNat -Confirm:$false
            $out.Mark = Remove-ConntrackEntry -Mark 0x1200/0xff00 -Protocol udp -Confirm:$false
            $out.MarkLeft = @(& conntrack -L -d 127.0.0.20 2>$null | ForEach-Object { ($_ -split '\s+' | Where-Object { $_ -like 'sport=*' })[0] })
            $out.Zone = Remove-ConntrackEntry -Zone 9 -Confirm:$false
            $out.Timeout = Remove-ConntrackEntry -TimeoutBelow 25 -Confirm:$false
            $out.Status = Remove-ConntrackEntry -Status Assured, SeenReply -Destination 127.0.0.0/24 -Confirm:$false
            $out.AssuredLeft = @(& conntrack -L -d 127.0.0.22 2>$null).Count
            $out.ReplySource = Remove-ConntrackEntry -ReplySource 127.0.0.30 -Confirm:$false
            $out.ReplySourceLeft = @(& conntrack -L -d 127.0.0.23 2>$null).Count
            $out.Age = Remove-ConntrackEntry -OlderThan '00:00:01' -Protocol udp -Confirm:$false -WarningVariable ageWarning -WarningAction SilentlyContinue
            $out.AgeWarning = [string]$ageWarning[0]
            # The same under -WhatIf, and after a confirmation prompt answered Y (the preview and the removal
            # each read the table; the warning counts the entries once).
            $out.Unaged = @(Get-ConntrackEntry -Protocol udp).Count
            $null = Remove-ConntrackEntry -OlderThan '00:00:01' -Protocol udp -WhatIf -WarningVariable whatIfAgeWarning -WarningAction SilentlyContinue 6>&1
            $out.AgeWhatIfWarning = @($whatIfAgeWarning | ForEach-Object { [string]$_ })
            $confirmed = Join-Path ([IO.Path]::GetTempPath()) "ctt-confirm-$PID"
            Set-Content "$confirmed.ps1" @"
Import-Module '$((Get-Module ConntrackTuning).ModuleBase)'
`$null = Remove-ConntrackEntry -OlderThan '00:00:01' -Protocol udp -WarningVariable w -WarningAction SilentlyContinue
Set-Content '$confirmed.txt' @(`$w | ForEach-Object { [string]`$_ })
"@
            $pwsh = @(if (Test-Path (Join-Path $PSHOME 'pwsh')) { Join-Path $PSHOME 'pwsh' } else { [Environment]::ProcessPath; Join-Path $PSHOME 'pwsh.dll' })
            $null = 'Y' | & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -File "$confirmed.ps1"
            $out.AgeConfirmWarning = @(Get-Content "$confirmed.txt")
            Remove-Item "$confirmed.ps1", "$confirmed.txt" -ErrorAction Ignore

            # With start times (per namespace): only the entries created before the pause are old enough.
            [IO.File]::WriteAllText('/proc/sys/net/netfilter/nf_conntrack_timestamp', '1')
            foreach ($i in 1..3) { Insert '-p', 'udp', '-s', '127.0.0.1', '-d', '127.0.0.40', '--sport', (8000 + $i), '--dport', '80', '-t', '600' }
            Start-Sleep -Seconds 3
            foreach ($i in 4..5) { Insert '-p', 'udp', '-s', '127.0.0.1', '-d', '127.0.0.40', '--sport', (8000 + $i), '--dport', '80', '-t', '600' }
            $out.Aged = Remove-ConntrackEntry -OlderThan '00:00:02' -Destination 127.0.0.40 -Confirm:$false
            $out.YoungLeft = @(& conntrack -L -d 127.0.0.40 2>$null | ForEach-Object { ($_ -split '\s+' | Where-Object { $_ -like 'sport=*' })[0] } | Sort-Object)

            # 5. Unprivileged: the kernel refuses, and the error says so before anything is dumped.
            $out.Final = Count
            [pscustomobject]$out
        }
        $script:denied = Invoke-Unprivileged -ScriptBlock {
            # A filter that matches nothing real (TEST-NET-1), should the refusal ever not come.
            Remove-ConntrackEntry -Protocol udp -Destination 192.0.2.77 -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable err | Out-Null
            [pscustomobject]@{ Id = $err[0].FullyQualifiedErrorId; Category = [string]$err[0].CategoryInfo.Category; Message = $err[0].Exception.Message }
        }
    }
    AfterAll { $script:lock.Dispose() }

    It 'deletes by filter exactly the matching entries, and nothing else' {
        $r.Before | Should -Be 45
        $r.Filter.Matched | Should -Be 30
        $r.Filter.Deleted | Should -Be 30
        $r.Filter.AlreadyGone | Should -Be 0
        $r.Filter.Failed | Should -Be 0
        $r.Filter.Table | Should -Be 'Connection'
        $r.Filter.Filter | Should -Match 'udp'
        $r.AfterFilter | Should -Be 15
        $r.NoDns | Should -Be 0
        $r.KeptIntact | Should -BeTrue
    }

    It 'deletes nothing and outputs nothing under -WhatIf' {
        $r.WhatIfOutput | Should -BeNullOrEmpty
        $r.AfterWhatIf | Should -Be $r.Before
    }

    It 'deletes exactly the piped entries and passes them through' {
        $entries = @($r.PassThru | Where-Object { $_.PSObject.TypeNames -contains 'Deserialized.ConntrackTuning.ConntrackEntry' })
        @($entries | ForEach-Object { "$($_.SourcePort)" }) | Should -Be $r.Piped
        $r.PassThru[-1].PSObject.TypeNames | Should -Contain 'Deserialized.ConntrackTuning.ConntrackRemoval'
        $r.PassThru[-1].Deleted | Should -Be 2
        $r.TcpLeft | Should -Be @('2003', '2004', '2005')
    }

    It 'counts entries that vanished meanwhile as AlreadyGone, and leaves a successor with the same tuple alone' {
        $r.SuccessorId | Should -Not -Be $r.OldId
        $r.Vanish.Matched | Should -Be 10
        $r.Vanish.Deleted | Should -Be 8
        $r.Vanish.AlreadyGone | Should -Be 2
        $r.Vanish.Failed | Should -Be 0
        $r.Successor | Should -Be 1
    }

    It 'matches NAT by the address translated to, reply direction, mark with mask, zone, status and timeout' {
        $r.DestinationNat.Deleted | Should -Be 3
        $r.DnatLeft | Should -Be @('sport=7001')
        $r.SourceNat.Matched | Should -Be 0
        $r.Mark.Deleted | Should -Be 2
        $r.MarkLeft | Should -Be @('sport=7004')
        $r.Zone.Deleted | Should -Be 1
        $r.Timeout.Deleted | Should -Be 1
        $r.Status.Deleted | Should -Be 1
        $r.AssuredLeft | Should -Be 0
        $r.ReplySource.Deleted | Should -Be 1
        $r.ReplySourceLeft | Should -Be 0
    }

    It 'says that -OlderThan needs timestamps when entries have none' {
        $r.Age.Matched | Should -Be 0
        $r.AgeWarning | Should -Match 'nf_conntrack_timestamp'
    }

    It 'says so once, with the true count, under -WhatIf and after a confirmation prompt' {
        $r.Unaged | Should -BeGreaterThan 0
        $r.AgeWhatIfWarning | Should -HaveCount 1
        $r.AgeWhatIfWarning[0] | Should -BeLike "$($r.Unaged) entries have no start time*"
        $r.AgeConfirmWarning | Should -HaveCount 1
        $r.AgeConfirmWarning[0] | Should -BeLike "$($r.Unaged) entries have no start time*"
    }

    It 'deletes by age where the kernel records start times' {
        $r.Aged.Deleted | Should -Be 3
        $r.YoungLeft | Should -Be @('sport=8004', 'sport=8005')
    }

    It 'refuses clearly without CAP_NET_ADMIN' {
        $denied.Id | Should -Be "NetlinkPermissionDenied,$id"
        $denied.Category | Should -Be 'PermissionDenied'
        $denied.Message | Should -Match 'CAP_NET_ADMIN'
    }
}
