# The parameters several cmdlets share come from one base class each (ConntrackFilterCmdlet, ConntrackImageCmdlet,
# ConntrackImageMemoryCmdlet). What a user sees must be the same on every cmdlet that has them: type, sets,
# position, pipeline binding, aliases, validation and completion. These tests read that from Get-Command, the way
# the help build and tab completion do, and check it against values written out here rather than against each
# other alone, so a change to the base shows up as a change to what users get.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')

    # One line per parameter and set: everything PowerShell binds, validates and completes by.
    function Get-ParameterShape([string] $Command, [string] $Name) {
        $p = (Get-Command $Command).Parameters[$Name]
        $validation = @($p.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateArgumentsAttribute] -or $_ -is [System.Management.Automation.ValidateEnumeratedArgumentsAttribute] } |
                ForEach-Object {
                    $t = $_.GetType().Name
                    if ($_ -is [System.Management.Automation.ValidateSetAttribute]) { "$t($($_.ValidValues -join ','))" }
                    elseif ($_ -is [System.Management.Automation.ValidateRangeAttribute]) { "$t($($_.MinRange),$($_.MaxRange))" }
                    else { $t }
                } | Sort-Object) -join ' '
        $completer = @($p.Attributes | Where-Object { $_ -is [System.Management.Automation.ArgumentCompleterAttribute] } | ForEach-Object { $_.Type.Name }) -join ' '
        $sets = @($p.ParameterSets.GetEnumerator() | Sort-Object Key | ForEach-Object {
                '{0}:{1}:{2}:{3}:{4}' -f $_.Key, $_.Value.IsMandatory, $_.Value.Position, $_.Value.ValueFromPipeline, $_.Value.ValueFromPipelineByPropertyName
            }) -join ' '
        '{0} [{1}] sets={2} aliases={3} validate={4} complete={5}' -f $Name, $p.ParameterType.Name, $sets, ($p.Aliases -join ','), $validation, $completer
    }

    $script:filters = [ordered]@{
        Protocol        = 'Protocol [String[]] sets=__AllParameterSets:False:-2147483648:False:False aliases= validate=ValidateNotNullOrEmptyAttribute complete=ConntrackProtocolCompleter'
        State           = 'State [String[]] sets=__AllParameterSets:False:-2147483648:False:False aliases= validate=ValidateNotNullOrEmptyAttribute complete=ConntrackStateCompleter'
        Source          = 'Source [String[]] sets=__AllParameterSets:False:-2147483648:False:False aliases= validate=ValidateNotNullOrEmptyAttribute complete='
        Destination     = 'Destination [String[]] sets=__AllParameterSets:False:-2147483648:False:False aliases= validate=ValidateNotNullOrEmptyAttribute complete='
        Port            = 'Port [Int32[]] sets=__AllParameterSets:False:-2147483648:False:False aliases= validate=ValidateNotNullOrEmptyAttribute complete='
        SourcePort      = 'SourcePort [Int32[]] sets=__AllParameterSets:False:-2147483648:False:False aliases= validate=ValidateNotNullOrEmptyAttribute complete='
        DestinationPort = 'DestinationPort [Int32[]] sets=__AllParameterSets:False:-2147483648:False:False aliases= validate=ValidateNotNullOrEmptyAttribute complete='
        Mark            = 'Mark [String] sets=__AllParameterSets:False:-2147483648:False:False aliases= validate=ValidateNotNullOrEmptyAttribute complete='
        Zone            = 'Zone [Int32] sets=__AllParameterSets:False:-2147483648:False:False aliases= validate=ValidateRangeAttribute(0,65535) complete='
        Family          = 'Family [String] sets=__AllParameterSets:False:-2147483648:False:False aliases= validate=ValidateSetAttribute(IPv4,IPv6) complete='
        Unreplied       = 'Unreplied [SwitchParameter] sets=__AllParameterSets:False:-2147483648:False:False aliases= validate= complete='
        Assured         = 'Assured [SwitchParameter] sets=__AllParameterSets:False:-2147483648:False:False aliases= validate= complete='
    }
}

