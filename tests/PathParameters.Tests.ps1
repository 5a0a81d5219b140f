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

Describe 'Get-ConntrackBpfMap -Path and -LiteralPath' {
    BeforeAll {
        $script:bpfCmd = 'ConntrackTuning.Commands.GetConntrackBpfMapCommand'
        # Not a bpffs: a plain file named like Cilium's map is found by name, and BPF_OBJ_GET then fails on it, so
        # the object that comes back carries the path the folder was resolved to, and its Error.
        $script:bfolder = Join-Path $TestDrive 'bpf [1] maps'
        $null = New-Item -ItemType Directory -Path "$bfolder/tc/globals"
        $null = New-Item -ItemType File -Path "$bfolder/tc/globals/cilium_ct4_global"
        $script:mapFile = Join-Path $bfolder 'tc/globals/cilium_ct4_global'
    }

    It '-LiteralPath searches a folder whose name holds brackets, relative to the location and through a PSDrive' {
        Push-Location -LiteralPath (Split-Path $bfolder)
        try { $maps = @(Get-ConntrackBpfMap -LiteralPath './bpf [1] maps' 3>$null) }
        finally { Pop-Location }
        $maps.Count | Should -Be 1
        $maps[0].Path | Should -Be $mapFile
        $maps[0].Error | Should -Match 'BPF_OBJ_GET failed'
        $null = New-PSDrive -Name CttBpf -PSProvider FileSystem -Root $bfolder -Scope Global
        try { (Get-ConntrackBpfMap -LiteralPath 'CttBpf:/tc' 3>$null).Path | Should -Be $mapFile }
        finally { Remove-PSDrive CttBpf -Scope Global }
    }

    It '-Path expands wildcards (brackets are a class there) and resolves a provider path' {
        Push-Location -LiteralPath (Split-Path $bfolder)
        try { (Get-ConntrackBpfMap -Path 'bpf ?1? m*' 3>$null).Path | Should -Be $mapFile }
        finally { Pop-Location }
        $null = New-PSDrive -Name CttBpf -PSProvider FileSystem -Root $bfolder -Scope Global
        try { (Get-ConntrackBpfMap -Path 'CttBpf:/t?' 3>$null).Path | Should -Be $mapFile }
        finally { Remove-PSDrive CttBpf -Scope Global }
    }

    It 'names a folder that is not there in BpfPathNotFound (ObjectNotFound, the absolute path as target) and searches the others' {
        Push-Location -LiteralPath (Split-Path $bfolder)
        try {
            $maps = @(Get-ConntrackBpfMap -LiteralPath 'gone [2]', './bpf [1] maps' -ErrorAction SilentlyContinue -ErrorVariable err 3>$null)
            $maps.Path | Should -Be $mapFile
            $err.Count | Should -Be 1
            $err[0].FullyQualifiedErrorId | Should -Be "BpfPathNotFound,$bpfCmd"
            $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $err[0].TargetObject | Should -Be (Join-Path (Split-Path $bfolder) 'gone [2]')
            Get-ConntrackBpfMap -Path 'bpf[1]*' -ErrorAction SilentlyContinue -ErrorVariable err2 | Should -BeNullOrEmpty
            $err2[0].FullyQualifiedErrorId | Should -Be "BpfPathNotFound,$bpfCmd"
        }
        finally { Pop-Location }
    }
}

