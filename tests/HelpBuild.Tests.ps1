# tools/Build-Help.ps1 and tools/New-HelpMarkdown.ps1 against small markdown written into $TestDrive: the guard
# rails (each refusal names the file and the problem, and nothing is written) and the text rules.
# The staged module is the one documented; cmdlets other than Get-ConntrackLimit get a filled-in skeleton from
# New-HelpMarkdown.ps1, so these tests keep working as cmdlets are added.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $builder = Join-Path $RepoRoot 'tools/Build-Help.ps1'
    $skeleton = Join-Path $RepoRoot 'tools/New-HelpMarkdown.ps1'
    $exported = @((Get-Module ConntrackTuning).ExportedCmdlets.Keys)

    # A small, complete, hand-written page for Get-ConntrackLimit; each test breaks it in one way.
    $limitPage = @'
---
external help file: ConntrackTuning.dll-Help.xml
Module Name: ConntrackTuning
schema: 2.0.0
---

# Get-ConntrackLimit

## SYNOPSIS
Reads the limit.

## SYNTAX

```
Get-ConntrackLimit [-MemoryBytes <long>] [-KernelRelease <string>] [-Root <string>] [<CommonParameters>]
```

## DESCRIPTION
Reads the limit, the count and the hash size.

## EXAMPLES

### Example 1: Read this machine
```powershell
Get-ConntrackLimit
```

## PARAMETERS

### -MemoryBytes
The RAM to compute the kernel default for.

```yaml
Type: Int64
Parameter Sets: (All)
Aliases:

Required: False
Position: Named
Default value: None
Accept pipeline input: False
Accept wildcard characters: False
```

### -KernelRelease
The installed kernel of an image to read.

```yaml
Type: String
Parameter Sets: (All)
Aliases:

Required: False
Position: Named
Default value: None
Accept pipeline input: False
Accept wildcard characters: False
```

### -Root
The folder to read.

```yaml
Type: String
Parameter Sets: (All)
Aliases:

Required: False
Position: Named
Default value: /
Accept pipeline input: True (ByPropertyName, ByValue)
Accept wildcard characters: False
```

### CommonParameters
This cmdlet supports the common parameters.

## OUTPUTS

### ConntrackTuning.ConntrackLimit
The limits.

## RELATED LINKS

