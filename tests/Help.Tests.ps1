<#
What Get-Help shows for every exported cmdlet (discovered from the module, never listed here), checked the way
users see it: from the staged module's MAML through Get-Help itself. And the examples that only read are run.

HOW EXAMPLES ARE RUN (the convention for everyone writing en-US/<Verb-Noun>.md)

  Which examples run. An example runs when it only reads: every ConntrackTuning command in it has the verb
  Get, Test or Measure, or passes -WhatIf, or is an Export command given no -Path (Export-ConntrackMetric
  writes only to -Path; without it, it outputs); and every other command is a read-only one from the list in
  $SafeCommandVerbs / $SafeCommands below (Get-ChildItem, Where-Object, Format-Table, ConvertTo-Json, ...).
  Any other command (a native program such as sysctl, Set-* without -WhatIf, Out-File, ...) makes the example
  "not read-only": it is reported as skipped, with the command that caused it. Every example, run or not,
  must parse.

  What it runs against. Never this machine:
    - A ConntrackTuning command that starts a pipeline and is not given -Root gets
      -Root <private copy of tests/fixtures/linux-6.18-builtin>. Commands fed by the pipeline are left alone:
      they take Root from what they receive (folders from Get-ChildItem, objects of another cmdlet).
    - Paths that begin with /cases/ or /mnt/ stand for captured systems (sosreports, mounted images). They are
      mapped into a sandbox holding the folders listed in $ExampleTree below; a path your example needs that
      is not there fails the example with RootNotFound. Add a row (path = fixture name) when your example
      needs another capture, or another era's fixture.
    - Each example runs with the sandbox as the current location, in a child scope of this Pester session.

  What counts as failing. A parse error, a terminating error, or any error record written (warnings do not
  count). An example that demonstrates an error must handle it itself (-ErrorAction SilentlyContinue
  -ErrorVariable ..., try/catch).

  Sample output belongs in '# ' comments in the code or in the text after it: Build-Help.ps1 accepts only
  PowerShell code blocks in examples. A sample table or Format-List list must show the columns or properties the
  command prints (checked below).

  README.md's PowerShell blocks are run the same way, one statement at a time, except the statements that exit,
  enter a network namespace or name a path of this machine (/etc, /var, ...).
