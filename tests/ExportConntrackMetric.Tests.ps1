BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
    $script:fixtures = Get-FixtureName | ForEach-Object { @{ Name = $_ } }
    $script:noPromtool = -not (Get-Command promtool -ErrorAction Ignore)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:cmd = 'ConntrackTuning.Commands.ExportConntrackMetricCommand'

    # A parser of the text exposition format (0.0.4), strict where node_exporter's textfile collector and
    # Prometheus are: every line must be a comment, a # HELP or # TYPE line or a sample; a family's HELP and
    # TYPE come once, before its samples, and its samples form one group; no series twice; label names,
    # escapes and numbers as the format defines them. On top, the conventions this module follows: every
    # family has HELP and TYPE, counters and only counters end in _total, and counters are never negative.
    function Read-Exposition {
        param([Parameter(Mandatory)] [AllowEmptyString()] [string] $Text)
        $errors = [Collections.Generic.List[string]]::new()
        $families = [ordered]@{}
        $samples = [Collections.Generic.List[object]]::new()
        $series = @{}
        $closed = @{}
        $current = $null
        $name = '[a-zA-Z_:][a-zA-Z0-9_:]*'
        $number = '^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)$'
        if ($Text.Length -gt 0 -and -not $Text.EndsWith("`n")) { $errors.Add('the text does not end with a line feed') }
        $lines = $Text.TrimEnd("`n").Split("`n")
        for ($i = 0; $i -lt $lines.Count; $i++) {
            $line = $lines[$i]
            $at = "line $($i + 1)"
            if ($line -eq '') { continue }
            if ($line -match "^# (HELP|TYPE) ($name)(?: (.*))?$") {
                $kind, $family, $rest = $Matches[1], $Matches[2], $Matches[3]
                if (-not $families.Contains($family)) { $families[$family] = @{ Type = $null; Help = $null; Samples = 0 } }
                $f = $families[$family]
                if ($f.Samples -gt 0) { $errors.Add("${at}: # $kind $family after its samples") }
                if ($kind -eq 'HELP') {
                    if ($null -ne $f.Help) { $errors.Add("${at}: second # HELP for $family") }
                    if (("$rest" -replace '\\[\\n]', '') -match '\\') { $errors.Add("${at}: HELP of $family has an escape other than \\ and \n") }
                    $f.Help = "$rest"
                }
                else {
                    if ($null -ne $f.Type) { $errors.Add("${at}: second # TYPE for $family") }
                    if ($rest -notin 'counter', 'gauge', 'histogram', 'summary', 'untyped') { $errors.Add("${at}: unknown type '$rest' for $family") }
                    $f.Type = $rest
                }
                continue
            }
            if ($line.StartsWith('#')) { continue }

            if ($line -notmatch "^($name)(.*)$") { $errors.Add("${at}: not a sample: $line"); continue }
            $metric, $rest = $Matches[1], $Matches[2]
            $labels = [ordered]@{}
            if ($rest.StartsWith('{')) {
                $p = 1
                $ok = $true
                while ($ok -and $p -lt $rest.Length -and $rest[$p] -ne '}') {
                    if ($rest.Substring($p) -notmatch '^([a-zA-Z_][a-zA-Z0-9_]*)="') { $ok = $false; break }
                    $label = $Matches[1]
                    $p += $Matches[0].Length
                    $value = [Text.StringBuilder]::new()
                    while ($p -lt $rest.Length -and $rest[$p] -ne '"') {
                        if ($rest[$p] -eq '\') {
                            $next = if ($p + 1 -lt $rest.Length) { $rest[$p + 1] } else { '' }
                            switch -CaseSensitive ("$next") { '\' { $null = $value.Append('\') } '"' { $null = $value.Append('"') } 'n' { $null = $value.Append("`n") } default { $ok = $false } }
                            $p += 2
                        }
                        else { $null = $value.Append($rest[$p]); $p++ }
                    }
                    if ($p -ge $rest.Length) { $ok = $false; break }
                    $p++
                    if ($label.StartsWith('__')) { $errors.Add("${at}: reserved label name $label") }
                    if ($labels.Contains($label)) { $errors.Add("${at}: label $label twice") }
                    $labels[$label] = $value.ToString()
                    if ($p -lt $rest.Length -and $rest[$p] -eq ',') { $p++ }
                }
                if (-not $ok -or $p -ge $rest.Length) { $errors.Add("${at}: bad labels: $line"); continue }
                $rest = $rest.Substring($p + 1)
            }
            $parts = $rest.Split(' ')
            if ($parts.Count -notin 2, 3 -or $parts[0] -ne '' -or $parts[1] -notmatch $number -or ($parts.Count -eq 3 -and $parts[2] -notmatch '^-?\d+$')) {
                $errors.Add("${at}: bad value or timestamp: $line"); continue
            }
            $value = [double]::Parse($parts[1].Replace('Inf', 'Infinity'), [Globalization.CultureInfo]::InvariantCulture)

            if (-not $families.Contains($metric) -or $null -eq $families[$metric].Type) { $errors.Add("${at}: $metric has no # TYPE before it") }
            if (-not $families.Contains($metric) -or $null -eq $families[$metric].Help) { $errors.Add("${at}: $metric has no # HELP before it") }
            if ($closed.ContainsKey($metric)) { $errors.Add("${at}: the samples of $metric are not in one group") }
            if ($current -and $current -ne $metric) { $closed[$current] = $true }
            $current = $metric
            if (-not $families.Contains($metric)) { $families[$metric] = @{ Type = $null; Help = $null; Samples = 0 } }
            $families[$metric].Samples++
            $key = $metric + '{' + (($labels.Keys | Sort-Object | ForEach-Object { "$_=$($labels[$_])" }) -join ',') + '}'
            if ($series.ContainsKey($key)) { $errors.Add("${at}: series $key twice") }
            $series[$key] = $true
            $type = $families[$metric].Type
            if ($type -eq 'counter' -and $value -lt 0) { $errors.Add("${at}: counter $metric is negative") }
            $samples.Add([pscustomobject]@{ Name = $metric; Labels = $labels; Value = $value })
        }
        foreach ($family in $families.Keys) {
            $f = $families[$family]
            if ($f.Type -eq 'counter' -and $family -notmatch '_total$') { $errors.Add("counter $family does not end in _total") }
            if ($f.Type -ne 'counter' -and $family -match '_total$') { $errors.Add("$($f.Type) $family ends in _total, which promises a counter") }
        }
        [pscustomobject]@{ Errors = @($errors); Families = $families; Samples = @($samples) }
    }

    # The value of one series, or $null when the export does not have it.
    function Get-Value($Parsed, [string] $Name, [hashtable] $Labels = @{}) {
        $hit = @($Parsed.Samples | Where-Object {
                $s = $_
                $s.Name -eq "conntrack_tuning_$Name" -and $s.Labels.Count -eq $Labels.Count -and
                @($Labels.Keys | Where-Object { $s.Labels[$_] -ne $Labels[$_] }).Count -eq 0
            })
        if ($hit.Count -gt 1) { throw "$Name matches $($hit.Count) series" }
        if ($hit) { $hit[0].Value }
    }

    function Export-Text([string] $Root, [switch] $PerCpu) {
        ((Export-ConntrackMetric -Root $Root -AsText -PerCpu:$PerCpu -WarningAction SilentlyContinue) -join "`n") + "`n"
    }

    # The lines that change from one export to the next however still the system: when and how long.
    function Remove-Volatile([string] $Text) {
        ($Text.Split("`n") | Where-Object { $_ -notmatch '^conntrack_tuning_export_(timestamp|source_duration)_seconds' }) -join "`n"
    }
}

