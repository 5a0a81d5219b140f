# Every path parameter goes through one resolution (ConntrackCmdlet.Paths): -Path expands wildcards through
# PowerShell's provider, -LiteralPath and -Root take the name as written; both resolve relative paths against the
# current location and through any FileSystem drive. Names with [brackets], spaces and a leading dash are the
# ones that break hand-made resolution, so each test uses them.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:dropCmd = 'ConntrackTuning.Commands.GetConntrackDropEventCommand'
    $script:entryCmd = 'ConntrackTuning.Commands.GetConntrackEntryCommand'
    $script:entryFile = Join-Path $PSScriptRoot 'ConntrackTuning.Engine.Tests/Data/dump-mixed.conntrack-L.txt'
    $script:entryCount = @(Get-ConntrackEntry -Path $entryFile).Count

    # A folder with awkward names holding copies of one kernel log with three table-full messages.
    function New-AwkwardLogFolder {
        $root = Copy-Fixture linux-6.18-overflow
        $folder = Join-Path $TestDrive ("logs [{0}] with space" -f [guid]::NewGuid().ToString('n').Substring(0, 6))
        $null = New-Item -ItemType Directory -Path $folder
        foreach ($name in 'kern[1].log', 'kern 2.log', '-kern3.log') {
            Copy-Item -LiteralPath "$root/var/log/kern.log" -Destination (Join-Path $folder $name)
        }
        $folder
    }
}

Describe 'Get-ConntrackDropEvent -Path and -LiteralPath' {
    BeforeAll {
        $script:folder = New-AwkwardLogFolder
        $script:perFile = @(Get-ConntrackDropEvent -LiteralPath (Join-Path $folder 'kern 2.log')).Count
    }

    It 'finds three messages in each copy (the baseline the other tests count in)' {
        $perFile | Should -Be 3
    }

    It '-LiteralPath reads <Name> as written' -TestCases @(
        @{ Name = 'kern[1].log' }, @{ Name = 'kern 2.log' }, @{ Name = '-kern3.log' }
    ) {
        $events = @(Get-ConntrackDropEvent -LiteralPath (Join-Path $folder $Name))
        $events.Count | Should -Be $perFile
        $events[0].Source | Should -Be (Join-Path $folder $Name)
    }

    It '-Path treats brackets as a wildcard class: kern[1].log matches no file named so, the escaped name does' {
        Get-ConntrackDropEvent -Path (Join-Path $folder 'kern[1].log') -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be "LogFileNotFound,$dropCmd"
        @(Get-ConntrackDropEvent -Path (Join-Path ([WildcardPattern]::Escape($folder)) 'kern`[1`].log')).Count | Should -Be $perFile
    }

    It '-Path expands a wildcard over every copy' {
        @(Get-ConntrackDropEvent -Path (Join-Path ([WildcardPattern]::Escape($folder)) '*.log')).Count | Should -Be (3 * $perFile)
    }

    It 'resolves relative paths against the current location after Set-Location' {
        Push-Location -LiteralPath $folder
        try {
            @(Get-ConntrackDropEvent -LiteralPath './-kern3.log').Count | Should -Be $perFile
            @(Get-ConntrackDropEvent -LiteralPath 'kern[1].log').Count | Should -Be $perFile
            @(Get-ConntrackDropEvent -Path 'kern?2.log').Count | Should -Be $perFile
        }
        finally { Pop-Location }
    }

    It 'resolves a path on a PSDrive of the file system' {
        $null = New-PSDrive -Name CttLogs -PSProvider FileSystem -Root $folder -Scope Global
        try {
            @(Get-ConntrackDropEvent -LiteralPath 'CttLogs:/kern[1].log').Count | Should -Be $perFile
            @(Get-ConntrackDropEvent -Path 'CttLogs:/kern*').Count | Should -Be (2 * $perFile)
            (Get-ConntrackDropEvent -LiteralPath 'CttLogs:/kern 2.log')[0].Source | Should -Be (Join-Path $folder 'kern 2.log')
        }
        finally { Remove-PSDrive CttLogs -Scope Global }
    }

    It 'binds files piped from Get-ChildItem to -LiteralPath, brackets and all' {
        $events = @(Get-ChildItem -LiteralPath $folder -File | Get-ConntrackDropEvent)
        $events.Count | Should -Be (3 * $perFile)
        @($events.Source | Sort-Object -Unique) | Should -Be @(Get-ChildItem -LiteralPath $folder -File | ForEach-Object FullName | Sort-Object)
    }

    It 'names a missing <Kind> path in LogFileNotFound (ObjectNotFound, the absolute path as target) and reads the others' -TestCases @(
        @{ Kind = 'literal'; Literal = $true }, @{ Kind = 'wildcard'; Literal = $false }
    ) {
        Push-Location -LiteralPath $folder
        try {
            $p = if ($Literal) { @{ LiteralPath = 'missing [x].log', '-kern3.log' } } else { @{ Path = 'missing*.log', 'kern?2.log' } }
            $events = @(Get-ConntrackDropEvent @p -ErrorAction SilentlyContinue -ErrorVariable err)
            $events.Count | Should -Be $perFile
            $err.Count | Should -Be 1
            $err[0].FullyQualifiedErrorId | Should -Be "LogFileNotFound,$dropCmd"
            $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $err[0].TargetObject | Should -Be (Join-Path $folder $(if ($Literal) { 'missing [x].log' } else { 'missing*.log' }))
        }
        finally { Pop-Location }
    }
}