#>

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $module = Get-Module ConntrackTuning
    $cmdlets = @($module.ExportedCmdlets.Keys | Sort-Object)

    # Every example of every cmdlet, read through Get-Help as users see it.
    $examples = foreach ($name in $cmdlets) {
        $n = 0
        foreach ($example in @((Get-Help $name).examples.example)) {
            if (-not $example) { continue }
            $n++
            $title = $example.title -replace '^-+\s*|\s*-+$' -replace '^Example \d+:\s*'
            @{ Cmdlet = $name; Number = $n; Title = $title; Code = (@($example.code) -join "`n`n") }
        }
    }

    # README.md's PowerShell blocks, by the line their code starts on.
    $readmeBlocks = @(Get-ReadmeBlock (Join-Path $RepoRoot 'README.md') | Where-Object Language -eq 'powershell')

    # README.md's statements one by one (a block mixes reading and changing ones), to run like the examples.
    $readmeStatements = @(foreach ($block in $readmeBlocks) {
            $ast = [System.Management.Automation.Language.Parser]::ParseInput($block.Code, [ref]$null, [ref]$null)
            foreach ($statement in $ast.EndBlock.Statements) {
                @{ Line = $block.Line + $statement.Extent.StartLineNumber - 1; Code = $statement.Extent.Text }
            }
        })

    # Every example and README block that shows a sample table ('# ' header, then '# ---' dashes).
    $sampleTables = @(@($examples | ForEach-Object { @{ Where = "$($_.Cmdlet) example $($_.Number)"; Code = $_.Code } }) +
        @($readmeBlocks | ForEach-Object { @{ Where = "README.md line $($_.Line)"; Code = $_.Code } }) |
        Where-Object { $_.Code -match '(?m)^\s*#[ -]*-{3,}[ -]*$' })

    # Every one that shows a sample list after Format-List with named properties ('# Name : value' lines).
    $sampleLists = @(@($examples | ForEach-Object { @{ Where = "$($_.Cmdlet) example $($_.Number)"; Code = $_.Code } }) +
        @($readmeBlocks | ForEach-Object { @{ Where = "README.md line $($_.Line)"; Code = $_.Code } }) |
        Where-Object { $_.Code -match '(?m)Format-List [\w, ]+\r?\n\s*# ?\w+ +: ' })
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $module = Get-Module ConntrackTuning
    $exported = @($module.ExportedCmdlets.Keys)
    # Common parameters are explained by Get-Help itself; -WhatIf and -Confirm are documented like any other.
    $common = [System.Management.Automation.PSCmdlet]::CommonParameters

    # The captured systems examples may name, under /cases/ or /mnt/: path = fixture under tests/fixtures.
    $ExampleTree = [ordered]@{
        'cases/sosreport-web01-2026-11-20' = 'linux-6.18-builtin'
        'cases/sosreports/web01'           = 'linux-6.18-builtin'
        'cases/sosreports/web02'           = 'linux-6.18-builtin'
        'mnt/image'                        = 'linux-6.18-builtin'
        'cases/sosreport-web01'            = 'linux-6.18-entries'
    }
    # Single files an example reads (saved 'conntrack -L' output and procfs copies), path = repository file.
    $ExampleFiles = [ordered]@{
        'cases/conntrack-dumps/web01.txt' = 'tests/ConntrackTuning.Engine.Tests/Data/dump-mixed.conntrack-L.txt'
        'cases/conntrack-dumps/web02.txt' = 'tests/ConntrackTuning.Engine.Tests/Data/dump-mixed.procfs.txt'
        'conntrack-L.txt'                 = 'tests/ConntrackTuning.Engine.Tests/Data/dump-mixed.conntrack-L.txt'
    }
    # Commands other than ConntrackTuning's an example may use and still run: these verbs, or these names.
    $SafeCommandVerbs = @('Get', 'Select', 'Where', 'ForEach', 'Sort', 'Format', 'Group', 'Measure', 'Test',
        'ConvertTo', 'ConvertFrom', 'Compare', 'Join', 'Split')
    $SafeCommands = @('Out-String', 'Out-Null', 'Out-Host', 'Write-Output', 'Write-Host', 'Write-Verbose', 'Write-Warning', 'Write-Information')

    $sandbox = Join-Path $TestDrive 'examples'
    foreach ($entry in $ExampleTree.GetEnumerator()) {
        $null = Copy-Fixture $entry.Value -Destination (Join-Path $sandbox $entry.Key)
    }
    foreach ($entry in $ExampleFiles.GetEnumerator()) {
        $target = Join-Path $sandbox $entry.Key
        $null = New-Item -ItemType Directory -Force -Path (Split-Path $target)
        Copy-Item (Join-Path $RepoRoot $entry.Value) $target
    }
    $defaultRoot = Copy-Fixture linux-6.18-builtin

    # Why a help example or a README statement cannot run against the fixtures, or $null when it can. README
    # statements (-Statement) are also skipped when they would end this run or need this machine itself.
    function Get-FixtureSkipReason {
        param([System.Management.Automation.Language.Ast] $Ast, [string] $Code, [switch] $Statement)
        # Events exist only on the running kernel, and a listener runs until its time is up: no fixture can
        # stand in, so these are checked for parsing only (their behaviour has RealKernel tests).
        $live = @($Ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] }, $true) |
            Where-Object { $_.GetCommandName() -in 'Get-ConntrackEvent', 'Watch-Conntrack' })
        if ($live) { return "$($live[0].GetCommandName()) listens to the running kernel's events, which no fixture has" }
        if ($Statement) {
            # A script's exit would end this run; a path of this machine has no stand-in among the fixtures.
            if ($Ast.Find({ $args[0] -is [System.Management.Automation.Language.ExitStatementAst] }, $true)) { return 'it exits the script it runs in' }
            if ($Ast.Find({ $args[0] -is [System.Management.Automation.Language.CommandParameterAst] -and $args[0].ParameterName -eq 'NetworkNamespace' }, $true)) {
                return 'it enters a network namespace of this machine'
            }
            if ($Code -match '(?<![\w.$/-])/(etc|var|srv|proc|sys|run|usr)/') { return "it names this machine's /$($Matches[1])" }
        }
        $reason = Get-NotReadOnlyReason $Ast
        if ($reason) { return "not read-only: $reason" }
        $null
    }

    # Why an example would not only read, or $null when it does. Aliases are resolved first.
    function Get-NotReadOnlyReason {
        param([System.Management.Automation.Language.Ast] $Ast)
        foreach ($command in $Ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] }, $true)) {
            $name = $command.GetCommandName()
            if (-not $name) { return "it invokes a command by expression ('$($command.Extent.Text)')" }
            $info = Get-Command $name -ErrorAction Ignore | Select-Object -First 1
            if ($info -is [System.Management.Automation.AliasInfo]) { $info = $info.ResolvedCommand }
            if (-not $info) { return "'$name' is not a command here" }
            if ($info.Name -in $exported) {
                $whatIf = $command.CommandElements | Where-Object {
                    $_ -is [System.Management.Automation.Language.CommandParameterAst] -and $_.ParameterName -eq 'WhatIf' -and
                    -not ($_.Argument -and $_.Argument.Extent.Text -eq '$false') }
                $toOutput = $info.Verb -eq 'Export' -and -not [System.Management.Automation.Language.StaticParameterBinder]::BindCommand($command, $true).BoundParameters.ContainsKey('Path')
                if ($info.Verb -notin 'Get', 'Test', 'Measure' -and -not $whatIf -and -not $toOutput) { return "$($info.Name) changes things and has no -WhatIf" }
            }
            elseif ($info.CommandType -notin 'Cmdlet', 'Function' -or ($info.Verb -notin $SafeCommandVerbs -and $info.Name -notin $SafeCommands)) {
                return "'$($info.Name)' is not on the read-only list of tests/Help.Tests.ps1"
            }
        }
        $null
    }

    # The example's code as it is run here: fixture roots instead of this machine, sandbox paths for captures.
    function ConvertTo-FixtureCode {
        param([string] $Code, [System.Management.Automation.Language.Ast] $Ast)
        $edits = foreach ($command in $Ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] }, $true)) {
            $info = Get-Command $command.GetCommandName() -ErrorAction Ignore | Select-Object -First 1
            if ($info -is [System.Management.Automation.AliasInfo]) { $info = $info.ResolvedCommand }
            if (-not $info -or $info.Name -notin $exported -or -not $info.Parameters.ContainsKey('Root')) { continue }
            $pipeline = $command.Parent
            $first = $pipeline -is [System.Management.Automation.Language.PipelineAst] -and $pipeline.PipelineElements[0] -eq $command
            $bound = [System.Management.Automation.Language.StaticParameterBinder]::BindCommand($command, $true).BoundParameters
            if ($first -and -not $bound.ContainsKey('Root')) {
                [pscustomobject]@{ Offset = $command.CommandElements[0].Extent.EndOffset; Text = " -Root '$defaultRoot'" }
            }
        }
        foreach ($edit in @($edits) | Sort-Object Offset -Descending) { $Code = $Code.Insert($edit.Offset, $edit.Text) }
        [regex]::Replace($Code, '(?<![\w./-])/(cases|mnt)(?=[/\s''"]|$)', { param($m) (Join-Path $sandbox $m.Groups[1].Value) })
    }

    # Runs example code as described at the top: rewritten for the fixtures, from the sandbox, errors collected
    # rather than thrown so that one run reports them all.
    function Invoke-Example {
        param([string] $Code, [System.Management.Automation.Language.Ast] $Ast)
        $runnable = ConvertTo-FixtureCode $Code $Ast
        Push-Location $sandbox
        $saved = $ErrorActionPreference
        try {
            $ErrorActionPreference = 'Continue'
            $output = & ([scriptblock]::Create($runnable)) 2>&1 3>$null 4>$null 6>$null
        }
        finally {
            $ErrorActionPreference = $saved
            Pop-Location
        }
        [pscustomobject]@{
            Runnable = $runnable
            Output   = @($output | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] })
            Errors   = @($output | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        }
    }
}