[about_ConntrackTuning]()
'@

    $aboutPage = "TOPIC`n    about_HelpTest`n`nSHORT DESCRIPTION`n    A topic for the generator tests.`n`nLONG DESCRIPTION`n    Text.`n"

    # A source folder with a page for every exported cmdlet: the hand-written one for Get-ConntrackLimit (with
    # -Replace edits applied), filled-in skeletons for the others, and an about topic.
    $skeletons = Join-Path $TestDrive 'skeletons'
    foreach ($name in $exported | Where-Object { $_ -ne 'Get-ConntrackLimit' }) {
        $null = & $skeleton -ModulePath $ModulePath -Name $name -OutputPath $skeletons 6>$null
    }
    function New-HelpSource {
        param([hashtable] $Replace = @{}, [string] $LimitPage = $limitPage, [switch] $KeepPlaceholders)
        $source = Join-Path $TestDrive ('src-' + [guid]::NewGuid().ToString('n'))
        $null = New-Item -ItemType Directory -Path $source
        foreach ($file in Get-ChildItem $skeletons -Filter *.md -ErrorAction Ignore) {
            $text = Get-Content -Raw $file.FullName
            if (-not $KeepPlaceholders) { $text = $text -replace '\{\{[^}]*\}\}', 'Written by the test.' }
            Set-Content -NoNewline -Path (Join-Path $source $file.Name) -Value $text
        }
        $page = $LimitPage
        foreach ($key in $Replace.Keys) {
            if (-not $page.Contains($key)) { throw "The test page has no '$key' to replace." }
            $page = $page.Replace($key, $Replace[$key])
        }
        Set-Content -NoNewline -Path (Join-Path $source 'Get-ConntrackLimit.md') -Value $page
        Set-Content -NoNewline -Path (Join-Path $source 'about_HelpTest.help.txt') -Value $aboutPage
        $source
    }

    # Runs Build-Help.ps1 in this session, as build.ps1 runs it in a child one, and returns what happened.
    function Invoke-BuildHelp {
        param([string] $Source, [switch] $WarningsAsErrors)
        $destination = Join-Path $TestDrive ('out-' + [guid]::NewGuid().ToString('n'))
        $failure = $null
        $warnings = $null
        # Streamed into a list, so the lines written before the final throw are kept.
        $hostLines = [System.Collections.Generic.List[string]]::new()
        try {
            & $builder -ModulePath $ModulePath -SourcePath $Source -DestinationPath $destination `
                -WarningsAsErrors:$WarningsAsErrors -WarningVariable warnings -WarningAction SilentlyContinue 6>&1 |
                ForEach-Object { $hostLines.Add("$_") }
        }
        catch { $failure = $_ }
        [pscustomobject]@{
            Failed      = $null -ne $failure
            Error       = "$failure"
            Problems    = @($hostLines | Where-Object { $_ -like '  *' } | ForEach-Object Trim)
            Warnings    = @($warnings | ForEach-Object { "$_" })
            Destination = $destination
            Maml        = Join-Path $destination 'ConntrackTuning.dll-Help.xml'
        }
    }

    $ns = @{ maml = 'http://schemas.microsoft.com/maml/2004/10'; command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'; dev = 'http://schemas.microsoft.com/maml/dev/2004/10' }
    function Get-LimitNode {
        param([string] $Maml, [string] $XPath)
        $xml = [xml](Get-Content -Raw $Maml)
        $command = $xml | Select-Xml -Namespace $ns -XPath "//command:command[command:details/command:name='Get-ConntrackLimit']" | ForEach-Object Node
        @($command | Select-Xml -Namespace $ns -XPath $XPath | ForEach-Object Node)
    }
}

Describe 'Build-Help.ps1 on valid markdown' {
    BeforeAll { $result = Invoke-BuildHelp (New-HelpSource) }

    It 'builds MAML for every exported cmdlet and copies the about topic' {
        $result.Failed | Should -BeFalse -Because $result.Error
        $result.Maml | Should -Exist
        $names = ([xml](Get-Content -Raw $result.Maml)).helpItems.command.details.name
        @($names | Sort-Object) | Should -Be @($exported | Sort-Object)
        Join-Path $result.Destination 'about_HelpTest.help.txt' | Should -Exist
    }

    It 'takes the synopsis and the description from the markdown' {
        (Get-LimitNode $result.Maml 'command:details/maml:description/maml:para').InnerText | Should -Be 'Reads the limit.'
        (Get-LimitNode $result.Maml 'maml:description/maml:para').InnerText | Should -Be 'Reads the limit, the count and the hash size.'
    }

    It 'takes the parameter attributes from the compiled cmdlet' {
        $root = Get-LimitNode $result.Maml 'command:parameters/command:parameter' | Where-Object name -EQ 'Root'
        $root.name | Should -Be 'Root'
        $root.required | Should -Be 'false'
        $root.pipelineInput | Should -Be 'True (ByPropertyName, ByValue)'
        $root.defaultValue | Should -Be '/'
    }
}

Describe 'The default values the help shows' {
    BeforeAll { . (Join-Path $RepoRoot 'tools/HelpMetadata.ps1') }

    # A number or TimeSpan left at zero is a parameter not given (no zone filter, no limit, every namespace):
    # 'Default value: 0' would tell the reader the opposite.
    It 'are none for -<Parameter> of <Cmdlet>, which the cmdlet reads as not given when it holds zero' -ForEach @(
        @{ Cmdlet = 'Get-ConntrackEntry'; Parameter = 'Zone' }
        @{ Cmdlet = 'Remove-ConntrackEntry'; Parameter = 'OlderThan' }
        @{ Cmdlet = 'Get-ConntrackEvent'; Parameter = 'Count' }
        @{ Cmdlet = 'Watch-Conntrack'; Parameter = 'Duration' }
        @{ Cmdlet = 'Get-ConntrackNamespace'; Parameter = 'Top' }
    ) {
        $model = Get-HelpCommandModel (Get-Command $Cmdlet)
        ($model.Parameters | Where-Object Name -EQ $Parameter).DefaultValue | Should -BeNullOrEmpty
        (Get-Help $Cmdlet -Parameter $Parameter).defaultValue | Should -Be 'None'
    }

    # Where the code leaves the value empty and decides later, the markdown's words say what it decides.
    It 'are the markdown''s words where the cmdlet decides when run (<Cmdlet> -<Parameter>)' -ForEach @(
        @{ Cmdlet = 'Get-ConntrackEvent'; Parameter = 'EventType'; Value = 'New, Update, Destroy (New, Destroy with -Summary)' }
        @{ Cmdlet = 'Get-ConntrackRecommendation'; Parameter = 'ReservedMemoryBytes'; Value = '134217728 (128 MiB)' }
    ) {
        (Get-Help $Cmdlet -Parameter $Parameter).defaultValue | Should -Be $Value
    }

    It 'are the values a new cmdlet object holds otherwise (<Cmdlet> -<Parameter> <Value>)' -ForEach @(
        @{ Cmdlet = 'Get-ConntrackEntry'; Parameter = 'Top'; Value = '10' }
        @{ Cmdlet = 'Watch-Conntrack'; Parameter = 'Interval'; Value = '00:00:02' }
        @{ Cmdlet = 'Test-ConntrackHealth'; Parameter = 'WarningPercent'; Value = '75' }
        @{ Cmdlet = 'Get-ConntrackLimit'; Parameter = 'Root'; Value = '/' }
    ) {
        $model = Get-HelpCommandModel (Get-Command $Cmdlet)
        ($model.Parameters | Where-Object Name -EQ $Parameter).DefaultValue | Should -Be $Value
        (Get-Help $Cmdlet -Parameter $Parameter).defaultValue | Should -Be $Value
    }
}

Describe 'Build-Help.ps1 refuses' {
    It 'when <Case>' -ForEach @(
        @{ Case = 'a level-2 heading is not one of the layout''s'; Replace = @{ '## DESCRIPTION' = '## DESCRIPTON' }; Expect = "*unknown section '## DESCRIPTON'*" }
        @{ Case = 'a level-3 heading sits in DESCRIPTION'; Replace = @{ 'Reads the limit, the count' = "### Details`nReads the limit, the count" }; Expect = "*heading level 3 'Details' is not allowed in DESCRIPTION*" }
        @{ Case = 'a parameter has no description'; Replace = @{ "### -Root`nThe folder to read.`n" = "### -Root`n" }; Expect = '*-Root has no description*' }
        @{ Case = 'a parameter is not documented'; Replace = @{ "### -Root`nThe folder to read." = "### CommonParameters`nx" }; Expect = "*-Root is not documented*" }
        @{ Case = 'the markdown documents a parameter the cmdlet lacks'; Replace = @{ '### CommonParameters' = "### -Force`nForces.`n`n### CommonParameters" }; Expect = '*documents -Force, which Get-ConntrackLimit does not have*' }
        @{ Case = 'the markdown documents a common parameter'; Replace = @{ '### CommonParameters' = "### -Verbose`nTalks.`n`n### CommonParameters" }; Expect = '*-Verbose is a common parameter*' }
        @{ Case = 'a placeholder is left'; Replace = @{ 'Reads the limit.' = '{{ Say what it does }}' }; Expect = "*Get-ConntrackLimit.md:10: placeholder left*" }
        @{ Case = 'the synopsis is missing'; Replace = @{ "## SYNOPSIS`nReads the limit.`n" = '' }; Expect = "*no '## SYNOPSIS' section*" }
        @{ Case = 'the synopsis has two paragraphs'; Replace = @{ "Reads the limit.`n" = "Reads the limit.`n`nAnd more.`n" }; Expect = '*SYNOPSIS must be one paragraph*' }
        @{ Case = 'the description is empty'; Replace = @{ 'Reads the limit, the count and the hash size.' = '' }; Expect = '*the DESCRIPTION is empty*' }
        @{ Case = 'there is no example'; Replace = @{ "### Example 1: Read this machine`n``````powershell`nGet-ConntrackLimit`n```````n" = '' }; Expect = "*EXAMPLES has no '### Example 1: ...' heading*" }
        @{ Case = 'an example has no code'; Replace = @{ "``````powershell`nGet-ConntrackLimit`n```````n" = "Just words.`n" }; Expect = "*the example 'Example 1: Read this machine' has no code block*" }
        @{ Case = 'an example''s code block is not PowerShell'; Replace = @{ '```powershell' = '```output' }; Expect = "*is 'output', not powershell*" }
        @{ Case = 'a yaml key is unknown'; Replace = @{ 'Aliases:' = 'Alias: R' }; Expect = "*unknown yaml key 'Alias'*" }
        @{ Case = 'a code block sits in the description'; Replace = @{ 'Reads the limit, the count and the hash size.' = "Text.`n``````powershell`nGet-ConntrackLimit`n``````" }; Expect = '*a code block in DESCRIPTION*' }
        @{ Case = 'a code block is never closed'; Replace = @{ '[about_ConntrackTuning]()' = "[about_ConntrackTuning]()`n`n``````powershell`nGet-ConntrackLimit" }; Expect = '*:87: this code block is never closed*' }
        @{ Case = 'a related link has no link syntax'; Replace = @{ '[about_ConntrackTuning]()' = 'about_ConntrackTuning' }; Expect = "*related link 'about_ConntrackTuning' is not*" }
        @{ Case = 'the markdown is PlatyPS v2'; Replace = @{ 'schema: 2.0.0' = "document type: cmdlet`nPlatyPS schema version: 2024-05-01" }; Expect = '*PlatyPS v2 markdown*' }
        @{ Case = 'the markdown has the v2 ALIASES section'; Replace = @{ '## DESCRIPTION' = "## ALIASES`n`n## DESCRIPTION" }; Expect = "*'## ALIASES' belongs to PlatyPS v2*" }
        @{ Case = 'the front matter is missing'; Replace = @{ "---`nexternal help file: ConntrackTuning.dll-Help.xml`nModule Name: ConntrackTuning`nschema: 2.0.0`n---`n" = '' }; Expect = '*no front matter*' }
        @{ Case = 'the heading names another command'; Replace = @{ '# Get-ConntrackLimit' = '# Get-ConntrackLimits' }; Expect = "*'# Get-ConntrackLimits' does not name the cmdlet 'Get-ConntrackLimit'*" }
    ) {
        $result = Invoke-BuildHelp (New-HelpSource -Replace $Replace)
        $result.Failed | Should -BeTrue
        $result.Error | Should -BeLike '*The help was not built*'
        @($result.Problems -like $Expect) | Should -Not -BeNullOrEmpty -Because "the problems were:`n$($result.Problems -join "`n")"
        $result.Destination | Should -Not -Exist -Because 'nothing is written unless everything is valid'
    }

    It 'when an exported cmdlet has no markdown' {
        $source = New-HelpSource
        Remove-Item (Join-Path $source 'Get-ConntrackLimit.md')
        $result = Invoke-BuildHelp $source
        $result.Failed | Should -BeTrue
        $result.Problems | Should -Contain 'Get-ConntrackLimit.md: Get-ConntrackLimit is exported but has no help. Start one with: pwsh tools/New-HelpMarkdown.ps1 -ModulePath <staged module> -Name Get-ConntrackLimit'
    }

    It 'when a markdown file documents a command the module does not export' {
        $source = New-HelpSource
        Copy-Item (Join-Path $source 'Get-ConntrackLimit.md') (Join-Path $source 'Set-ConntrackNothing.md')
        $result = Invoke-BuildHelp $source
        $result.Failed | Should -BeTrue
        $result.Problems | Should -Contain "Set-ConntrackNothing.md: documents 'Set-ConntrackNothing', which ConntrackTuning does not export. Add it to CmdletsToExport, or remove the file."
    }

    It 'when a skeleton from New-HelpMarkdown.ps1 is not filled in, naming each placeholder' {
        $result = Invoke-BuildHelp (New-HelpSource -KeepPlaceholders)
        if ($exported.Count -eq 1) { Set-ItResult -Skipped -Because 'every exported cmdlet has the hand-written page here'; return }
        $result.Failed | Should -BeTrue
        @($result.Problems | Where-Object { $_ -match '^[\w-]+\.md:\d+: placeholder left' }).Count | Should -BeGreaterThan 0
    }

    It 'when line 5 of an about topic is blank' {
        $source = New-HelpSource
        Set-Content -NoNewline -Path (Join-Path $source 'about_HelpTest.help.txt') -Value "TOPIC`n    about_HelpTest`n`nSHORT DESCRIPTION`n`n    Too late.`n"
        $result = Invoke-BuildHelp $source
        $result.Failed | Should -BeTrue
        $result.Problems | Should -Contain 'about_HelpTest.help.txt:5: line 5 must hold the short description (Get-Help reads the synopsis from line 5).'
    }

    It 'with a non-zero exit code when run as build.ps1 runs it' {
        $source = New-HelpSource -Replace @{ '## DESCRIPTION' = '## DESCRIPTON' }
        $pwsh = Get-PwshCommand
        $output = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -File $builder -ModulePath $ModulePath -SourcePath $source -DestinationPath (Join-Path $TestDrive 'exit-code') 2>&1
        $LASTEXITCODE | Should -Not -Be 0
        ($output -join "`n") | Should -BeLike "*unknown section '## DESCRIPTON'*"
    }
}