Describe 'The entry filters of Get-ConntrackEntry, Get-ConntrackEvent and Remove-ConntrackEntry' {
    It '<Command> -<Name> is bound, validated and completed as the filter base declares it' -TestCases @(
        foreach ($command in 'Get-ConntrackEntry', 'Get-ConntrackEvent') {
            foreach ($name in 'Protocol', 'State', 'Source', 'Destination', 'Port', 'SourcePort', 'DestinationPort', 'Mark', 'Zone', 'Family', 'Unreplied', 'Assured') {
                @{ Command = $command; Name = $name }
            }
        }
    ) {
        Get-ParameterShape $Command $Name | Should -BeExactly $filters[$Name]
    }

    It 'Remove-ConntrackEntry -<Name> is the same, but in the Filter set only (piped entries are deleted exactly)' -TestCases @(
        foreach ($name in 'Protocol', 'State', 'Source', 'Destination', 'Port', 'SourcePort', 'DestinationPort', 'Mark', 'Zone', 'Family', 'Unreplied', 'Assured') { @{ Name = $name } }
    ) {
        Get-ParameterShape Remove-ConntrackEntry $Name | Should -BeExactly ($filters[$Name] -replace '__AllParameterSets', 'Filter')
    }

    It 'refuses a filter with piped entries: the pipeline cannot bind InputObject once -Protocol chose the Filter set' {
        $entry = Get-ConntrackEntry -Path (Join-Path $PSScriptRoot 'ConntrackTuning.Engine.Tests/Data/dump-mixed.conntrack-L.txt') | Select-Object -First 1
        { $entry | Remove-ConntrackEntry -Protocol tcp -WhatIf -ErrorAction Stop } | Should -Throw -ErrorId 'InputObjectNotBound,ConntrackTuning.Commands.RemoveConntrackEntryCommand'
    }

    It 'turns a bad <Name> into the same terminating InvalidEntryFilter error on each cmdlet' -TestCases @(
        @{ Name = 'Source'; Value = '10.0.0.0/33' }
        @{ Name = 'Mark'; Value = 'seven' }
        @{ Name = 'Protocol'; Value = 'nosuchprotocol' }
    ) {
        $fixture = Copy-Fixture linux-6.18-entries
        foreach ($run in @(
                @{ Id = 'GetConntrackEntryCommand'; Block = { $p = @{ $Name = $Value }; Get-ConntrackEntry -Root $fixture @p } }
                @{ Id = 'GetConntrackEventCommand'; Block = { $p = @{ $Name = $Value }; Get-ConntrackEvent -Root $fixture -Duration 1 @p } }
                @{ Id = 'RemoveConntrackEntryCommand'; Block = { $p = @{ $Name = $Value }; Remove-ConntrackEntry -Root $fixture -WhatIf @p } }
            )) {
            $caught = $null
            try { & $run.Block } catch { $caught = $_ }
            $caught | Should -Not -BeNullOrEmpty -Because "$($run.Id) must refuse -$Name $Value"
            $caught.FullyQualifiedErrorId | Should -Be "InvalidEntryFilter,ConntrackTuning.Commands.$($run.Id)"
            $caught.CategoryInfo.Category | Should -Be 'InvalidArgument'
        }
    }
}

# The cmdlets with -NetworkNamespace stand on six different bases, so it is declared in eight places (once for the three
# on ConntrackNamespaceReadCmdlet): what users get must still be one parameter.
Describe 'The network namespace parameter -NetworkNamespace' {
    It 'is on these cmdlets and no others' {
        @(Get-Command -Module ConntrackTuning | Where-Object { $_.Parameters.ContainsKey('NetworkNamespace') } | ForEach-Object Name | Sort-Object) |
            Should -Be 'Clear-ConntrackTable', 'Get-ConntrackEntry', 'Get-ConntrackEvent', 'Get-ConntrackExpectation', 'Get-ConntrackStatistic',
            'Get-ConntrackTimeout', 'Remove-ConntrackEntry', 'Set-ConntrackTimeout', 'Test-ConntrackHealth', 'Watch-Conntrack'
    }

    It '<Command> -NetworkNamespace binds by property name (from Get-ConntrackNamespace) and completes the namespaces' -TestCases @(
        foreach ($command in 'Clear-ConntrackTable', 'Get-ConntrackEntry', 'Get-ConntrackEvent', 'Get-ConntrackExpectation', 'Get-ConntrackStatistic',
            'Get-ConntrackTimeout', 'Set-ConntrackTimeout', 'Test-ConntrackHealth', 'Watch-Conntrack') { @{ Command = $command } }
    ) {
        Get-ParameterShape $Command NetworkNamespace |
            Should -BeExactly 'NetworkNamespace [String] sets=__AllParameterSets:False:-2147483648:False:True aliases= validate= complete=NetworkNamespaceCompleter'
    }

    It 'Remove-ConntrackEntry -NetworkNamespace is the same, but not bound from the pipeline' {
        Get-ParameterShape Remove-ConntrackEntry NetworkNamespace |
            Should -BeExactly 'NetworkNamespace [String] sets=__AllParameterSets:False:-2147483648:False:False aliases= validate= complete=NetworkNamespaceCompleter'
    }
}

# -Summary and -Top are declared on each of the two cmdlets: on a base of their own, -Top would move in the syntax of
# Get-ConntrackEvent (PowerShell lists a base's parameters after the cmdlet's own).
Describe 'The summary parameters -Summary and -Top' {
    It '<Command> -<Name> is the same on both' -TestCases @(
        foreach ($command in 'Get-ConntrackEntry', 'Get-ConntrackEvent') {
            @{ Command = $command; Name = 'Summary'; Shape = 'Summary [SwitchParameter] sets=Summary:True:-2147483648:False:False aliases= validate= complete=' }
            @{ Command = $command; Name = 'Top'; Shape = 'Top [Int32] sets=Summary:False:-2147483648:False:False aliases= validate=ValidateRangeAttribute(1,10000) complete=' }
        }
    ) {
        Get-ParameterShape $Command $Name | Should -BeExactly $Shape
    }
}