Describe 'The MAML help file' {
    It 'sits in the module folder''s en-US under the assembly''s name, is well-formed MAML, and names exactly the exported cmdlets' {
        $dlls = @($exported | ForEach-Object { Split-Path -Leaf (Get-Command $_).DLL } | Sort-Object -Unique)
        $documented = foreach ($dll in $dlls) {
            # Test-Path is case-sensitive here, as Get-Help's culture folder lookup is: en-us would not be found.
            $file = Join-Path $module.ModuleBase "en-US/$dll-Help.xml"
            $file | Should -Exist
            $xml = [xml](Get-Content -Raw $file)
            $xml.helpItems.schema | Should -Be 'maml'
            $xml.helpItems.command | ForEach-Object { $_.details.name }
        }
        @($documented | Sort-Object) | Should -Be @($exported | Sort-Object)
    }
}

Describe 'Help for <_>' -ForEach $cmdlets {
    BeforeAll {
        $name = $_
        $help = Get-Help $name -Full
        $command = Get-Command $name
        $real = @($command.Parameters.Keys | Where-Object { $_ -notin $common } | Sort-Object)
    }

    It 'comes from the MAML file, not the generated stub' {
        $help.PSObject.TypeNames | Should -Not -Contain 'ExtendedCmdletHelpInfo'
        $help.PSObject.TypeNames | Should -Contain "MamlCommandHelpInfo#ConntrackTuning#$name"
    }

    It 'has a synopsis and a description' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        # The stub's synopsis is the syntax; a real one is prose.
        $help.Synopsis | Should -Not -Match "^\s*$([regex]::Escape($name)) \["
        ($help.description.Text -join '').Trim() | Should -Not -BeNullOrEmpty
    }

    It 'has at least one example, each with code' {
        @($help.examples.example).Count | Should -BeGreaterThan 0
        foreach ($example in @($help.examples.example)) {
            $example.title | Should -Not -BeNullOrEmpty
            (@($example.code) -join '').Trim() | Should -Not -BeNullOrEmpty
        }
    }

    It 'has one syntax item per parameter set, each with that set''s parameters' {
        $items = @($help.syntax.syntaxItem)
        $items.Count | Should -Be $command.ParameterSets.Count
        $expected = @($command.ParameterSets | ForEach-Object { (@($_.Parameters.Name | Where-Object { $_ -notin $common } | Sort-Object) -join ',') } | Sort-Object)
        $shown = @($items | ForEach-Object { (@($_.parameter | ForEach-Object name | Sort-Object) -join ',') } | Sort-Object)
        $shown | Should -Be $expected
    }

    It 'documents exactly the real parameters' {
        $documented = @($help.parameters.parameter | Where-Object { $_ } | ForEach-Object name | Sort-Object)
        $documented | Should -Be $real
    }

    It 'names in OUTPUTS the columns of the default view, and every property where it lists the properties' {
        # Properties a change record of this cmdlet leaves empty (Protocol and State belong to timeouts).
        $notApplicable = @{
            'Set-ConntrackLimit' = 'Protocol', 'State'; 'Set-ConntrackHashSize' = 'Protocol', 'State'; 'Set-ConntrackSetting' = 'Protocol', 'State'
        }
        foreach ($output in @($help.returnValues.returnValue | Where-Object { $_ })) {
            $type = ($command.OutputType | Where-Object Name -eq $output.type.name).Type
            $type | Should -Not -BeNullOrEmpty -Because "OUTPUTS names $($output.type.name), which must be one of the cmdlet's [OutputType]s"
            $text = ($output.description.Text -join ' ')
            $view = [regex]::Match($text, 'The default view is a (?:table|list) of (.+?)(?:;|\.(?:\s|$))')
            if ($view.Success) {
                $format = @((Get-FormatData -TypeName $type.FullName).FormatViewDefinition)[0].Control
                $labels = if ($format -is [System.Management.Automation.TableControl]) {
                    for ($i = 0; $i -lt $format.Headers.Count; $i++) { if ($format.Headers[$i].Label) { $format.Headers[$i].Label } else { $format.Rows[0].Columns[$i].DisplayEntry.Value } }
                }
                else { $format.Entries[0].Items | ForEach-Object { if ($_.Label) { $_.Label } else { $_.DisplayEntry.Value } } }
                # Each column in order, by its label (a remark in brackets may follow); words such as 'the memory
                # in MiB' stand for the column at their place.
                $named = @($view.Groups[1].Value -split ', | and ' | ForEach-Object Trim)
                $named.Count | Should -Be @($labels).Count -Because "'$($view.Value)' must name the $(@($labels).Count) columns $(@($labels) -join ', ')"
                for ($i = 0; $i -lt $named.Count; $i++) {
                    if ($named[$i] -like 'the *' -or $named[$i] -eq @($labels)[$i]) { continue }
                    ($named[$i] -replace '\s*\(.*\)$') | Should -Be @($labels)[$i]
                }
            }
            # A text that lists the properties (five or more by name) lists them all.
            $listing = ($text -split 'The default view')[0]
            $properties = @($type.GetProperties().Name | Where-Object { $_ -notin $notApplicable[$name] })
            $listed = @($properties | Where-Object { $listing -match "\b$_\b" })
            if ($listed.Count -ge 5) {
                @($properties | Where-Object { $_ -notin $listed }) | Should -BeNullOrEmpty -Because "the OUTPUTS text of $($type.Name) lists its properties"
            }
        }
    }

    # Sysctl names and paths are full of underscores; a pair of them must not be read as emphasis and dropped
    # (nf_conntrack_<protocol>_timeout[_<state>] printed as nf_conntrack_<protocol>timeout[<state>]).
    It 'prints every word of the markdown prose that holds an underscore as written' {
        $text = (Get-Help $name -Full | Out-String -Width 100000) -replace '\s+', ' '
        $markdown = Get-Content -Raw (Join-Path $RepoRoot "en-US/$name.md")
        $prose = [regex]::Replace([regex]::Replace($markdown, '(?s)```.*?```', ' '), '`[^`]*`', ' ')
        # Links ([about_X]()) and escapes print otherwise by design; every other such word is text.
        $words = [regex]::Matches($prose, '[^\s`]*_[^\s`]*') | Where-Object Value -NotMatch '\\|\]\(' |
            ForEach-Object { $_.Value.Trim('.', ',', ';', ':', '(', ')') } | Sort-Object -Unique
        @($words | Where-Object { -not $text.Contains($_) }) | Should -BeNullOrEmpty
    }

    It 'describes -<_> and states its Required flag and pipeline input as the cmdlet has them' -ForEach @(
        (Get-Command $_).Parameters.Keys | Where-Object { $_ -notin [System.Management.Automation.PSCmdlet]::CommonParameters }
    ) {
        $p = Get-Help $name -Parameter $_ -ErrorAction Stop
        ($p.description.Text -join '').Trim() | Should -Not -BeNullOrEmpty
        $attributes = @($command.Parameters[$_].Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] })
        [bool]::Parse($p.required) | Should -Be ([bool]($attributes | Where-Object Mandatory))
        $ways = @(if ($attributes | Where-Object ValueFromPipelineByPropertyName) { 'ByPropertyName' }
            if ($attributes | Where-Object ValueFromPipeline) { 'ByValue' })
        $p.pipelineInput | Should -Be $(if ($ways) { "True ($($ways -join ', '))" } else { 'False' })
    }
}