Describe 'Build-Help.ps1 where the yaml contradicts the compiled cmdlet' {
    BeforeAll {
        $source = New-HelpSource -Replace @{ 'Required: False' = 'Required: True'; 'Type: String' = 'Type: Int32'; 'Default value: /' = 'Default value: /srv' }
    }

    It 'warns naming the file, the parameter and the key, and uses the compiled values' {
        $result = Invoke-BuildHelp $source
        $result.Failed | Should -BeFalse -Because $result.Error
        $result.Warnings | Should -Contain "Get-ConntrackLimit.md: -Root: yaml 'Required: True' contradicts the compiled cmdlet ('False'); the help uses the compiled value."
        $result.Warnings | Should -Contain "Get-ConntrackLimit.md: -Root: yaml 'Type: Int32' contradicts the compiled cmdlet ('String'); the help uses the compiled value."
        $result.Warnings | Should -Contain "Get-ConntrackLimit.md: -Root: yaml 'Default value: /srv' contradicts the compiled cmdlet ('/'); the help uses the compiled value."
        $root = Get-LimitNode $result.Maml 'command:parameters/command:parameter' | Where-Object name -EQ 'Root'
        $root.required | Should -Be 'false'
        $root.type.name | Should -Be 'String'
        $root.defaultValue | Should -Be '/'
    }

    It 'refuses with -WarningsAsErrors (CI)' {
        $result = Invoke-BuildHelp $source -WarningsAsErrors
        $result.Failed | Should -BeTrue
        $result.Problems | Should -Contain "Get-ConntrackLimit.md: -Root: yaml 'Required: True' contradicts the compiled cmdlet ('False'); the help uses the compiled value. (warnings are errors here)"
    }

    It 'warns when SYNTAX is not what Get-Command -Syntax prints, and builds the syntax from the cmdlet' {
        $result = Invoke-BuildHelp (New-HelpSource -Replace @{ '[-Root <string>]' = '[-Root] <string>' })
        @($result.Warnings -like "Get-ConntrackLimit.md: SYNTAX 'Get-ConntrackLimit ``[-MemoryBytes <long>``] ``[-KernelRelease <string>``] ``[-Root``] <string> ``[<CommonParameters>``]' is not what Get-Command -Syntax prints*") |
            Should -Not -BeNullOrEmpty -Because "the warnings were:`n$($result.Warnings -join "`n")"
        $syntax = Get-LimitNode $result.Maml 'command:syntax/command:syntaxItem/command:parameter' | Where-Object name -EQ 'Root'
        $syntax.position | Should -Be 'named'
        $syntax.required | Should -Be 'false'
    }

    It 'warns when the heading differs from the cmdlet name only in case, and uses the cmdlet''s spelling' {
        $result = Invoke-BuildHelp (New-HelpSource -Replace @{ '# Get-ConntrackLimit' = '# get-conntracklimit' })
        $result.Failed | Should -BeFalse -Because $result.Error
        $result.Warnings | Should -Contain "Get-ConntrackLimit.md: '# get-conntracklimit' differs in case from the cmdlet 'Get-ConntrackLimit'; the help uses 'Get-ConntrackLimit'."
        @(Get-LimitNode $result.Maml 'command:details/command:name').Count | Should -Be 1
    }

    It 'stays silent when the yaml agrees in other words (order, case, type accelerators)' {
        $result = Invoke-BuildHelp (New-HelpSource -Replace @{ 'True (ByPropertyName, ByValue)' = 'True (ByValue, ByPropertyName)'; 'Type: String' = 'Type: string'; 'Required: False' = 'Required: false' })
        $result.Failed | Should -BeFalse -Because $result.Error
        $result.Warnings | Should -BeNullOrEmpty
    }
}

Describe 'Build-Help.ps1 text rules' {
    BeforeAll {
        $description = @'
First line of a paragraph
joined to its second line, with **bold**, *italic*, __strong__, _em_, nf_conntrack_max kept,
`code *stays*`, a [link](https://example.org/x) and \*escaped stars\*.

A hard break here  
keeps its line.

- one item
- another item
   continued
'@
        $example = @'
### Example 1: Indented code stays as written
Text before the code.

```powershell
Get-ConntrackLimit |
    Format-List *
```

```powershell
Get-ConntrackLimit -Verbose
```

Text after the code.
'@
        $result = Invoke-BuildHelp (New-HelpSource -Replace @{
                'Reads the limit, the count and the hash size.' = $description
                "### Example 1: Read this machine`n``````powershell`nGet-ConntrackLimit`n```````n" = $example
            })
    }

    It 'turns markdown prose into Get-Help paragraphs' {
        $result.Failed | Should -BeFalse -Because $result.Error
        @((Get-LimitNode $result.Maml 'maml:description/maml:para').InnerText) | Should -Be @(
            'First line of a paragraph joined to its second line, with bold, italic, strong, em, nf_conntrack_max kept, `code *stays*`, a link (https://example.org/x) and *escaped stars*.'
            "A hard break here`nkeeps its line."
            '- one item'
            '- another item continued'
        )
    }

    It 'writes one code element per example, flush-left, blocks joined by a blank line, text kept before and after' {
        $example = Get-LimitNode $result.Maml 'command:examples/command:example' | Select-Object -First 1
        $example.code | Should -BeExactly "Get-ConntrackLimit |`n    Format-List *`n`nGet-ConntrackLimit -Verbose"
        $example.introduction.para | Should -BeExactly "Text before the code.`n`n"
        @($example.remarks.para)[0] | Should -Be 'Text after the code.'
    }
}

