# Every object the module outputs survives ConvertTo-Json / ConvertFrom-Json with its meaning intact: closed sets
# as names, sizes as numbers, no nested .NET object flattened to its type name, no recursion into internals (the
# JSON of an object stays small and shallow), and the property names still bind to the next cmdlet after the
# round trip (Ansible, REST, files). Depth 4 holds everything, including change records with their file diffs.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:outputs = @(
        @{ Name = 'ConntrackKernel'; Command = { param($r) Get-ConntrackKernel -Root $r } }
        @{ Name = 'ConntrackLimit'; Command = { param($r) Get-ConntrackLimit -Root $r } }
        @{ Name = 'ConntrackRecommendation'; Command = { param($r) Get-ConntrackRecommendation -Root $r -Profile All } }
        @{ Name = 'ConntrackStatistic'; Command = { param($r) Get-ConntrackStatistic -Root $r } }
        @{ Name = 'ConntrackStatistic per CPU'; Command = { param($r) Get-ConntrackStatistic -Root $r -PerCpu } }
        @{ Name = 'ConntrackDropEvent'; Command = { param($r) Get-ChildItem "$r/var/log" -Filter 'kern.log*' | Get-ConntrackDropEvent } }
        @{ Name = 'ConntrackDropEventSummary'; Command = { param($r) Get-ChildItem "$r/var/log" -Filter 'kern.log*' | Get-ConntrackDropEvent -Summary } }
        @{ Name = 'ConntrackHealthFinding'; Command = { param($r) Test-ConntrackHealth -Root $r } }
        @{ Name = 'ConntrackEntry'; Fixture = 'linux-6.18-entries'; Command = { param($r) Get-ConntrackEntry -Root $r } }
        @{ Name = 'ConntrackSummary'; Fixture = 'linux-6.18-entries'; Command = { param($r) Get-ConntrackEntry -Root $r -Summary } }
        @{ Name = 'ConntrackTimeout'; Command = { param($r) Get-ConntrackTimeout -Root $r } }
        @{ Name = 'ConntrackChange'; Command = { param($r) Set-ConntrackLimit -Root $r -Max 524288 -Persist -WhatIf -PassThru; Set-ConntrackTimeout -Root $r -Protocol tcp -State established -Seconds 86400 -WhatIf -PassThru } }
    )
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')

    # A string that is only a .NET type name is what ConvertTo-Json writes for an object it did not expand.
    function Find-FlattenedObject($Value, [string] $Path) {
        if ($Value -is [string]) {
            if ($Value -match '^(System|ConntrackTuning|Microsoft)\.[\w.`\[\], ]+$') { "$Path = '$Value'" }
        }
        elseif ($Value -is [System.Collections.IEnumerable] -and $Value -isnot [System.Collections.IDictionary]) {
            $i = 0
            foreach ($item in $Value) { Find-FlattenedObject $item "$Path[$i]"; $i++ }
        }
        elseif ($Value -is [pscustomobject]) {
            foreach ($p in $Value.PSObject.Properties) { Find-FlattenedObject $p.Value "$Path.$($p.Name)" }
        }
    }
}

Describe 'JSON round trip of <Name>' -ForEach $outputs {
    BeforeAll {
        $script:root = Copy-Fixture $(if ($Fixture) { $Fixture } else { 'linux-6.18-overflow' })
        $script:objects = @(& $Command $root -WarningAction SilentlyContinue)
        $script:json = $objects | ConvertTo-Json -Depth 4 -WarningVariable truncated -WarningAction SilentlyContinue
        $script:truncated = $truncated
        $script:back = @($json | ConvertFrom-Json)
    }

    It 'gives objects to convert' {
        $objects.Count | Should -BeGreaterThan 0
    }

    It 'fits depth 4, stays small, and flattens no object into its type name' {
        $truncated | Should -BeNullOrEmpty
        ($json.Length / $objects.Count) | Should -BeLessThan 20000
        Find-FlattenedObject $back 'output' | Should -BeNullOrEmpty
    }

    It 'converts one object at the default depth unless it carries file diffs' {
        $null = $objects[0] | ConvertTo-Json -WarningVariable shallow -WarningAction SilentlyContinue
        if (-not ($objects[0].PSObject.Properties.Name -contains 'Files' -and @($objects[0].Files).Count)) { $shallow | Should -BeNullOrEmpty }
    }

    It 'keeps every public property, with numbers as numbers and closed sets as names' {
        $first = $objects[0]
        foreach ($property in $first.PSObject.Properties | Where-Object MemberType -eq 'Property') {
            $value = $back[0].($property.Name)
            $original = $property.Value
            if ($null -eq $original) { $value | Should -BeNullOrEmpty; continue }
            switch ($original.GetType()) {
                { $_.IsEnum } { throw "$($property.Name) is an enum ($_); outputs expose closed sets as strings so JSON keeps the name." }
                { $_ -in [int], [long], [double], [uint32], [uint64], [int16], [uint16], [byte], [decimal] } { [double]$value | Should -Be ([double]$original) -Because $property.Name }
                { $_ -eq [string] } { $value | Should -BeExactly $original -Because $property.Name }
                { $_ -eq [bool] } { $value | Should -Be $original -Because $property.Name }
            }
        }
    }
}

Describe 'After a JSON round trip' {
    It 'a recommendation still binds to Set-ConntrackLimit by property name' {
        $root = Copy-Fixture ubuntu-5.15-module-noprocfs
        $plan = Get-ConntrackRecommendation -Root $root | ConvertTo-Json | ConvertFrom-Json
        $change = $plan | Set-ConntrackLimit -WhatIf -PassThru
        $change.NewValue | Should -Be $plan.Max
        $change.Root | Should -Be $root
    }
}