Describe 'about_ConntrackTuning' {
    BeforeAll {
        $file = Join-Path $module.ModuleBase 'en-US/about_ConntrackTuning.help.txt'
        $lines = @(Get-Content $file)
    }

    It 'is found by Get-Help with the short description of line 5 as its synopsis' {
        $file | Should -Exist
        $about = Get-Help about_ConntrackTuning
        $about.Category | Should -Be 'HelpFile'
        $lines[4].Trim() | Should -Not -BeNullOrEmpty
        $about.Synopsis | Should -Be $lines[4].Trim()
    }

    It 'lists every exported cmdlet under CMDLETS' {
        $start = [array]::IndexOf($lines, 'CMDLETS')
        $start | Should -BeGreaterThan 4
        $section = $lines[($start + 1)..($lines.Count - 1)] | ForEach-Object -Begin { $done = $false } -Process {
            if ($_ -match '^\S') { $done = $true }
            if (-not $done) { $_ } }
        foreach ($cmdlet in $exported) { $section | Should -Contain "    $cmdlet" -Because "adding a cmdlet includes its lines in about_ConntrackTuning's CMDLETS" }
    }

    It 'starts each cmdlet of CMDLETS after a blank line, as a paragraph of its own' {
        $start = [array]::IndexOf($lines, 'CMDLETS')
        foreach ($cmdlet in $exported) {
            $at = [array]::IndexOf($lines, "    $cmdlet", $start)
            $lines[$at - 1] | Should -Match '^(CMDLETS)?$' -Because "$cmdlet's entry must not run on from the one before it"
        }
    }
}