Describe 'New-HelpMarkdown.ps1' {
    It 'writes a skeleton with the syntax, one yaml block per parameter and marked placeholders' {
        $out = Join-Path $TestDrive 'skeleton'
        & $skeleton -ModulePath $ModulePath -Name Get-ConntrackLimit -OutputPath $out 6>$null
        $text = Get-Content -Raw (Join-Path $out 'Get-ConntrackLimit.md')
        $text | Should -Match '(?m)^Get-ConntrackLimit \[-MemoryBytes <long>\] \[-KernelRelease <string>\] \[-Root <string>\] \[<CommonParameters>\]$'
        $text | Should -Match '(?m)^### -Root$'
        $text | Should -Match '(?m)^Accept pipeline input: True \(ByPropertyName, ByValue\)$'
        $text | Should -Match '(?m)^### ConntrackTuning\.ConntrackLimit$'
        ([regex]::Matches($text, '\{\{')).Count | Should -BeGreaterThan 5
    }

    It 'refuses to overwrite an existing page without -Force' {
        $out = Join-Path $TestDrive 'keep'
        $null = New-Item -ItemType Directory -Path $out
        Set-Content (Join-Path $out 'Get-ConntrackLimit.md') 'hand-written'
        { & $skeleton -ModulePath $ModulePath -Name Get-ConntrackLimit -OutputPath $out 6>$null } | Should -Throw '*already exists*'
        Get-Content (Join-Path $out 'Get-ConntrackLimit.md') | Should -Be 'hand-written'
    }

    It 'refuses a cmdlet the module does not export' {
        { & $skeleton -ModulePath $ModulePath -Name Set-ConntrackNothing -OutputPath $TestDrive 6>$null } | Should -Throw '*does not export a cmdlet named*'
    }
}