Describe 'The image parameters -KernelRelease and -MemoryBytes' {
    It '<Command> -KernelRelease is one declaration, completed from the installed kernels' -TestCases @(
        @{ Command = 'Get-ConntrackKernel' }, @{ Command = 'Get-ConntrackLimit' }, @{ Command = 'Test-ConntrackHealth' }, @{ Command = 'Get-ConntrackRecommendation' }
    ) {
        Get-ParameterShape $Command KernelRelease |
            Should -BeExactly 'KernelRelease [String] sets=__AllParameterSets:False:-2147483648:False:False aliases= validate=ValidateNotNullOrEmptyAttribute complete=InstalledKernelCompleter'
    }

    It '<Command> -MemoryBytes is one declaration, refusing less than 4 MiB' -TestCases @(
        @{ Command = 'Get-ConntrackLimit' }, @{ Command = 'Test-ConntrackHealth' }, @{ Command = 'Get-ConntrackRecommendation' }
    ) {
        Get-ParameterShape $Command MemoryBytes |
            Should -BeExactly "MemoryBytes [Nullable``1] sets=__AllParameterSets:False:-2147483648:False:False aliases= validate=ValidateMemoryBytesAttribute complete="
        $e = { & $Command -MemoryBytes 512 -ErrorAction Stop } | Should -Throw -PassThru
        $e.FullyQualifiedErrorId | Should -BeLike "ParameterArgumentValidationError,*"
        $e.Exception.Message | Should -BeLike '*write the unit, as in 512MB or 512GB*'
        { & $Command -MemoryBytes 4MB -ErrorAction Stop -WarningAction SilentlyContinue } | Should -Not -Throw
    }

    It 'completes -KernelRelease of <Command> with the kernels of the -Root typed' -TestCases @(
        @{ Command = 'Get-ConntrackKernel' }, @{ Command = 'Get-ConntrackLimit' }, @{ Command = 'Test-ConntrackHealth' }, @{ Command = 'Get-ConntrackRecommendation' }
    ) {
        $image = Join-Path $TestDrive "image-$Command"
        foreach ($release in '6.1.0-18-amd64', '6.12.9-amd64') { $null = New-Item -ItemType Directory -Force (Join-Path $image "lib/modules/$release") }
        $complete = { param($word) $line = "$Command -Root '$image' -KernelRelease $word"; (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText }
        & $complete '6.1.' | Should -Be '6.1.0-18-amd64'
        & $complete '6' | Should -Be '6.12.9-amd64', '6.1.0-18-amd64'
    }

    It 'completes -KernelRelease under a relative -Root from the session location, as the cmdlet resolves it' {
        $null = New-Item -ItemType Directory -Force (Join-Path $TestDrive 'relative-image/lib/modules/6.6.1-relative')
        [Environment]::CurrentDirectory | Should -Not -Be $TestDrive -Because 'the process directory must differ from the location for this to prove anything'
        Push-Location $TestDrive
        try {
            $line = "Get-ConntrackLimit -Root ./relative-image -KernelRelease 6.6"
            (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be '6.6.1-relative'
        }
        finally { Pop-Location }
    }
}

Describe 'The time span parameters' {
    BeforeDiscovery {
        . (Join-Path $PSScriptRoot 'Common.ps1')
        $timeSpans = foreach ($command in Get-Command -Module ConntrackTuning) {
            foreach ($p in $command.Parameters.Values | Where-Object ParameterType -EQ ([timespan])) { @{ Command = $command.Name; Name = $p.Name } }
        }
    }

    # PowerShell reads a bare number given to a TimeSpan as ticks: -OlderThan 600 would be 60 microseconds, and
    # Remove-ConntrackEntry would delete nearly every timestamped entry. Every TimeSpan parameter of the module
    # takes a number as seconds, as the help of each says.
    It 'are found: the durations of Get-ConntrackEvent and Watch-Conntrack, and -OlderThan' -TestCases @(@{ Found = @($timeSpans | ForEach-Object { "$($_.Command) -$($_.Name)" }) }) {
        $Found | Should -Contain 'Remove-ConntrackEntry -OlderThan'
        $Found | Should -Contain 'Watch-Conntrack -Interval'
        $Found.Count | Should -BeGreaterOrEqual 5
    }

    It '<Command> -<Name> takes 600 as 600 seconds, and a TimeSpan or its text as it is' -TestCases $timeSpans {
        $transforms = @((Get-Command $Command).Parameters[$Name].Attributes | Where-Object { $_ -is [System.Management.Automation.ArgumentTransformationAttribute] })
        $transforms | Should -Not -BeNullOrEmpty
        foreach ($case in @(@(600, [timespan]::FromSeconds(600)), @('2.5', [timespan]::FromSeconds(2.5)), @([timespan]::FromMinutes(10), [timespan]::FromMinutes(10)))) {
            $value = $case[0]
            foreach ($t in $transforms) { $value = $t.Transform($ExecutionContext, $value) }
            [timespan]$value | Should -Be $case[1]
        }
        [timespan]($transforms[0].Transform($ExecutionContext, '00:10:00')) | Should -Be ([timespan]::FromMinutes(10))
    }
}