Describe 'The exposition parser of this test' {
    # It must be able to fail, or every other test here proves nothing.
    It 'refuses <Case>' -ForEach @(
        @{ Case = 'a sample without # TYPE'; Text = "# HELP a_b x`na_b 1`n" }
        @{ Case = 'a sample without # HELP'; Text = "# TYPE a_b gauge`na_b 1`n" }
        @{ Case = 'a series twice'; Text = "# HELP a x`n# TYPE a gauge`na{l=`"1`"} 1`na{l=`"1`"} 2`n" }
        @{ Case = 'a counter without _total'; Text = "# HELP a x`n# TYPE a counter`na 1`n" }
        @{ Case = 'a gauge ending in _total'; Text = "# HELP a_total x`n# TYPE a_total gauge`na_total 1`n" }
        @{ Case = 'TYPE after the samples'; Text = "# HELP a x`na 1`n# TYPE a gauge`n" }
        @{ Case = 'a family in two groups'; Text = "# HELP a x`n# TYPE a gauge`n# HELP b x`n# TYPE b gauge`na{x=`"1`"} 1`nb 1`na{x=`"2`"} 1`n" }
        @{ Case = 'an unknown escape in a label value'; Text = "# HELP a x`n# TYPE a gauge`na{l=`"\t`"} 1`n" }
        @{ Case = 'an unclosed label value'; Text = "# HELP a x`n# TYPE a gauge`na{l=`"x} 1`n" }
        @{ Case = 'a value that is no number'; Text = "# HELP a x`n# TYPE a gauge`na 1,5`n" }
        @{ Case = 'a metric name with a dash'; Text = "# HELP a x`n# TYPE a gauge`na-b 1`n" }
        @{ Case = 'a negative counter'; Text = "# HELP a_total x`n# TYPE a_total counter`na_total -1`n" }
        @{ Case = 'a missing final line feed'; Text = "# HELP a x`n# TYPE a gauge`na 1" }
        @{ Case = 'an unknown escape in HELP'; Text = "# HELP a x\t`n# TYPE a gauge`na 1`n" }
    ) {
        (Read-Exposition $Text).Errors | Should -Not -BeNullOrEmpty
    }

    It 'accepts escapes, NaN, infinities and exponents' {
        $p = Read-Exposition "# HELP a x \\ y\n z`n# TYPE a gauge`na{l=`"q\`"b\\s\nn`",m=`"`"} NaN`na{l=`"2`"} +Inf`na{l=`"3`"} -1.5e-3 1700000000000`n"
        $p.Errors | Should -BeNullOrEmpty
        $p.Samples[0].Labels['l'] | Should -BeExactly "q`"b\s`nn"
        $p.Samples[1].Value | Should -Be ([double]::PositiveInfinity)
        $p.Samples[2].Value | Should -Be -0.0015
    }
}

Describe 'Export-ConntrackMetric on the fixture of <Name>' -ForEach $fixtures {
    BeforeAll {
        $root = Copy-Fixture $Name
        $text = Export-Text $root
        $parsed = Read-Exposition $text
        $kernel = Get-ConntrackKernel -Root $root -WarningAction SilentlyContinue
        $limit = Get-ConntrackLimit -Root $root -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        $stat = Get-ConntrackStatistic -Root $root -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        # -Summary writes its object even when the log could not be read; the error tells.
        $summary = Get-ConntrackDropEvent -Root $root -Summary -ErrorAction SilentlyContinue -ErrorVariable logErrors -WarningAction SilentlyContinue
        if ($logErrors) { $summary = $null }
    }

    It 'writes only valid exposition lines, every family with HELP and TYPE, under the conntrack_tuning_ prefix' {
        $parsed.Errors | Should -BeNullOrEmpty
        $parsed.Families.Keys | Should -Not -BeNullOrEmpty
        foreach ($family in $parsed.Families.Keys) {
            $family | Should -Match '^conntrack_tuning_[a-z0-9_]+$'
            $family | Should -Not -Match '^node_'
        }
    }

    It 'passes promtool check metrics' -Skip:$noPromtool {
        $out = $text | & promtool check metrics 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
        $out | Should -BeNullOrEmpty
    }

    It 'names the kernel in the _info metric' {
        $info = $parsed.Samples | Where-Object Name -eq 'conntrack_tuning_kernel_info'
        $info.Value | Should -Be 1
        $info.Labels['release'] | Should -Be "$($kernel.KernelRelease)"
        $info.Labels['tracker'] | Should -Be $kernel.Tracker
        $info.Labels['era'] | Should -Be $kernel.Era
        $info.Labels['module_state'] | Should -Be $kernel.ModuleState
        $info.Labels['netns'] | Should -Be "$($kernel.NetworkNamespace)"
        $info.Labels['initial_namespace'] | Should -Be $kernel.IsInitialNamespace.ToString().ToLowerInvariant()
        $now = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
        Get-Value $parsed export_timestamp_seconds | Should -BeGreaterThan ($now - 120)
        foreach ($source in 'limits', 'statistics', 'kernel_log') {
            Get-Value $parsed export_source_duration_seconds @{ source = $source } | Should -BeGreaterOrEqual 0
        }
    }

    It 'has the limits Get-ConntrackLimit reads, or says the source failed' {
        if (-not $limit) {
            Get-Value $parsed export_source_success @{ source = 'limits' } | Should -Be 0
            Get-Value $parsed entries_limit | Should -BeNullOrEmpty
            return
        }
        Get-Value $parsed export_source_success @{ source = 'limits' } | Should -Be 1
        Get-Value $parsed entries | Should -Be $limit.Count
        Get-Value $parsed entries_limit | Should -Be $limit.Max
        Get-Value $parsed hash_buckets | Should -Be $limit.HashSize
        if ($limit.Max -gt 0 -and $null -ne $limit.Count) {
            Get-Value $parsed usage_ratio | Should -Be ($limit.Count / $limit.Max)
        }
        Get-Value $parsed persisted_entries_limit | Should -Be $limit.PersistedMax
        Get-Value $parsed persisted_hash_buckets | Should -Be $limit.PersistedHashSize
        $drift = (Get-Value $parsed drift @{ setting = 'entries_limit' }) + (Get-Value $parsed drift @{ setting = 'hash_buckets' })
        ($drift -gt 0) | Should -Be $limit.Drift
    }

    It 'has every counter Get-ConntrackStatistic reads, by name, or says the source failed' {
        if (-not $stat) {
            Get-Value $parsed export_source_success @{ source = 'statistics' } | Should -Be 0
            @($parsed.Samples | Where-Object Name -like 'conntrack_tuning_stat_*') | Should -BeNullOrEmpty
            return
        }
        Get-Value $parsed export_source_success @{ source = 'statistics' } | Should -Be 1
        Get-Value $parsed statistics_source_info @{ source = $stat.Source } | Should -Be 1
        $map = @{ Found = 'found'; Invalid = 'invalid'; Ignore = 'ignore'; Insert = 'insert'; InsertFailed = 'insert_failed'; Drop = 'drop'; EarlyDrop = 'early_drop'
            IcmpError = 'icmp_error'; SearchRestart = 'search_restart'; ClashResolve = 'clash_resolve'; ChainTooLong = 'chain_too_long'; Searched = 'searched'
            New = 'new'; Delete = 'delete'; DeleteList = 'delete_list'; ExpectNew = 'expect_new'; ExpectCreate = 'expect_create'; ExpectDelete = 'expect_delete'
        }
        foreach ($property in $map.Keys) {
            Get-Value $parsed "stat_$($map[$property])_total" | Should -Be $stat.$property -Because $property
        }
        # The entries column is the count, already exported as entries; and nothing is left out.
        Get-Value $parsed stat_entries_total | Should -BeNullOrEmpty
        $expected = @($map.Keys | Where-Object { $null -ne $stat.$_ }).Count + $stat.Other.Count
        @($parsed.Samples | Where-Object Name -like 'conntrack_tuning_stat_*').Count | Should -Be $expected
    }

    It 'counts the table-full messages Get-ConntrackDropEvent finds, or says the log could not be read' {
        if (-not $summary) {
            Get-Value $parsed export_source_success @{ source = 'kernel_log' } | Should -Be 0
            Get-Value $parsed log_table_full_messages_total | Should -BeNullOrEmpty
            return
        }
        Get-Value $parsed export_source_success @{ source = 'kernel_log' } | Should -Be 1
        $logged = $parsed.Samples | Where-Object Name -eq 'conntrack_tuning_log_table_full_messages_total'
        ($logged | Measure-Object Value -Sum).Sum | Should -Be $summary.Logged
        @($logged.Labels.Values | Sort-Object) | Should -Be @($summary.NetworkNamespaces | Sort-Object)
        Get-Value $parsed log_suppressed_messages_total | Should -Be $summary.Suppressed
        if ($summary.LastTimeStamp) {
            Get-Value $parsed log_table_full_last_timestamp_seconds | Should -Be ([DateTimeOffset]::new($summary.LastTimeStamp).ToUnixTimeMilliseconds() / 1000)
        }
        else {
            Get-Value $parsed log_table_full_last_timestamp_seconds | Should -BeNullOrEmpty
        }
    }
}

Describe 'Export-ConntrackMetric: what each era exports' {
    It 'says that 2.4 keeps no statistics, and still exports its limits and its logged overflows' {
        $root = Copy-Fixture linux-2.4.20-early
        $text = ((Export-ConntrackMetric -Root $root -AsText -WarningVariable warn 3>$null) -join "`n") + "`n"
        $p = Read-Exposition $text
        Get-Value $p export_source_success @{ source = 'statistics' } | Should -Be 0
        Get-Value $p export_source_success @{ source = 'limits' } | Should -Be 1
        Get-Value $p export_source_success @{ source = 'kernel_log' } | Should -Be 1
        Get-Value $p entries_limit | Should -Be 32768
        Get-Value $p hash_buckets | Should -Be 4096
        Get-Value $p log_table_full_messages_total | Should -Be 2
        Get-Value $p log_suppressed_messages_total | Should -Be 38
        @($p.Samples | Where-Object Name -like '*_stat_*') | Should -BeNullOrEmpty
        $warn.Count | Should -Be 1
        $warn[0] | Should -Match 'statistics source could not be read.*source="statistics"\} is 0: .*keeps no per-CPU statistics'
    }

    It 'exports an overflowing 6.18 table: usage, counters, drift and the namespace a message names' {
        $p = Read-Exposition (Export-Text (Copy-Fixture linux-6.18-overflow))
        Get-Value $p entries | Should -Be 64000
        Get-Value $p entries_limit | Should -Be 65536
        Get-Value $p usage_ratio | Should -Be 0.9765625
        Get-Value $p hash_buckets | Should -Be 4096
        Get-Value $p stat_drop_total | Should -Be 23
        Get-Value $p stat_early_drop_total | Should -Be 5
        Get-Value $p stat_insert_failed_total | Should -Be 1
        Get-Value $p stat_clash_resolve_total | Should -Be 3
        Get-Value $p stat_chain_too_long_total | Should -Be 0
        # 5.15 and later reuse the searched and delete_list columns: they are not exported under the old names.
        Get-Value $p stat_searched_total | Should -BeNullOrEmpty
        Get-Value $p stat_delete_list_total | Should -BeNullOrEmpty
        Get-Value $p drift @{ setting = 'entries_limit' } | Should -Be 1
        Get-Value $p log_table_full_messages_total | Should -Be 5
        Get-Value $p log_table_full_messages_total @{ netns = '4026532177' } | Should -Be 1
        Get-Value $p log_suppressed_messages_total | Should -Be 157
    }

    It 'exports the next boot''s max of a sosreport and flags the drift of that setting only' {
        $p = Read-Exposition (Export-Text (Copy-Fixture sosreport-rhel8-4.18))
        Get-Value $p entries_limit | Should -Be 262144
        Get-Value $p persisted_entries_limit | Should -Be 524288
        Get-Value $p persisted_hash_buckets | Should -BeNullOrEmpty
        Get-Value $p drift @{ setting = 'entries_limit' } | Should -Be 1
        Get-Value $p drift @{ setting = 'hash_buckets' } | Should -Be 0
    }

    It 'exports the 4.18-era columns searched and delete_list, which later kernels reuse' {
        $p = Read-Exposition (Export-Text (Copy-Fixture ubuntu-4.15-nf_conntrack))
        Get-Value $p stat_drop_total | Should -Be 178228
        Get-Value $p stat_searched_total | Should -Not -BeNullOrEmpty
        Get-Value $p stat_delete_list_total | Should -Not -BeNullOrEmpty
        Get-Value $p stat_clash_resolve_total | Should -BeNullOrEmpty
    }

    It 'exports what it can of a system without conntrack, and the kernel_info says NotLoaded' {
        $p = Read-Exposition (Export-Text (Copy-Fixture debian-5.10-no-conntrack))
        $p.Errors | Should -BeNullOrEmpty
        ($p.Samples | Where-Object Name -eq 'conntrack_tuning_kernel_info').Labels['module_state'] | Should -Be 'NotLoaded'
        foreach ($source in 'limits', 'statistics', 'kernel_log') {
            Get-Value $p export_source_success @{ source = $source } | Should -Be 0
        }
    }

    It 'gives one series per CPU with -PerCpu, and their sum is the series without it' {
        $root = Copy-Fixture linux-6.18-overflow
        $sum = Read-Exposition (Export-Text $root)
        $cpu = Read-Exposition (Export-Text $root -PerCpu)
        $cpu.Errors | Should -BeNullOrEmpty
        Get-Value $cpu stat_drop_total @{ cpu = '0' } | Should -Be 16
        Get-Value $cpu stat_drop_total @{ cpu = '1' } | Should -Be 7
        Get-Value $cpu stat_drop_total | Should -BeNullOrEmpty
        foreach ($family in @($sum.Families.Keys | Where-Object { $_ -like 'conntrack_tuning_stat_*' })) {
            $perCpu = @($cpu.Samples | Where-Object Name -eq $family)
            $perCpu.Count | Should -Be 2
            ($perCpu | Measure-Object Value -Sum).Sum | Should -Be ($sum.Samples | Where-Object Name -eq $family).Value -Because $family
        }
    }

    It 'exports a statistics column it does not know under the kernel''s own name' {
        $root = Copy-Fixture linux-6.18-builtin
        Set-Content "$root/proc/net/stat/nf_conntrack" "entries  drop future_thing `n00000002  00000003 0000000a `n00000002  00000001 00000001 "
        $p = Read-Exposition (Export-Text $root)
        $p.Errors | Should -BeNullOrEmpty
        Get-Value $p stat_future_thing_total | Should -Be 11
        Get-Value $p stat_drop_total | Should -Be 4
        $p.Families['conntrack_tuning_stat_future_thing_total'].Type | Should -Be 'counter'
        $p.Families['conntrack_tuning_stat_future_thing_total'].Help | Should -Match 'column future_thing, which this version of ConntrackTuning does not know'
    }

    It 'escapes label values: a double quote and a line feed in a path, a backslash in a release' {
        $root = Copy-Fixture linux-6.18-builtin -Destination (Join-Path $TestDrive "we`"ird`nroot")
        Set-Content "$root/proc/sys/kernel/osrelease" '6.18.44-a\b'
        $text = Export-Text $root
        $p = Read-Exposition $text
        $p.Errors | Should -BeNullOrEmpty
        ($p.Samples | Where-Object Name -eq 'conntrack_tuning_statistics_source_info').Labels['source'] | Should -BeExactly "$root/proc/net/stat/nf_conntrack"
        ($p.Samples | Where-Object Name -eq 'conntrack_tuning_kernel_info').Labels['release'] | Should -BeExactly '6.18.44-a\b'
        $text | Should -Match ([regex]::Escape('we\"ird\nroot/proc/net/stat/nf_conntrack"'))
        $text | Should -Match ([regex]::Escape('release="6.18.44-a\\b"'))
    }

    It 'takes -Root by property name from the objects of this module' {
        $root = Copy-Fixture linux-6.18-overflow
        $p = Read-Exposition (((Get-ConntrackLimit -Root $root | Export-ConntrackMetric -AsText -WarningAction SilentlyContinue) -join "`n") + "`n")
        Get-Value $p entries | Should -Be 64000
    }

    It 'takes -Root by value from folders of Get-ChildItem (not their Root property, which is "/")' {
        $parent = Join-Path $TestDrive ([guid]::NewGuid().ToString('n'))
        $null = Copy-Fixture linux-6.18-overflow -Destination (Join-Path $parent 'a')
        $null = Copy-Fixture linux-2.4.20-early -Destination (Join-Path $parent 'b')
        $limits = Get-ChildItem $parent -Directory | Export-ConntrackMetric -WarningAction SilentlyContinue | Where-Object Name -eq 'conntrack_tuning_entries_limit'
        @($limits.Root) | Should -Be @((Join-Path $parent 'a'), (Join-Path $parent 'b'))
        @($limits.Value) | Should -Be @(65536, 32768)
    }

    It 'writes ConntrackMetric objects without -Path, whose Series and Value are the text''s lines' {
        $root = Copy-Fixture linux-6.18-overflow
        $objects = @(Export-ConntrackMetric -Root $root -WarningAction SilentlyContinue)
        $objects[0] | Should -BeOfType ([ConntrackTuning.ConntrackMetric])
        $objects[0].PSObject.Properties.Name | Should -Be @('Name', 'Type', 'Help', 'Labels', 'Value', 'Series', 'Root')
        $drop = $objects | Where-Object Name -eq 'conntrack_tuning_stat_drop_total'
        $drop.Type | Should -Be 'Counter'
        $drop.Value | Should -Be 23
        $drop.Root | Should -Be $root
        "$drop" | Should -Be 'conntrack_tuning_stat_drop_total 23'
        $samples = (Read-Exposition (Export-Text $root)).Samples
        $objects.Count | Should -Be $samples.Count
        # Labels survive a round trip through JSON as names and strings; values as numbers.
        $json = $objects | Where-Object Name -eq 'conntrack_tuning_export_source_success' | ConvertTo-Json | ConvertFrom-Json
        $json[0].Labels.source | Should -Be 'limits'
        $json[0].Value | Should -Be 1
        $json[0].Type | Should -Be 'Gauge'
    }
}

Describe 'Export-ConntrackMetric -Path' {
    BeforeAll {
        $script:root = Copy-Fixture linux-6.18-overflow
    }

    It 'writes the file -AsText shows, mode 0644, with no temporary file left' {
        $dir = New-Item -ItemType Directory -Path (Join-Path $TestDrive ([guid]::NewGuid().ToString('n')))
        $path = Join-Path $dir 'conntrack.prom'
        Export-ConntrackMetric -Root $root -Path $path -WarningAction SilentlyContinue | Should -BeNullOrEmpty
        $written = [IO.File]::ReadAllText($path)
        (Read-Exposition $written).Errors | Should -BeNullOrEmpty
        Remove-Volatile $written | Should -BeExactly (Remove-Volatile (Export-Text $root))
        (Get-Item $path).UnixFileMode | Should -Be ([IO.UnixFileMode]0x1A4)
        @(Get-ChildItem $dir -Force).Name | Should -Be @('conntrack.prom')
        # UTF-8 without a byte-order mark.
        [IO.File]::ReadAllBytes($path)[0] | Should -Be ([byte][char]'#')
    }

    It 'replaces an existing file, keeping its mode' {
        $dir = New-Item -ItemType Directory -Path (Join-Path $TestDrive ([guid]::NewGuid().ToString('n')))
        $path = Join-Path $dir 'conntrack.prom'
        Set-Content $path 'old'
        [IO.File]::SetUnixFileMode($path, [IO.UnixFileMode]0x1A0)
        Export-ConntrackMetric -Root $root -Path $path -WarningAction SilentlyContinue
        (Get-Content $path -First 1) | Should -Match '^# HELP conntrack_tuning_kernel_info '
        (Get-Item $path).UnixFileMode | Should -Be ([IO.UnixFileMode]0x1A0)
    }

    It 'resolves a relative -Path against the current location and says what it writes with -Verbose' {
        $dir = New-Item -ItemType Directory -Path (Join-Path $TestDrive ([guid]::NewGuid().ToString('n')))
        Push-Location $dir
        try { $verbose = Export-ConntrackMetric -Root $root -Path ./c.prom -Verbose -WarningAction SilentlyContinue 4>&1 }
        finally { Pop-Location }
        Join-Path $dir 'c.prom' | Should -Exist
        ($verbose.Message -join "`n") | Should -Match ([regex]::Escape("Wrote $dir/c.prom atomically"))
    }

    It 'writes the samples too with -PassThru' {
        $dir = New-Item -ItemType Directory -Path (Join-Path $TestDrive ([guid]::NewGuid().ToString('n')))
        $out = @(Export-ConntrackMetric -Root $root -Path (Join-Path $dir 'c.prom') -PassThru -WarningAction SilentlyContinue)
        $out.Count | Should -Be (Read-Exposition ([IO.File]::ReadAllText((Join-Path $dir 'c.prom')))).Samples.Count
        $out[0] | Should -BeOfType ([ConntrackTuning.ConntrackMetric])
    }

    It 'warns that node_exporter reads only *.prom files' {
        $dir = New-Item -ItemType Directory -Path (Join-Path $TestDrive ([guid]::NewGuid().ToString('n')))
        Export-ConntrackMetric -Root $root -Path (Join-Path $dir 'c.txt') -WarningVariable warn 3>$null
        $warn | Should -Match 'reads only \*\.prom files'
    }

    It 'warns when a second root replaces the file the first one wrote' {
        $dir = New-Item -ItemType Directory -Path (Join-Path $TestDrive ([guid]::NewGuid().ToString('n')))
        $other = Copy-Fixture linux-6.18-builtin
        @([pscustomobject]@{ Root = $root }, [pscustomobject]@{ Root = $other }) |
            Export-ConntrackMetric -Path (Join-Path $dir 'c.prom') -WarningVariable warn 3>$null
        $warn | Should -Match "now holds the metrics of $([regex]::Escape($other)), not those of"
        Get-Value (Read-Exposition ([IO.File]::ReadAllText((Join-Path $dir 'c.prom')))) entries_limit | Should -Be 262144
    }

    It 'with -WhatIf leaves the folder byte for byte, <Case>' -ForEach @(@{ Case = 'with no file yet' }, @{ Case = 'with a file in it' }) {
        $dir = New-Item -ItemType Directory -Path (Join-Path $TestDrive ([guid]::NewGuid().ToString('n')))
        $path = Join-Path $dir 'conntrack.prom'
        if ($Case -eq 'with a file in it') { Set-Content $path 'old' }
        $before = Get-TreeState $dir
        $folder = (Get-Item $dir).LastWriteTimeUtc
        $out = @(Export-ConntrackMetric -Root $root -Path $path -WhatIf -PassThru -WarningAction SilentlyContinue)
        Get-TreeState $dir | Should -Be $before
        (Get-Item $dir).LastWriteTimeUtc | Should -Be $folder
        # -PassThru under -WhatIf shows what would have been written.
        $out.Count | Should -BeGreaterThan 20
    }

    It 'replaces the file atomically: a reader never sees part of it, while a plain rewrite shows parts (control)' {
        $dir = New-Item -ItemType Directory -Path (Join-Path $TestDrive ([guid]::NewGuid().ToString('n')))
        $path = Join-Path $dir 'conntrack.prom'
        Export-ConntrackMetric -Root $root -Path $path -WarningAction SilentlyContinue
        $lines = [IO.File]::ReadAllText($path).Split("`n").Count

        # A reader on another thread reads the file as fast as it can and keeps every read that is not a whole
        # export: not ending in a line feed, another number of lines, or missing.
        function Start-Reader([string] $Path, [string] $Stop, [int] $Lines) {
            $ps = [powershell]::Create()
            $null = $ps.AddScript({
                    param($Path, $Stop, $Lines)
                    $reads = 0; $partial = 0; $example = $null
                    while (-not [IO.File]::Exists($Stop)) {
                        try { $t = [IO.File]::ReadAllText($Path) } catch [IO.FileNotFoundException] { $t = '' }
                        $reads++
                        if (-not $t.EndsWith("`n") -or $t.Split("`n").Count -ne $Lines) { $partial++; if ($null -eq $example) { $example = $t.Length } }
                    }
                    [pscustomobject]@{ Reads = $reads; Partial = $partial; Example = $example }
                }).AddArgument($Path).AddArgument($Stop).AddArgument($Lines)
            [pscustomobject]@{ Shell = $ps; Handle = $ps.BeginInvoke() }
        }
        function Stop-Reader($Reader, [string] $Stop) {
            $null = New-Item -ItemType File -Path $Stop
            try { $Reader.Shell.EndInvoke($Reader.Handle)[0] } finally { $Reader.Shell.Dispose(); Remove-Item $Stop }
        }

        $stop = Join-Path $TestDrive ([guid]::NewGuid().ToString('n'))
        $reader = Start-Reader $path $stop $lines
        foreach ($i in 1..40) { Export-ConntrackMetric -Root $root -Path $path -WarningAction SilentlyContinue }
        $atomic = Stop-Reader $reader $stop
        $atomic.Reads | Should -BeGreaterThan 40
        $atomic.Partial | Should -Be 0 -Because "a read of $($atomic.Example) characters was not a whole file"
        @(Get-ChildItem $dir -Force).Name | Should -Be @('conntrack.prom')

        # The control: the same content rewritten in place, in two halves, is seen torn by the same reader.
        $content = [IO.File]::ReadAllBytes($path)
        $reader = Start-Reader $path $stop $lines
        foreach ($i in 1..40) {
            $stream = [IO.FileStream]::new($path, [IO.FileMode]::Create, [IO.FileAccess]::Write, [IO.FileShare]::ReadWrite)
            try {
                $half = [int][math]::Floor($content.Length / 2)
                $stream.Write($content, 0, $half); $stream.Flush()
                Start-Sleep -Milliseconds 5
                $stream.Write($content, $half, $content.Length - $half)
            }
            finally { $stream.Dispose() }
        }
        $torn = Stop-Reader $reader $stop
        $torn.Partial | Should -BeGreaterThan 0
    }
}

Describe 'Export-ConntrackMetric errors' {
    BeforeAll {
        $script:root = Copy-Fixture linux-6.18-builtin
        # The error records a command writes or throws (the destination errors stop the command).
        function Get-Err([scriptblock] $Command) {
            $ErrorActionPreference = 'Continue'
            try { @(& $Command 2>&1 | Where-Object { $_ -is [Management.Automation.ErrorRecord] }) }
            catch { @($_) }
        }
    }

    It 'MetricFolderNotFound: the folder of -Path does not exist, and it is not created' {
        $missing = Join-Path $TestDrive 'no-such-folder'
        $err = Get-Err { Export-ConntrackMetric -Root $root -Path "$missing/conntrack.prom" }
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be "MetricFolderNotFound,$cmd"
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].TargetObject | Should -Be $missing
        $err[0].ErrorDetails.RecommendedAction | Should -Match 'create it first'
        $missing | Should -Not -Exist
    }

    It 'MetricFolderNotFound: the "folder" of -Path is a file' {
        $file = Join-Path $TestDrive 'a-file'
        Set-Content $file 'x'
        $err = Get-Err { Export-ConntrackMetric -Root $root -Path "$file/conntrack.prom" }
        $err[0].FullyQualifiedErrorId | Should -Be "MetricFolderNotFound,$cmd"
        $err[0].TargetObject | Should -Be $file
        $err[0].Exception.Message | Should -Match 'is a file, not a folder'
    }

    It 'PersistenceFileUnreadable: -Path is a FIFO, said without calling it a configuration file, and left as it was' {
        $dir = New-Item -ItemType Directory -Path (Join-Path $TestDrive ([guid]::NewGuid().ToString('n')))
        & mkfifo "$dir/conntrack.prom"
        $err = Get-Err { Export-ConntrackMetric -Root $root -Path "$dir/conntrack.prom" }
        $err[0].FullyQualifiedErrorId | Should -Be "PersistenceFileUnreadable,$cmd"
        $err[0].TargetObject | Should -Be "$dir/conntrack.prom"
        $err[0].Exception.Message | Should -Match 'is a FIFO \(named pipe\), not a regular file; it was left as it was'
        $err[0].Exception.Message | Should -Not -Match 'configuration file'
        $err[0].ErrorDetails.RecommendedAction | Should -Not -Match '\.conf'
        & test -p "$dir/conntrack.prom"
        $LASTEXITCODE | Should -Be 0
    }

    It 'MetricPathIsFolder: -Path names a folder' {
        $dir = New-Item -ItemType Directory -Path (Join-Path $TestDrive ([guid]::NewGuid().ToString('n')))
        $before = Get-TreeState $dir
        $err = Get-Err { Export-ConntrackMetric -Root $root -Path $dir.FullName }
        $err[0].FullyQualifiedErrorId | Should -Be "MetricPathIsFolder,$cmd"
        $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err[0].TargetObject | Should -Be $dir.FullName
        $err[0].ErrorDetails.RecommendedAction | Should -Match 'conntrack\.prom'
        Get-TreeState $dir | Should -Be $before
    }

    It 'MetricPathInvalid: -Path on a drive that is not the file system' {
        $err = Get-Err { Export-ConntrackMetric -Root $root -Path Env:/conntrack.prom }
        $err[0].FullyQualifiedErrorId | Should -Be "MetricPathInvalid,$cmd"
        $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err[0].TargetObject | Should -Be 'Env:/conntrack.prom'
        Test-Path Env:/conntrack.prom | Should -BeFalse
    }

    It 'MetricWriteDenied: a user who may not write the folder, and the old file stays' {
        $dir = New-Item -ItemType Directory -Path (Join-Path $TestDrive ([guid]::NewGuid().ToString('n')))
        $path = Join-Path $dir 'conntrack.prom'
        Set-Content $path 'old'
        # The file itself is writable: only an in-place rewrite could change it, and the export never does one.
        # The folder is r-x even for its owner: Invoke-Unprivileged drops the capabilities, not the owner's uid.
        [IO.File]::SetUnixFileMode($path, [IO.UnixFileMode]0x1B6)
        [IO.File]::SetUnixFileMode($dir, [IO.UnixFileMode]0x16D)
        $readable = Copy-Fixture linux-6.18-builtin
        [IO.File]::SetUnixFileMode($readable, [IO.UnixFileMode]0x1ED)
        $before = Get-TreeState $dir
        $result = Invoke-Unprivileged -ArgumentList $readable, $path -ScriptBlock {
            param($root, $path)
            Export-ConntrackMetric -Root $root -Path $path -ErrorAction SilentlyContinue -ErrorVariable e -WarningAction SilentlyContinue
            $e | ForEach-Object { [pscustomobject]@{ Id = $_.FullyQualifiedErrorId; Category = "$($_.CategoryInfo.Category)"; Target = $_.TargetObject; Action = $_.ErrorDetails.RecommendedAction } }
        }
        @($result).Count | Should -Be 1
        $result.Id | Should -Be "MetricWriteDenied,$cmd"
        $result.Category | Should -Be 'PermissionDenied'
        $result.Target | Should -Be $path
        $result.Action | Should -Match 'root'
        Get-TreeState $dir | Should -Be $before
    }

    It 'RootNotFound: nothing is written for a -Root that does not exist' {
        $dir = New-Item -ItemType Directory -Path (Join-Path $TestDrive ([guid]::NewGuid().ToString('n')))
        $err = Get-Err { Export-ConntrackMetric -Root (Join-Path $TestDrive 'nowhere') -Path (Join-Path $dir 'c.prom') }
        $err[0].FullyQualifiedErrorId | Should -Be "RootNotFound,$cmd"
        @(Get-ChildItem $dir -Force) | Should -BeNullOrEmpty
    }

    It 'a source that fails leaves out its metrics only, with a warning, and no error' {
        $broken = Copy-Fixture linux-6.18-overflow
        Set-Content "$broken/proc/net/stat/nf_conntrack" "00000001 00000002`n"
        Remove-Item "$broken/var/log" -Recurse -Force
        $ErrorActionPreference = 'Continue'
        $text = ((Export-ConntrackMetric -Root $broken -AsText -WarningVariable warn -ErrorVariable err 3>$null) -join "`n") + "`n"
        $err | Should -BeNullOrEmpty
        $p = Read-Exposition $text
        $p.Errors | Should -BeNullOrEmpty
        Get-Value $p export_source_success @{ source = 'statistics' } | Should -Be 0
        Get-Value $p export_source_success @{ source = 'kernel_log' } | Should -Be 0
        Get-Value $p export_source_success @{ source = 'limits' } | Should -Be 1
        Get-Value $p entries | Should -Be 64000
        @($p.Samples | Where-Object Name -like '*_stat_*') | Should -BeNullOrEmpty
        @($p.Samples | Where-Object Name -like '*_log_*') | Should -BeNullOrEmpty
        $warn.Count | Should -Be 2
        $warn[0] | Should -Match 'statistics source could not be read.*is not a header of column names'
        $warn[1] | Should -Match 'kernel log source could not be read.*No kernel log under'
    }
}