# The runner below must be able to fail: these prove it tells read-only from not, keeps examples off this
# machine, and sees the errors an example writes.
Describe 'The example runner' {
    It 'gives a pipeline-leading command without -Root the fixture root, and leaves -Root and piped ones alone' {
        $code = "Get-ConntrackLimit; Get-ConntrackLimit -Root /cases/sosreport-web01-2026-11-20; Get-ChildItem /cases/sosreports -Directory | Get-ConntrackLimit"
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($code, [ref]$null, [ref]$null)
        $run = Invoke-Example $code $ast
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output.Root) | Should -Be @($defaultRoot, (Join-Path $sandbox 'cases/sosreport-web01-2026-11-20'),
            (Join-Path $sandbox 'cases/sosreports/web01'), (Join-Path $sandbox 'cases/sosreports/web02'))
    }

    It 'calls an example not read-only when it <Case>' -ForEach @(
        @{ Case = 'runs a native program'; Code = 'Get-ConntrackLimit; sysctl -w net.netfilter.nf_conntrack_max=1'; Why = '*sysctl*' }
        @{ Case = 'writes a file'; Code = 'Get-ConntrackLimit | Out-File ./limits.txt'; Why = '*Out-File*' }
        @{ Case = 'exports to a file'; Code = 'Export-ConntrackMetric ./conntrack.prom'; Why = '*Export-ConntrackMetric changes things*' }
        @{ Case = 'uses a command that does not exist'; Code = 'Set-ConntrackNothing -Max 1'; Why = '*not a command*' }
        @{ Case = 'invokes by expression'; Code = '& $command'; Why = '*by expression*' }
    ) {
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($Code, [ref]$null, [ref]$null)
        Get-NotReadOnlyReason $ast | Should -BeLike $Why
    }

    It 'calls an example read-only when its own commands only read, aliases included' {
        $code = 'Get-ChildItem /cases/sosreports -Directory | Get-ConntrackLimit | ? UsagePercent -gt 80 | ft Root, Max'
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($code, [ref]$null, [ref]$null)
        Get-NotReadOnlyReason $ast | Should -BeNullOrEmpty
    }

    It 'calls an Export command without -Path read-only: it only outputs' {
        $ast = [System.Management.Automation.Language.Parser]::ParseInput('Export-ConntrackMetric -AsText | Select-Object -First 3', [ref]$null, [ref]$null)
        Get-NotReadOnlyReason $ast | Should -BeNullOrEmpty
    }

    It 'sees the error of a capture that is not in the sandbox' {
        $code = 'Get-ConntrackLimit -Root /cases/not-in-the-sandbox'
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($code, [ref]$null, [ref]$null)
        (Invoke-Example $code $ast).Errors.FullyQualifiedErrorId | Should -Be 'RootNotFound,ConntrackTuning.Commands.GetConntrackLimitCommand'
    }
}