Describe 'Get-ConntrackEntry -Path and -LiteralPath' {
    BeforeAll {
        $script:efolder = Join-Path $TestDrive 'saved [tables] here'
        $null = New-Item -ItemType Directory -Path $efolder
        Copy-Item -LiteralPath $entryFile -Destination (Join-Path $efolder '-table[1].txt')
    }

    It '-LiteralPath reads a saved table whose name holds brackets and a leading dash, relative to the location' {
        Push-Location -LiteralPath $efolder
        try {
            @(Get-ConntrackEntry -LiteralPath '-table[1].txt').Count | Should -Be $entryCount
            @(Get-ConntrackEntry -Path '-table`[1`].txt').Count | Should -Be $entryCount
        }
        finally { Pop-Location }
    }

    It 'names a missing -LiteralPath file in EntryFileNotFound with the absolute path as target' {
        Push-Location -LiteralPath $efolder
        try {
            Get-ConntrackEntry -LiteralPath 'gone [1].txt' -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -Be "EntryFileNotFound,$entryCmd"
            $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $err[0].TargetObject | Should -Be (Join-Path $efolder 'gone [1].txt')
        }
        finally { Pop-Location }
    }
}

Describe '-Root taken as written' {
    It 'reads a root whose folder name holds brackets, spaces and a leading dash, relative and through a PSDrive' {
        $parent = Join-Path $TestDrive 'roots [a] b'
        $null = New-Item -ItemType Directory -Path $parent
        # Copied under a plain name, then renamed: the awkward name is the cmdlet's to resolve, not the copy's.
        $root = Join-Path $parent '-root[1]'
        [IO.Directory]::Move((Copy-Fixture linux-6.18-builtin), $root)
        $expected = (Get-ConntrackLimit -Root $root).Max
        Push-Location -LiteralPath $parent
        try {
            (Get-ConntrackLimit -Root './-root[1]').Max | Should -Be $expected
        }
        finally { Pop-Location }
        $null = New-PSDrive -Name CttRoots -PSProvider FileSystem -Root $parent -Scope Global
        try {
            $limit = Get-ConntrackLimit -Root 'CttRoots:/-root[1]'
            $limit.Max | Should -Be $expected
            $limit.Root | Should -Be $root
        }
        finally { Remove-PSDrive CttRoots -Scope Global }
    }

    It 'refuses a -Root on a drive that is not the file system with RootPathInvalid' {
        Get-ConntrackLimit -Root 'Env:/' -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'RootPathInvalid,ConntrackTuning.Commands.GetConntrackLimitCommand'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
    }
}