Describe 'The README''s Prometheus section' {
    BeforeAll {
        $readme = [IO.File]::ReadAllText((Join-Path $RepoRoot 'README.md'))
        $section = [regex]::Match($readme, '(?s)\n## Prometheus metrics for node_exporter\n(.*?)\n## ').Groups[1].Value
        $blocks = @([regex]::Matches($section, '(?s)```(\w+)\n(.*?)```') | ForEach-Object { [pscustomobject]@{ Lang = $_.Groups[1].Value; Text = $_.Groups[2].Value } })
        # Between them these two fixtures have every metric: the overflow's last message, the other's persisted values.
        $families = @(foreach ($fixture in 'linux-6.18-overflow', 'ubuntu-5.4-stale-buckets') { (Read-Exposition (Export-Text (Copy-Fixture $fixture))).Families.Keys }) | Sort-Object -Unique
        $noSystemdAnalyze = -not (Get-Command systemd-analyze -ErrorAction Ignore)
    }

    It 'lists in its table exactly the metrics the export writes' {
        $section | Should -Not -BeNullOrEmpty
        $listed = foreach ($row in [regex]::Matches($section, '(?m)^\| (`[^|]+) \| (gauge|counter) \|')) {
            [regex]::Matches($row.Groups[1].Value, '`([a-z_<>]+)`') | ForEach-Object { "conntrack_tuning_$($_.Groups[1].Value)" }
        }
        foreach ($family in @($families | Where-Object { $_ -notlike 'conntrack_tuning_stat_*' })) { $listed | Should -Contain $family }
        # Only the host of the running system writes these, as root: the test on this machine below holds them.
        $hostOnly = 'conntrack_tuning_namespace_entries', 'conntrack_tuning_namespaces'
        foreach ($name in @($listed | Where-Object { $_ -notmatch '<' -and $_ -notin $hostOnly })) { $name | Should -BeIn $families }
        $listed | Should -Contain 'conntrack_tuning_stat_<counter>_total'
    }

    It 'has alert rules that promtool accepts and that name only exported metrics' -Skip:$noPromtool {
        $rules = ($blocks | Where-Object Lang -eq 'yaml').Text
        $rules | Should -Not -BeNullOrEmpty
        $file = Join-Path $TestDrive 'rules.yml'
        Set-Content $file $rules
        $out = & promtool check rules $file 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
        foreach ($name in [regex]::Matches($rules, 'conntrack_tuning_[a-z_]+').Value) { $name | Should -BeIn $families }
    }

    It 'has a service and a timer that systemd-analyze verify accepts' -Skip:$noSystemdAnalyze {
        $units = @($blocks | Where-Object Lang -eq 'ini')
        $units.Count | Should -Be 2
        $dir = New-Item -ItemType Directory -Path (Join-Path $TestDrive ([guid]::NewGuid().ToString('n')))
        foreach ($unit in $units) {
            $name = [regex]::Match($unit.Text, '^# /etc/systemd/system/(\S+)').Groups[1].Value
            # This machine's pwsh is not at /usr/bin/pwsh: the unit is verified with a binary that exists, and the
            # command line itself is run by the next test.
            Set-Content (Join-Path $dir $name) ($unit.Text -replace '/usr/bin/pwsh', '/bin/sh')
        }
        @(Get-ChildItem $dir).Name | Should -Be @('conntrack-metrics.service', 'conntrack-metrics.timer')
        $out = & systemd-analyze verify --man=no (Get-ChildItem $dir).FullName 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
    }

    It 'has a service command line that works in a fresh pwsh, which finds the module by itself' {
        $exec = [regex]::Match(($blocks | Where-Object Lang -eq 'ini').Text -join "`n", 'ExecStart=/usr/bin/pwsh (-NoProfile -NonInteractive) -Command "(.*)"').Groups
        $exec[2].Value | Should -Match '^Export-ConntrackMetric -Path /var/lib/prometheus/node-exporter/conntrack\.prom$'
        $cron = ($blocks | Where-Object Lang -eq 'text').Text
        $cron | Should -Match ([regex]::Escape("-Command '$($exec[2].Value)'"))
        $dir = New-Item -ItemType Directory -Path (Join-Path $TestDrive ([guid]::NewGuid().ToString('n')))
        $command = $exec[2].Value.Replace('/var/lib/prometheus/node-exporter', $dir.FullName)
        $pwsh = Get-PwshCommand
        $saved = $env:PSModulePath
        try {
            $env:PSModulePath = (Split-Path $ModulePath) + [IO.Path]::PathSeparator + $saved
            $out = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command $command 2>&1
        }
        finally { $env:PSModulePath = $saved }
        $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
        (Read-Exposition ([IO.File]::ReadAllText((Join-Path $dir 'conntrack.prom')))).Errors | Should -BeNullOrEmpty
    }
}