Describe '<Cmdlet> example <Number>: <Title>' -ForEach $examples {
    It 'parses, and runs against the fixtures without an error when it only reads' {
        $tokens = $null; $parseErrors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($Code, [ref]$tokens, [ref]$parseErrors)
        $parseErrors | Should -BeNullOrEmpty -Because 'every help example must be valid PowerShell'

        $skip = Get-FixtureSkipReason $ast $Code
        if ($skip) {
            Set-ItResult -Skipped -Because $skip
            return
        }
        $run = Invoke-Example $Code $ast
        $run.Errors | ForEach-Object { "$($_.FullyQualifiedErrorId): $_" } | Should -BeNullOrEmpty -Because "the example ran as:`n$($run.Runnable)"
    }
}

Describe 'README.md' {
    It 'closes every code block before the text that follows it' {
        $blocks = @(Get-ReadmeBlock (Join-Path $RepoRoot 'README.md'))
        $blocks | Where-Object { -not $_.Closed } | ForEach-Object { "line $($_.Line)" } | Should -BeNullOrEmpty -Because 'an unclosed block swallows the rest of the file'
        # A fence with a language inside a block is the next block's opening: the one before it was never closed.
        $blocks | Where-Object { $_.Code -match '(?m)^ {0,3}`{3,}\S' } | ForEach-Object { "line $($_.Line)" } | Should -BeNullOrEmpty -Because 'a block that runs into the next one hides the headings and prose between them'
    }

    It 'reads rotated logs oldest first where its comment says so' {
        $lines = @(Get-Content (Join-Path $RepoRoot 'README.md') | Where-Object { $_ -match '^Get-ConntrackDropEvent|\| Get-ConntrackDropEvent' -and $_ -match '#.*oldest first' })
        $lines.Count | Should -Be 1
        # The line as written, on a capture's rotations (kern.log, kern.log.1, kern.log.2.gz) instead of /var/log.
        $logs = Join-Path (Copy-Fixture linux-6.18-overflow) 'var/log'
        $summary = & ([scriptblock]::Create(($lines[0] -replace '#.*$').Replace('/var/log', $logs)))
        @($summary.Sources | ForEach-Object { Split-Path -Leaf $_ }) | Should -Be @('kern.log.2.gz', 'kern.log.1', 'kern.log')
    }

    It 'has PowerShell blocks that parse and name only real parameters (line <Line>)' -ForEach @($readmeBlocks | ForEach-Object { @{ Line = $_.Line; Code = $_.Code } }) {
        $parseErrors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($Code, [ref]$null, [ref]$parseErrors)
        $parseErrors | ForEach-Object Message | Should -BeNullOrEmpty
        foreach ($command in $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] }, $true)) {
            if ($command.GetCommandName() -notin $exported) { continue }
            $bound = [System.Management.Automation.Language.StaticParameterBinder]::BindCommand($command, $true)
            $bound.BindingExceptions.Values | ForEach-Object { "$($command.Extent.Text): $($_.BindingException.Message)" } | Should -BeNullOrEmpty
        }
    }
}

