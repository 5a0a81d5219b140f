BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:cmd = 'ConntrackTuning.Commands.TestConntrackHealthCommand'
    # Get-ConntrackRecommendation's Balanced size for the fixture's RAM: the two cmdlets agree.
    $script:raise = 'Set-ConntrackLimit -Max 1048576 -Persist; Set-ConntrackHashSize -HashSize 1048576 -Persist'

    # A 6.18 host whose table never filled: the built-in fixture without its log of a past overflow.
    function Copy-HealthyFixture([string] $Destination) {
        $root = if ($Destination) { Copy-Fixture linux-6.18-builtin -Destination $Destination } else { Copy-Fixture linux-6.18-builtin }
        Remove-Item "$root/var/log" -Recurse -Force
        $root
    }
}

Describe 'Test-ConntrackHealth on fixture trees' {
    It 'reports an overflowing table as critical, with the command that fixes each finding' {
        $root = Copy-Fixture linux-6.18-overflow
        $findings = @(Test-ConntrackHealth -Root $root)
        $findings[0] | Should -BeOfType ([ConntrackTuning.ConntrackHealthFinding])
        $usage = $findings | Where-Object Check -eq Usage
        $usage.Severity | Should -Be 'Critical'
        $usage.SeverityLevel | Should -Be 3
        $usage.Recommendation | Should -Be $raise
        $balanced = Get-ConntrackRecommendation -Root $root
        $usage.Recommendation | Should -Be "Set-ConntrackLimit -Max $($balanced.Max) -Persist; Set-ConntrackHashSize -HashSize $($balanced.HashSize) -Persist"
        ($findings | Where-Object Check -eq KernelDefault).Severity | Should -Be 'Warning'
        $usage.Evidence | Should -Match ([regex]::Escape("$root/proc/sys/net/netfilter/nf_conntrack_max"))
        ($findings | Where-Object Check -eq Drop).Severity | Should -Be 'Warning'
        $events = $findings | Where-Object { $_.Check -eq 'TableFullEvents' -and $_.Severity -eq 'Critical' }
        $events.Message | Should -Match 'at least 5 and at most 162 packets'
        ($findings | Where-Object Check -eq EntriesPerBucket).Recommendation | Should -Be "Set-ConntrackHashSize -HashSize $($balanced.HashSize) -Persist"
        ($findings | Where-Object Check -eq TcpEstablishedTimeout).Recommendation |
            Should -Be 'Set-ConntrackTimeout -Protocol tcp -State established -Seconds 86400 -Persist'
        $findings.Root | Select-Object -Unique | Should -Be $root
    }

    It 'gives fixes that build on each other: following them in order never lowers what an earlier one raised' {
        # The fixture's table is full (max 65536, hash 4096) and nothing persists it: the pressure checks raise the
        # table, EntriesPerBucket wants a larger hash and Persistence a persisted size, all in one run.
        $root = Copy-Fixture linux-6.18-overflow
        $max = [long](Get-Content "$root/proc/sys/net/netfilter/nf_conntrack_max")
        $hash = [long](Get-Content "$root/sys/module/nf_conntrack/parameters/hashsize")
        $steps = foreach ($command in @(Test-ConntrackHealth -Root $root).Recommendation -split '; ' | Where-Object { $_ }) {
            if ($command -match '^Set-ConntrackLimit -Max (\d+)') {
                [long]$Matches[1] | Should -BeGreaterOrEqual $max -Because "'$command' follows a fix that set the max to $max"
                $max = [long]$Matches[1]
                $command
            }
            elseif ($command -match '^Set-ConntrackHashSize -HashSize (\d+)') {
                [long]$Matches[1] | Should -BeGreaterOrEqual $hash -Because "'$command' follows a fix that set the hash size to $hash"
                $hash = [long]$Matches[1]
                $command
            }
        }
        @($steps).Count | Should -BeGreaterThan 10 -Because 'Usage, KernelDefault, Drop, EarlyDrop, TableFullEvents, EntriesPerBucket and Persistence each give one'
        $balanced = Get-ConntrackRecommendation -Root $root
        $max | Should -Be $balanced.Max
        $hash | Should -Be $balanced.HashSize
    }

    It 'answers $false or $true with -Quiet' {
        Test-ConntrackHealth -Root (Copy-Fixture linux-6.18-overflow) -Quiet | Should -BeExactly $false
        Test-ConntrackHealth -Root (Copy-HealthyFixture) -Quiet | Should -BeExactly $true
        Test-ConntrackHealth -Root (Copy-Fixture linux-6.18-builtin) -Quiet | Should -BeExactly $false
    }

    It 'filters Warning and worse with -MinimumSeverity or by SeverityLevel, and sorts worst first' {
        $root = Copy-Fixture linux-6.18-overflow
        $worse = @(Test-ConntrackHealth -Root $root -MinimumSeverity Warning)
        $worse.Count | Should -Be 9
        $worse.Severity | Select-Object -Unique | Sort-Object | Should -Be @('Critical', 'Warning')
        $all = Test-ConntrackHealth -Root $root
        @($all | Where-Object SeverityLevel -ge 2).Count | Should -Be $worse.Count
        ($all | Sort-Object SeverityLevel -Descending | Select-Object -First 1).Severity | Should -Be 'Critical'
        @(Test-ConntrackHealth -Root $root -MinimumSeverity Critical).Check | Should -Be @('Usage', 'TableFullEvents')
    }

    It 'takes the usage thresholds as parameters' {
        $root = Copy-Fixture linux-6.18-overflow
        (Test-ConntrackHealth -Root $root -WarningPercent 98 -CriticalPercent 99 | Where-Object Check -eq Usage).Severity | Should -Be 'Ok'
        (Test-ConntrackHealth -Root $root -WarningPercent 90 -CriticalPercent 99 | Where-Object Check -eq Usage).Severity | Should -Be 'Warning'
        (Test-ConntrackHealth -Root $root -MaxEntriesPerBucket 16 | Where-Object Check -eq EntriesPerBucket).Severity | Should -Be 'Ok'
    }

    It 'searches the log from -Since' {
        $root = Copy-Fixture linux-6.18-overflow
        Get-ChildItem "$root/var/log" -File | ForEach-Object { $_.LastWriteTime = [datetime]'2026-11-21T06:25:00' }
        $events = Test-ConntrackHealth -Root $root -Since '2026-11-21' | Where-Object Check -eq TableFullEvents
        $events.Severity | Should -Be 'Ok'
    }

    It 'shows the severity as a name in JSON' {
        $json = Test-ConntrackHealth -Root (Copy-Fixture linux-6.18-overflow) -MinimumSeverity Critical | ConvertTo-Json | ConvertFrom-Json
        $json[0].Severity | Should -Be 'Critical'
        $json[0].SeverityLevel | Should -Be 3
    }

    It 'completes -MinimumSeverity' {
        $completion = TabExpansion2 -inputScript 'Test-ConntrackHealth -MinimumSeverity W' -cursorColumn 39
        $completion.CompletionMatches.CompletionText | Should -Be @('Warning')
    }

    It 'shows each finding on a line and its fix on the next by default' {
        $lines = @((Test-ConntrackHealth -Root (Copy-Fixture linux-6.18-overflow) -MinimumSeverity Critical | Out-String -Width 250) -split "`n" |
            Where-Object { $_.Trim() })
        $lines[0] | Should -Match '^Critical Usage\s+The table is 97\.66 % full'
        $lines[1] | Should -Be "$(' ' * 31)Fix: $raise"
        $lines[2] | Should -Match '^Critical TableFullEvents\s+The kernel logged'
    }

    It 'checks every folder piped from Get-ChildItem' {
        $parent = Join-Path $TestDrive 'health-reports'
        $null = Copy-Fixture linux-6.18-overflow -Destination (Join-Path $parent 'a')
        $null = Copy-HealthyFixture (Join-Path $parent 'b')
        Get-ChildItem $parent -Directory | Test-ConntrackHealth -Quiet | Should -Be @($false, $true)
    }

    It 'refuses a warning threshold above the critical one (InvalidThreshold)' {
        { Test-ConntrackHealth -Root (Copy-Fixture linux-6.18-builtin) -WarningPercent 95 -CriticalPercent 90 } |
            Should -Throw -ErrorId "InvalidThreshold,$cmd"
        try { Test-ConntrackHealth -Root (Copy-Fixture linux-6.18-builtin) -CriticalPercent 120 } catch { $e = $_ }
        $e.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $e.TargetObject | Should -Be 'CriticalPercent'
    }

    It 'gives every warning a recommendation that runs as it is written, on every fixture' {
        # "The exact cmdlet call that fixes it": the text must parse as calls of this module's cmdlets and nothing
        # else, and each call must bind (run with -WhatIf against the fixture, which changes nothing).
        $exported = @((Get-Module ConntrackTuning).ExportedCmdlets.Keys)
        $checked = 0
        foreach ($fixture in Get-ChildItem (Join-Path $PSScriptRoot 'fixtures') -Directory) {
            $root = Copy-Fixture $fixture.Name
            # In a container the limits are the host's: the fix is to be run there (the message says so), not here.
            # A capture (a sosreport's read-only copies of /proc) is likewise fixed on the machine it came from.
            $kernel = Get-ConntrackKernel -Root $root -WarningAction SilentlyContinue -ErrorAction SilentlyContinue
            $maxFile = 'proc/sys/net/netfilter/nf_conntrack_max', 'proc/sys/net/ipv4/netfilter/ip_conntrack_max', 'proc/sys/net/ipv4/ip_conntrack_max' |
                ForEach-Object { Join-Path $root $_ } | Where-Object { Test-Path $_ } | Select-Object -First 1
            $onHost = -not $kernel.IsInitialNamespace -or -not $maxFile -or (0 -eq [int]((Get-Item $maxFile).UnixFileMode -band [IO.UnixFileMode]::UserWrite))
            foreach ($f in @(Test-ConntrackHealth -Root $root -WarningAction SilentlyContinue -ErrorAction SilentlyContinue)) {
                if ($f.SeverityLevel -ge 2) { $f.Recommendation | Should -Not -BeNullOrEmpty -Because "$($fixture.Name) $($f.Check): $($f.Message)" }
                if (-not $f.Recommendation) { continue }
                $tokens = $errors = $null
                $ast = [Management.Automation.Language.Parser]::ParseInput($f.Recommendation, [ref] $tokens, [ref] $errors)
                $errors | Should -BeNullOrEmpty -Because "$($fixture.Name) $($f.Check): $($f.Recommendation)"
                foreach ($statement in $ast.EndBlock.Statements) {
                    $statement | Should -BeOfType ([Management.Automation.Language.PipelineAst])
                    foreach ($command in $statement.PipelineElements) {
                        $command | Should -BeOfType ([Management.Automation.Language.CommandAst])
                        $command.GetCommandName() | Should -BeIn $exported -Because $f.Recommendation
                        # Only parameter names and constant values: nothing that would evaluate an expression.
                        foreach ($element in $command.CommandElements | Select-Object -Skip 1) {
                            $element.GetType().Name | Should -BeIn @('CommandParameterAst', 'StringConstantExpressionAst', 'ConstantExpressionAst') -Because $f.Recommendation
                        }
                    }
                    if ($onHost) { continue }
                    try { $null = Invoke-Expression "$($statement.Extent.Text) -Root '$root' -WhatIf -ErrorAction Stop -WarningAction SilentlyContinue" 6>$null }
                    catch { throw "$($fixture.Name) $($f.Check): '$($statement.Extent.Text)' fails: $_" }
                    $checked++
                }
            }
        }
        $checked | Should -BeGreaterThan 10
    }

    It 'warns once about a damaged file that several checks read' {
        $root = Copy-Fixture ubuntu-5.4-stale-buckets
        Set-Content -Path (Join-Path $root 'etc/sysctl.d/10-broken.conf') -Value 'this is no assignment'
        $null = Test-ConntrackHealth -Root $root -WarningVariable warnings -WarningAction SilentlyContinue
        @($warnings | Where-Object Message -Match '10-broken\.conf').Count | Should -Be 1
        @($warnings | Where-Object Message -Match 'nf_conntrack_buckets says').Count | Should -Be 1
        @($warnings.Message | Select-Object -Unique).Count | Should -Be $warnings.Count
    }

    It 'names a missing root in a RootNotFound error' {
        $missing = Join-Path $TestDrive 'no-such-root'
        Test-ConntrackHealth -Root $missing -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be "RootNotFound,$cmd"
    }
}