Describe 'Export-ConntrackMetric on this machine' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll { $script:lock = Enter-ConntrackLock }
    AfterAll { $script:lock.Dispose() }

    It 'in a namespace with traffic: the count, limit and buckets files, and conntrack -S per CPU' {
        $r = Invoke-InNetns -Track -ScriptBlock {
            $udp = [Net.Sockets.UdpClient]::new()
            foreach ($port in 22000..22049) { $null = $udp.Send([byte[]](1), 1, '127.0.0.1', $port) }
            $udp.Dispose()
            [pscustomobject]@{
                Text    = @(Export-ConntrackMetric -AsText -PerCpu -WarningAction SilentlyContinue)
                Cli     = @(& conntrack -S)
                Count   = [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_count)
                Max     = [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_max)
                Buckets = [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_buckets)
                NetNs   = (Get-Item /proc/self/ns/net).LinkTarget
                Release = (Get-Content /proc/sys/kernel/osrelease)
            }
        }
        $p = Read-Exposition (($r.Text -join "`n") + "`n")
        $p.Errors | Should -BeNullOrEmpty
        Get-Value $p entries | Should -Be $r.Count
        Get-Value $p entries | Should -BeGreaterOrEqual 50
        Get-Value $p entries_limit | Should -Be $r.Max
        Get-Value $p hash_buckets | Should -Be $r.Buckets
        $info = $p.Samples | Where-Object Name -eq 'conntrack_tuning_kernel_info'
        $info.Labels['release'] | Should -Be $r.Release
        "net:[$($info.Labels['netns'])]" | Should -Be $r.NetNs
        $info.Labels['initial_namespace'] | Should -Be 'false'
        Get-Value $p statistics_source_info @{ source = '/proc/net/stat/nf_conntrack' } | Should -Be 1
        foreach ($line in $r.Cli) {
            $stat = ConvertFrom-ConntrackStatLine $line
            $cpu, $fromCli = $stat.Cpu, $stat.Values
            $names = @{ drop = 'drop'; early_drop = 'early_drop'; insert_failed = 'insert_failed'; invalid = 'invalid'; found = 'found'; insert = 'insert'
                error = 'icmp_error'; clash_resolve = 'clash_resolve'; chaintoolong = 'chain_too_long'; search_restart = 'search_restart'; ignore = 'ignore' }
            foreach ($attribute in $names.Keys) {
                if ($fromCli.ContainsKey($attribute)) {
                    Get-Value $p "stat_$($names[$attribute])_total" @{ cpu = $cpu } | Should -Be $fromCli[$attribute] -Because "cpu $cpu $attribute"
                }
            }
        }
    }

    It 'in the initial namespace: the files, the procfs statistics and the kernel log as Get-ConntrackDropEvent counts it' {
        $dir = New-Item -ItemType Directory -Path (Join-Path $TestDrive ([guid]::NewGuid().ToString('n')))
        $path = Join-Path $dir 'conntrack.prom'
        $boot = (Get-Date).AddSeconds(-[double]((Get-Content /proc/uptime) -split ' ')[0] - 1)
        # Each value is read before and after the export, which must lie between: the initial namespace is this
        # machine's, and the lock keeps only the other test runs out, not its own traffic.
        function Get-ProcDrop {
            $sum = 0; $header = $null
            foreach ($line in Get-Content /proc/net/stat/nf_conntrack) {
                $cells = -split $line
                if (-not $header) { $header = $cells; continue }
                $sum += [Convert]::ToInt64($cells[[array]::IndexOf($header, 'drop')], 16)
            }
            $sum
        }
        $countBefore = [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_count)
        $dropBefore = Get-ProcDrop
        $before = Get-ConntrackDropEvent -Since $boot -Summary -WarningAction SilentlyContinue
        Export-ConntrackMetric -Path $path -WarningAction SilentlyContinue
        $after = Get-ConntrackDropEvent -Since $boot -Summary -WarningAction SilentlyContinue
        $dropAfter = Get-ProcDrop
        $countAfter = [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_count)
        $text = [IO.File]::ReadAllText($path)
        $p = Read-Exposition $text
        $p.Errors | Should -BeNullOrEmpty
        if (Get-Command promtool -ErrorAction Ignore) { $text | & promtool check metrics; $LASTEXITCODE | Should -Be 0 }
        foreach ($source in 'limits', 'statistics', 'kernel_log') { Get-Value $p export_source_success @{ source = $source } | Should -Be 1 }
        Get-Value $p entries_limit | Should -Be ([long](Get-Content /proc/sys/net/netfilter/nf_conntrack_max))
        Get-Value $p hash_buckets | Should -Be ([long](Get-Content /proc/sys/net/netfilter/nf_conntrack_buckets))
        Get-Value $p entries | Should -BeGreaterOrEqual ([math]::Min($countBefore, $countAfter))
        Get-Value $p entries | Should -BeLessOrEqual ([math]::Max($countBefore, $countAfter))
        $info = $p.Samples | Where-Object Name -eq 'conntrack_tuning_kernel_info'
        $info.Labels['initial_namespace'] | Should -Be 'true'
        "net:[$($info.Labels['netns'])]" | Should -Be (Get-Item /proc/self/ns/net).LinkTarget
        Get-Value $p statistics_source_info @{ source = '/proc/net/stat/nf_conntrack' } | Should -Be 1
        Get-Value $p stat_drop_total | Should -BeGreaterOrEqual $dropBefore
        Get-Value $p stat_drop_total | Should -BeLessOrEqual $dropAfter
        # The table-full messages of this boot, between two counts by Get-ConntrackDropEvent.
        $logged = ($p.Samples | Where-Object Name -eq 'conntrack_tuning_log_table_full_messages_total' | Measure-Object Value -Sum).Sum
        $logged | Should -BeGreaterOrEqual $before.Logged
        $logged | Should -BeLessOrEqual $after.Logged
        Get-Value $p log_suppressed_messages_total | Should -BeGreaterOrEqual $before.Suppressed
        Get-Value $p log_suppressed_messages_total | Should -BeLessOrEqual $after.Suppressed
        foreach ($ns in $after.NetworkNamespaces) {
            Get-Value $p log_table_full_messages_total @{ netns = $ns } | Should -BeGreaterThan 0
        }
    }

    It 'on the host, as root: the namespace metrics and their source, which the README''s table and the help name' {
        $p = Read-Exposition (Export-Text '/')
        $p.Errors | Should -BeNullOrEmpty
        Get-Value $p export_source_success @{ source = 'namespaces' } | Should -Be 1
        $families = @($p.Families.Keys | Where-Object { $_ -notlike 'conntrack_tuning_stat_*' })
        $families | Should -Contain 'conntrack_tuning_namespace_entries'
        $families | Should -Contain 'conntrack_tuning_namespaces'
        $readme = [IO.File]::ReadAllText((Join-Path $RepoRoot 'README.md'))
        $rows = @([regex]::Matches($readme, '(?m)^\| (`[^|]+) \| (gauge|counter) \|([^|]*)\|'))
        $listed = foreach ($row in $rows) { [regex]::Matches($row.Groups[1].Value, '`([a-z_<>]+)`') | ForEach-Object { "conntrack_tuning_$($_.Groups[1].Value)" } }
        $help = (Get-Help Export-ConntrackMetric).description.Text -join "`n"
        foreach ($family in $families) {
            $listed | Should -Contain $family -Because 'the README''s metrics table lists every metric'
            $help | Should -Match "(?m)^- (?:[a-z_]+, )*$($family -replace '^conntrack_tuning_')\b" -Because 'the help lists every metric'
        }
        $sources = ($rows | Where-Object { $_.Groups[1].Value -eq '`export_source_success`' }).Groups[3].Value
        $helpSources = [regex]::Match($help, '(?m)^- export_source_success \(([^)]*)\)').Groups[1].Value
        foreach ($source in @($p.Samples | Where-Object Name -eq 'conntrack_tuning_export_source_success' | ForEach-Object { $_.Labels['source'] })) {
            $sources | Should -Match "``$source``" -Because 'the README names every source'
            $helpSources | Should -Match "\b$source\b" -Because 'the help names every source'
        }
    }
}