# A sample table in '# ' comments (a header line, then a line of dashes) must show the columns the command writes:
# those Format-Table or Select-Object names, or else the default table view of a type the command outputs (or of
# the rows a summary prints). Values may differ from machine to machine; the columns may not.
Describe 'The sample table in <Where>' -ForEach $sampleTables {
    BeforeAll {
        # The columns of every table view of the type, and of the row types of its collection properties.
        function Get-ViewColumns([type] $Type) {
            $rows = foreach ($p in $Type.GetProperties().PropertyType) {
                if ($p.IsArray) { $p.GetElementType() }
                elseif ($p.IsGenericType -and $p.GenericTypeArguments.Count -eq 1 -and [System.Collections.IEnumerable].IsAssignableFrom($p)) { $p.GenericTypeArguments[0] }
            }
            $types = @($Type) + @($rows)
            foreach ($t in $types) {
                # With the views of its decorated names too (ConntrackLimit#Image), which a cmdlet gives some of its objects.
                foreach ($view in @((Get-FormatData -TypeName $t.FullName, "$($t.FullName)#*" -ErrorAction Ignore).FormatViewDefinition)) {
                    if ($view.Control -isnot [System.Management.Automation.TableControl]) { continue }
                    $columns = $view.Control.Rows[0].Columns
                    , @(for ($i = 0; $i -lt $view.Control.Headers.Count; $i++) {
                        if ($view.Control.Headers[$i].Label) { $view.Control.Headers[$i].Label } else { $columns[$i].DisplayEntry.Value } })
                }
            }
        }
    }

    It 'has the columns the command shows' {
        $lines = $Code -split "`r?`n"
        $checked = 0
        for ($i = 1; $i -lt $lines.Count; $i++) {
            if ($lines[$i] -notmatch '^\s*#[ -]*-{3,}[ -]*$' -or $lines[$i - 1] -notmatch '^\s*#') { continue }
            # The labels stand over their dashes (right-aligned columns included).
            $hash = $lines[$i].IndexOf('#')
            $header = $lines[$i - 1].Substring([Math]::Min($hash + 1, $lines[$i - 1].Length))
            $dashes = $lines[$i].Substring($hash + 1)
            $shown = @([regex]::Matches($dashes, '-+') | ForEach-Object {
                    if ($_.Index -lt $header.Length) { $header.Substring($_.Index, [Math]::Min($_.Length, $header.Length - $_.Index)).Trim() } else { '' } })

            # The command: the last statement of the code before the comment.
            $before = ($lines[0..($i - 1)] | Where-Object { $_ -notmatch '^\s*#' }) -join "`n"
            $ast = [System.Management.Automation.Language.Parser]::ParseInput($before, [ref]$null, [ref]$null)
            $pipeline = @($ast.EndBlock.Statements)[-1]
            if ($pipeline -isnot [System.Management.Automation.Language.PipelineAst]) { continue }
            # Filters and sorts pass the objects on unchanged: the table is that of the command before them.
            $at = $pipeline.PipelineElements.Count
            do {
                $last = $pipeline.PipelineElements[--$at]
                if ($last -isnot [System.Management.Automation.Language.CommandAst]) { break }
                $info = Get-Command $last.GetCommandName() -ErrorAction Ignore | Select-Object -First 1
                if ($info -is [System.Management.Automation.AliasInfo]) { $info = $info.ResolvedCommand }
            } while ($at -gt 0 -and $info -and $info.Name -in 'Where-Object', 'Sort-Object')
            if ($last -isnot [System.Management.Automation.Language.CommandAst]) { continue }
            # Each candidate is one list of columns (a list, so that PowerShell never unrolls it).
            $expected = [System.Collections.Generic.List[object]]::new()
            if ($info -and $info.Name -in $exported) {
                foreach ($type in @($info.OutputType | Where-Object Type | ForEach-Object Type)) {
                    foreach ($columns in @(Get-ViewColumns $type)) { $expected.Add([string[]]$columns) }
                }
            }
            elseif ($info -and $info.Name -in 'Format-Table', 'Select-Object') {
                $property = [System.Management.Automation.Language.StaticParameterBinder]::BindCommand($last, $true).BoundParameters['Property']
                if ($property -and $property.Value -is [System.Management.Automation.Language.ArrayLiteralAst]) { $expected.Add([string[]]@($property.Value.Elements | ForEach-Object Value)) }
                elseif ($property) { $expected.Add([string[]]@($property.Value.Value)) }
            }
            if ($expected.Count -eq 0) { continue }
            $checked++
            $candidates = @(foreach ($columns in $expected) { $columns -join ', ' })
            $candidates | Should -Contain ($shown -join ', ') -Because "the sample after '$($last.Extent.Text)' must show one of its tables"
        }
        if (-not $checked) { Set-ItResult -Skipped -Because 'its sample tables follow a command whose columns are not known here' }
    }
}