Describe 'The metrics file of Export-ConntrackMetric and Watch-Conntrack: -Path, -MetricsPath and -LiteralPath' {
    BeforeAll {
        $script:mroot = Copy-Fixture linux-6.18-builtin
        $script:exportCmd = 'ConntrackTuning.Commands.ExportConntrackMetricCommand'
        function New-MetricFolder { $d = Join-Path $TestDrive ('prom [x] ' + [guid]::NewGuid().ToString('n').Substring(0, 6)); $null = New-Item -ItemType Directory -Path $d; $d }
        # The text written for the root has the limit as its entries_limit line.
        function Assert-Metrics([string] $File) {
            [IO.File]::Exists($File) | Should -BeTrue -Because "$File is the file named"
            [IO.File]::ReadAllText($File) | Should -Match '(?m)^conntrack_tuning_entries_limit(\{[^}]*\})? 262144$'
        }
    }

    It '<Command> -LiteralPath creates [1].prom by that name, relative to the location' -TestCases @(
        @{ Command = 'Export-ConntrackMetric'; Extra = @{} }
        @{ Command = 'Watch-Conntrack'; Extra = @{ Interval = 0.2; Count = 1; AsObject = $true } }
    ) {
        $dir = New-MetricFolder
        Push-Location -LiteralPath $dir
        try { $null = & $Command -Root $mroot -LiteralPath '[1].prom' @Extra 3>$null }
        finally { Pop-Location }
        Assert-Metrics (Join-Path $dir '[1].prom')
        @(Get-ChildItem -LiteralPath $dir -Force).Name | Should -Be '[1].prom'
    }

    It '<Command> <Parameter> resolves a path on a PSDrive of the file system, and a wildcard to the one file it matches' -TestCases @(
        @{ Command = 'Export-ConntrackMetric'; Parameter = 'Path'; Extra = @{} }
        @{ Command = 'Watch-Conntrack'; Parameter = 'MetricsPath'; Extra = @{ Interval = 0.2; Count = 1; AsObject = $true } }
    ) {
        $dir = New-MetricFolder
        $null = New-PSDrive -Name CttProm -PSProvider FileSystem -Root $dir -Scope Global
        try {
            $named = @{ $Parameter = 'CttProm:/conntrack.prom' }
            $null = & $Command -Root $mroot @named @Extra 3>$null
            Assert-Metrics (Join-Path $dir 'conntrack.prom')
            [IO.File]::WriteAllText((Join-Path $dir 'conntrack.prom'), 'old')
            $matching = @{ $Parameter = 'CttProm:/conn*.prom' }
            $null = & $Command -Root $mroot @matching @Extra 3>$null
            Assert-Metrics (Join-Path $dir 'conntrack.prom')
            @(Get-ChildItem -LiteralPath $dir -Force).Name | Should -Be 'conntrack.prom'
        }
        finally { Remove-PSDrive CttProm -Scope Global }
    }

    It 'Export-ConntrackMetric -Path with wildcards that match no file, or two, is MetricPathInvalid and writes nothing' {
        $dir = New-MetricFolder
        Push-Location -LiteralPath $dir
        try {
            $err = $null
            try { Export-ConntrackMetric -Root $mroot -Path '[1].prom' } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be "MetricPathInvalid,$exportCmd"
            $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            "$err" | Should -Match '-LiteralPath'
            Set-Content -LiteralPath a.prom, b.prom -Value 'old'
            $err = $null
            try { Export-ConntrackMetric -Root $mroot -Path '?.prom' } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be "MetricPathInvalid,$exportCmd"
            $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
            @(Get-ChildItem -LiteralPath $dir -Force).Name | Should -Be 'a.prom', 'b.prom'
            Get-Content -LiteralPath a.prom | Should -Be 'old'
        }
        finally { Pop-Location }
    }

    It 'takes the metrics file by <Parameter> alias PSPath and LP, and refuses -MetricsPath with -LiteralPath' -TestCases @(
        @{ Parameter = 'LiteralPath' }
    ) {
        foreach ($name in 'Export-ConntrackMetric', 'Watch-Conntrack') {
            (Get-Command $name).Parameters[$Parameter].Aliases | Should -Be 'PSPath', 'LP'
        }
        $dir = New-MetricFolder
        { Watch-Conntrack -Root $mroot -Count 1 -MetricsPath "$dir/a.prom" -LiteralPath "$dir/b.prom" } | Should -Throw -ErrorId 'AmbiguousParameterSet,ConntrackTuning.Commands.WatchConntrackCommand'
        @(Get-ChildItem -LiteralPath $dir -Force) | Should -BeNullOrEmpty
    }
}