# A sample list after 'Format-List A, B, C' (named properties, no wildcards) shows those properties, in that order.
Describe 'The sample list in <Where>' -ForEach $sampleLists {
    It 'names the properties Format-List was given' {
        $lines = $Code -split "`r?`n"
        for ($i = 0; $i -lt $lines.Count - 1; $i++) {
            if ($lines[$i] -match '^\s*#' -or $lines[$i + 1] -notmatch '^\s*# ?\w+ +: ') { continue }
            $ast = [System.Management.Automation.Language.Parser]::ParseInput($lines[$i], [ref]$null, [ref]$null)
            $last = @($ast.EndBlock.Statements)[-1].PipelineElements[-1]
            if ($last.GetCommandName() -notin 'Format-List', 'fl') { continue }
            $property = [System.Management.Automation.Language.StaticParameterBinder]::BindCommand($last, $true).BoundParameters['Property'].Value
            $names = @(if ($property -is [System.Management.Automation.Language.ArrayLiteralAst]) { $property.Elements.Value } else { $property.Value })
            if ($names -match '[*?]') { continue }
            # Each '# Name : value' line until the comment ends; indented lines continue a long value.
            $shown = for ($j = $i + 1; $j -lt $lines.Count -and $lines[$j] -match '^\s*#'; $j++) {
                if ($lines[$j] -match '^\s*# ?(\w+) +: ') { $Matches[1] }
            }
            @($shown) | Should -Be $names -Because "the sample after '$($lines[$i].Trim())' shows what Format-List prints"
        }
    }
}

# README.md's statements that only read are run as the examples are (see the top of this file).
Describe 'README.md line <Line>' -ForEach $readmeStatements {
    It 'runs against the fixtures without an error when it only reads' {
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($Code, [ref]$null, [ref]$null)
        $skip = Get-FixtureSkipReason $ast $Code -Statement
        if ($skip) {
            Set-ItResult -Skipped -Because $skip
            return
        }
        $run = Invoke-Example $Code $ast
        $run.Errors | ForEach-Object { "$($_.FullyQualifiedErrorId): $_" } | Should -BeNullOrEmpty -Because "the line ran as:`n$($run.Runnable)"
    }
}
