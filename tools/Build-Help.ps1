#Requires -Version 7.4
<#
.SYNOPSIS
Builds the module's MAML help (<Assembly>.dll-Help.xml) and about topics from en-US/*.md and the compiled cmdlets.

.DESCRIPTION
PlatyPS cannot be installed here, so this is our own markdown-to-MAML step. It reads the PlatyPS v1 markdown
layout (front matter with schema 2.0.0; SYNOPSIS, SYNTAX, DESCRIPTION, EXAMPLES, PARAMETERS, INPUTS, OUTPUTS,
NOTES, RELATED LINKS) and writes MAML that Get-Help on pwsh 7.6 reads (see the facts in HELP-FORMAT.md).

Two sources, each the authority for its own half, so the help cannot drift from the code:
  - the compiled cmdlets (Get-Command metadata of the imported module): parameter names, types, parameter
    sets and syntax, required/position, pipeline input, aliases, accepted values (ValidateSet or enum),
    wildcards, switches, default values (read from a new cmdlet object);
  - the markdown: synopsis, description, examples, parameter descriptions, inputs, outputs, notes, links.
The yaml blocks under each parameter are for people reading the markdown on GitHub. They are checked against
the compiled metadata: where they disagree the compiled value is used and a warning names the file and key
(an error with -WarningsAsErrors, which build.ps1 passes when CI=true).

It refuses to build (throws, so 'pwsh -File' exits non-zero and the build fails) and lists every problem when:
an exported cmdlet has no markdown, a markdown file documents a command the module does not export, the
markdown documents a parameter the cmdlet lacks or misses one it has, a parameter has no description, the
synopsis, description or an example with code is missing, a '{{ ... }}' placeholder from New-HelpMarkdown.ps1
remains, or the markdown is malformed (unknown level-2 heading, wrong heading level, unknown yaml key, code
where only text may go, PlatyPS v2 markdown). Nothing is written unless everything is valid.

Conventions beyond PlatyPS v1, each checked here:
  - Example code blocks are PowerShell (info string powershell, pwsh, ps1 or none): the help tests run the
    read-only examples, so show sample output as '#' comments in the code or as text after the code.
  - Text before an example's code is kept (as its introduction); text between two code blocks is an error.
  - Fenced code is allowed only in SYNTAX, EXAMPLES and parameter yaml: Get-Help trims and re-indents prose,
    so code anywhere else would print mangled.
  - Related links are '[Text](https://absolute-uri)' or '[Text]()', one per paragraph.
  - about_<Topic>.help.txt files are copied as they are, after checking that line 2 names the topic, line 5
    (the synopsis Get-Help reads) is not blank and no placeholder remains.

.EXAMPLE
pwsh -File tools/Build-Help.ps1 -ModulePath out/ConntrackTuning -SourcePath en-US -DestinationPath out/ConntrackTuning/en-US
#>
[CmdletBinding()]
param(
    # The staged module folder (or manifest) to import; its exported cmdlets are the ones documented.
    [Parameter(Mandatory)] [string] $ModulePath,
    # The folder of <Verb-Noun>.md and about_*.help.txt sources (the repository's en-US).
    [Parameter(Mandatory)] [string] $SourcePath,
    # Where the MAML and the about topics go: the staged module's en-US folder (exact case matters on Linux).
    [Parameter(Mandatory)] [string] $DestinationPath,
    # Treat disagreements between the yaml blocks and the compiled cmdlets as errors (CI).
    [switch] $WarningsAsErrors
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'HelpMetadata.ps1')

$nsMaml = 'http://schemas.microsoft.com/maml/2004/10'
$nsCommand = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$nsDev = 'http://schemas.microsoft.com/maml/dev/2004/10'
$nsMSHelp = 'http://msdn.microsoft.com/mshelp'

$knownSections = @('SYNOPSIS', 'SYNTAX', 'DESCRIPTION', 'EXAMPLES', 'PARAMETERS', 'INPUTS', 'OUTPUTS', 'NOTES', 'RELATED LINKS')
$sectionsWithSubheadings = @('SYNTAX', 'EXAMPLES', 'PARAMETERS', 'INPUTS', 'OUTPUTS')
# The yaml keys of the v1 layout, matched without regard to case, with the spelling used in messages.
$yamlKeyNames = [ordered]@{
    'type' = 'Type'; 'parameter sets' = 'Parameter Sets'; 'aliases' = 'Aliases'; 'accepted values' = 'Accepted values'
    'required' = 'Required'; 'position' = 'Position'; 'default value' = 'Default value'
    'accept pipeline input' = 'Accept pipeline input'; 'accept wildcard characters' = 'Accept wildcard characters'
    'applicable' = 'Applicable'
}
$codeInfoStrings = @('', 'powershell', 'pwsh', 'ps1', 'ps')

$script:Problems = [System.Collections.Generic.List[string]]::new()
$script:DriftCount = 0

# A reason the build must fail, as "file:line: message".
function Add-Problem {
    param([string] $File, [int] $Line, [string] $Message)
    $where = if ($Line -gt 0) { "$(Split-Path -Leaf $File):$Line" } else { Split-Path -Leaf $File }
    $script:Problems.Add("${where}: $Message")
}

# The markdown says something the compiled cmdlet contradicts; the compiled value is used.
function Add-Drift {
    param([string] $File, [string] $Message)
    $script:DriftCount++
    $text = "$(Split-Path -Leaf $File): $Message"
    if ($WarningsAsErrors) { $script:Problems.Add("$text (warnings are errors here)") } else { Write-Warning $text }
}

#region Markdown reading

# Splits a markdown file into its front matter and a flat list of nodes: headings, fenced blocks and lines.
function Read-HelpMarkdown {
    param([Parameter(Mandatory)] [string] $Path)
    $lines = [IO.File]::ReadAllText($Path) -split '\r?\n'
    $doc = [pscustomobject]@{
        File        = $Path
        FrontMatter = [ordered]@{}
        Nodes       = [System.Collections.Generic.List[object]]::new()
        Valid       = $true
    }

    for ($n = 0; $n -lt $lines.Count; $n++) {
        if ($lines[$n].Contains('{{')) {
            Add-Problem $Path ($n + 1) "placeholder left from New-HelpMarkdown.ps1: '$($lines[$n].Trim())'. Write the real text."
        }
    }

    $i = 0
    if ($lines.Count -gt 0 -and $lines[0].Trim() -eq '---') {
        $end = -1
        for ($j = 1; $j -lt $lines.Count; $j++) { if ($lines[$j].Trim() -eq '---') { $end = $j; break } }
        if ($end -lt 0) {
            Add-Problem $Path 1 "the front matter opened by '---' is never closed."
            $doc.Valid = $false
            return $doc
        }
        for ($j = 1; $j -lt $end; $j++) {
            if ($lines[$j] -match '^\s*([^:]+?)\s*:\s*(.*?)\s*$') { $doc.FrontMatter[$Matches[1]] = $Matches[2] }
            elseif ($lines[$j].Trim()) { Add-Problem $Path ($j + 1) "front matter line is not 'key: value': '$($lines[$j])'." }
        }
        $i = $end + 1
    }
    else {
        Add-Problem $Path 1 "no front matter: the file must start with '---', 'external help file: ...', 'schema: 2.0.0', '---' (see New-HelpMarkdown.ps1)."
    }

    if ($doc.FrontMatter.Contains('document type') -or $doc.FrontMatter.Contains('PlatyPS schema version')) {
        Add-Problem $Path 1 'this is PlatyPS v2 markdown (Microsoft.PowerShell.PlatyPS); write the PlatyPS v1 layout (schema: 2.0.0), e.g. from New-HelpMarkdown.ps1.'
        $doc.Valid = $false
        return $doc
    }
    if ($doc.FrontMatter.Contains('schema') -and $doc.FrontMatter['schema'] -ne '2.0.0') {
        Add-Problem $Path 1 "front matter 'schema: $($doc.FrontMatter['schema'])' is not the PlatyPS v1 layout 'schema: 2.0.0'."
        $doc.Valid = $false
        return $doc
    }

    while ($i -lt $lines.Count) {
        $line = $lines[$i]
        if ($line -match '^( {0,3})(`{3,}|~{3,})\s*([^\s`]*)') {
            $indent = $Matches[1].Length
            $fence = $Matches[2]
            $info = $Matches[3].ToLowerInvariant()
            $start = $i
            $content = [System.Collections.Generic.List[string]]::new()
            $closed = $false
            for ($i++; $i -lt $lines.Count; $i++) {
                if ($lines[$i] -match "^ {0,3}$([regex]::Escape([string]$fence[0])){$($fence.Length),}\s*$") { $closed = $true; break }
                # Content keeps its own indentation, less the fence's own (as CommonMark does).
                $content.Add(($lines[$i] -replace "^ {0,$indent}"))
            }
            if (-not $closed) {
                Add-Problem $Path ($start + 1) 'this code block is never closed.'
                $doc.Valid = $false
                return $doc
            }
            $doc.Nodes.Add([pscustomobject]@{ Kind = 'Fence'; Info = $info; Lines = $content.ToArray(); Line = $start + 1 })
        }
        elseif ($line -match '^(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*$') {
            $doc.Nodes.Add([pscustomobject]@{ Kind = 'Heading'; Level = $Matches[1].Length; Text = "$($Matches[2])".Trim(); Line = $i + 1 })
        }
        else {
            $doc.Nodes.Add([pscustomobject]@{ Kind = 'Line'; Text = $line; Line = $i + 1 })
        }
        $i++
    }
    $doc
}

# Arranges the nodes into "# Name" and its "## SECTION"s, enforcing the heading rules of the layout.
function Get-HelpSection {
    param([Parameter(Mandatory)] $Doc)
    $file = $Doc.File
    $result = [pscustomobject]@{ Name = $null; NameLine = 0; Sections = [ordered]@{} }
    $current = $null
    foreach ($node in $Doc.Nodes) {
        if ($node.Kind -eq 'Heading' -and $node.Level -eq 1) {
            if ($result.Name) { Add-Problem $file $node.Line "a second level-1 heading '# $($node.Text)': one command per file."; continue }
            $result.Name = $node.Text
            $result.NameLine = $node.Line
            continue
        }
        if ($node.Kind -eq 'Heading' -and $node.Level -eq 2) {
            $name = $node.Text.ToUpperInvariant()
            if ($name -eq 'ALIASES') {
                Add-Problem $file $node.Line "'## ALIASES' belongs to PlatyPS v2 markdown; the v1 layout has no such section (aliases come from the compiled cmdlet)."
                $current = $null
            }
            elseif ($name -notin $knownSections) {
                Add-Problem $file $node.Line "unknown section '## $($node.Text)'; the sections are $($knownSections -join ', ')."
                $current = $null
            }
            elseif ($result.Sections.Contains($name)) {
                Add-Problem $file $node.Line "a second '## $name' section."
                $current = $null
            }
            else {
                if (-not $result.Name) { Add-Problem $file $node.Line "'## $name' comes before the '# <Verb-Noun>' heading." }
                $current = [pscustomobject]@{ Name = $name; Line = $node.Line; Nodes = [System.Collections.Generic.List[object]]::new() }
                $result.Sections[$name] = $current
            }
            continue
        }
        if ($node.Kind -eq 'Heading' -and ($node.Level -gt 3 -or ($node.Level -eq 3 -and $current -and $current.Name -notin $sectionsWithSubheadings))) {
            $where = if ($current) { "in $($current.Name)" } else { 'here' }
            Add-Problem $file $node.Line "heading level $($node.Level) '$($node.Text)' is not allowed $where."
            continue
        }
        if ($current) { $current.Nodes.Add($node); continue }
        if ($node.Kind -eq 'Line' -and -not $node.Text.Trim()) { continue }
        $what = if ($node.Kind -eq 'Heading') { "heading '$($node.Text)'" } else { 'text' }
        $after = if ($result.Name) { "between '# $($result.Name)' and the first '## SECTION'" } else { "before the '# <Verb-Noun>' heading" }
        Add-Problem $file $node.Line "$what $after."
    }
    if (-not $result.Name) { Add-Problem $file 0 "no '# <Verb-Noun>' heading." }
    $result
}

# Splits a section's nodes at its level-3 headings: the nodes before the first one, then one group per heading.
function Split-HelpSubsection {
    param([Parameter(Mandatory)] $Section)
    $lead = [System.Collections.Generic.List[object]]::new()
    $groups = [System.Collections.Generic.List[object]]::new()
    $current = $null
    foreach ($node in $Section.Nodes) {
        if ($node.Kind -eq 'Heading' -and $node.Level -eq 3) {
            $current = [pscustomobject]@{ Title = $node.Text; Line = $node.Line; Nodes = [System.Collections.Generic.List[object]]::new() }
            $groups.Add($current)
        }
        elseif ($current) { $current.Nodes.Add($node) }
        else { $lead.Add($node) }
    }
    [pscustomobject]@{ Lead = $lead.ToArray(); Groups = $groups.ToArray() }
}

# Fails on any fenced block among nodes that may only hold text, and returns the text lines.
function Get-HelpTextLine {
    param([Parameter(Mandatory)] [AllowEmptyCollection()] [object[]] $Nodes, [string] $File, [string] $Where)
    foreach ($node in $Nodes) {
        if ($node.Kind -eq 'Fence') {
            Add-Problem $File $node.Line "a code block in $Where; Get-Help would print it mangled. Move the code to an example, or use `inline code`."
        }
    }
    @($Nodes | Where-Object Kind -eq 'Line' | ForEach-Object Text)
}

#endregion

#region Text rules (HELP-FORMAT 1.5): markdown prose to the plain paragraphs Get-Help prints

# Inline markdown to plain text: emphasis markers dropped, links as "text (uri)", escapes resolved,
# en dash and no-break space made plain. Code spans are left exactly as written, back-ticks included.
function ConvertTo-HelpInlineText {
    param([AllowEmptyString()] [string] $Text)
    $parts = [regex]::Split($Text, '(`+[^`]*?`+)')
    $out = foreach ($part in $parts) {
        if ($part -match '^`+[^`]*`+$') { $part; continue }
        # Escaped characters hide in the private-use area while emphasis and links are handled.
        $s = $part
        foreach ($c in $script:EscapableCharacters) { $s = $s.Replace("\$c", [string][char](0xE000 + [int]$c)) }
        $s = [regex]::Replace($s, '\[([^\]]+)\]\(\)', '$1')
        $s = [regex]::Replace($s, '\[([^\]]+)\]\(([^)\s]+)\)', '$1 ($2)')
        $s = [regex]::Replace($s, '\*\*(?=\S)(.+?)(?<=\S)\*\*', '$1')
        $s = [regex]::Replace($s, '(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)', '$1')
        $s = [regex]::Replace($s, '(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])', '$1')
        # Intra-word underscores (nf_conntrack_max) are not emphasis.
        $s = [regex]::Replace($s, '(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)', '$1')
        $s = $s.Replace([string][char]0x2013, '-').Replace([string][char]0x00A0, ' ')
        foreach ($c in $script:EscapableCharacters) { $s = $s.Replace([string][char](0xE000 + [int]$c), [string]$c) }
        $s
    }
    -join $out
}
$script:EscapableCharacters = [char[]]'\`*_{}[]()#+-.!<>|~'

# Markdown lines to paragraphs: lines of a paragraph joined by one space, a blank line starts a new paragraph,
# a hard break (two trailing spaces or a trailing backslash) keeps its line break, and each list item
# ('- ', '* ', '+ ', '1. ') is a paragraph of its own with its marker kept.
function ConvertTo-HelpParagraph {
    param([AllowEmptyCollection()] [string[]] $Lines)
    $paragraphs = [System.Collections.Generic.List[string]]::new()
    $current = $null
    $hardBreak = $false
    foreach ($raw in $Lines) {
        if (-not $raw.Trim()) {
            if ($null -ne $current) { $paragraphs.Add($current) }
            $current = $null; $hardBreak = $false
            continue
        }
        $text = $raw.Trim()
        $isItem = $raw -match '^\s{0,3}([-*+]|\d{1,3}[.)])\s+\S'
        if ($isItem -or $null -eq $current) {
            if ($null -ne $current) { $paragraphs.Add($current) }
            $current = $text
        }
        else {
            $current += $(if ($hardBreak) { "`n" } else { ' ' }) + $text
        }
        $hardBreak = $raw -match '(  |\\)$'
        if ($raw -match '\\$') { $current = $current.Substring(0, $current.Length - 1).TrimEnd() }
    }
    if ($null -ne $current) { $paragraphs.Add($current) }
    , @($paragraphs | ForEach-Object { ConvertTo-HelpInlineText $_ })
}

#endregion

#region One command's markdown, checked against its compiled model

# A type name as PowerShell resolves it ('long', 'Int64', 'System.Int64' alike), or $null. Cached: a failed
# lookup searches every loaded assembly and costs tens of milliseconds.
$script:TypeCache = @{}
function Resolve-HelpType {
    param([string] $Name)
    if (-not $script:TypeCache.ContainsKey($Name)) {
        $script:TypeCache[$Name] = if ($Name -eq 'CommonParameters') { $null } else { $Name -as [type] }
    }
    $script:TypeCache[$Name]
}

# Normalises a syntax line for comparison: spacing and case ignored, type names in <...> compared by the type
# they resolve to, so '<Int64>' and '<long>' agree.
function Get-HelpSyntaxKey {
    param([string] $Text)
    $t = [regex]::Replace($Text, '<([^<>]+)>', {
            param($m)
            $type = Resolve-HelpType $m.Groups[1].Value
            if ($type) { "<$($type.FullName)>" } else { $m.Value }
        })
    ($t -replace '\s+', ' ').Trim().ToLowerInvariant()
}

function Test-HelpBool { param([string] $Value) $Value.Trim() -eq 'true' }

# The pipeline wording reduced to the ways it names, so 'True (ByValue, ByPropertyName)' equals
# 'True (ByPropertyName, ByValue)'.
function Get-HelpPipelineKey {
    param([string] $Value)
    if ($Value -notmatch '^\s*true') { return 'false' }
    (@([regex]::Matches($Value, 'By\w+') | ForEach-Object { $_.Value.ToLowerInvariant() } | Sort-Object -Unique) -join ',')
}

function Get-HelpListKey {
    param([string] $Value)
    @($Value -split ',' | ForEach-Object { $_.Trim().ToLowerInvariant() } | Where-Object { $_ } | Sort-Object -Unique) -join ','
}

function Test-HelpTypeName {
    param([string] $Written, $Parameter)
    $w = $Written.Trim()
    if ($w -in 'switch', 'SwitchParameter') { return $Parameter.IsSwitch }
    $compiled = $Parameter.Type
    $underlying = [Nullable]::GetUnderlyingType($compiled)
    if ($underlying) { $compiled = $underlying }
    $resolved = Resolve-HelpType $w
    if ($resolved) { return $resolved -eq $compiled -or $resolved -eq $Parameter.Type }
    $w -in $Parameter.TypeName, $compiled.FullName, $compiled.Name
}

# Compares one parameter's yaml blocks with the compiled metadata and reports each disagreement.
function Compare-HelpYaml {
    param($File, $Parameter, [object[]] $Blocks)
    $p = $Parameter
    for ($b = 0; $b -lt $Blocks.Count; $b++) {
        $yaml = $Blocks[$b]
        $writtenSets = if ($yaml.Contains('parameter sets')) { Get-HelpListKey $yaml['parameter sets'] } else { '(all)' }
        $expected = $p.Blocks | Where-Object { (Get-HelpListKey ($_.Sets -join ',')) -eq $writtenSets } | Select-Object -First 1
        if (-not $expected) {
            if ($yaml.Contains('parameter sets')) {
                $compiled = ($p.Blocks | ForEach-Object { $_.Sets -join ', ' }) -join '; '
                Add-Drift $File "-$($p.Name): yaml 'Parameter Sets: $($yaml['parameter sets'])' does not match the compiled cmdlet ($compiled); the help uses the compiled sets."
            }
            $expected = $p.Blocks[[math]::Min($b, $p.Blocks.Count - 1)]
        }
        $checks = @(
            @{ Key = 'type'; Ok = { param($v) Test-HelpTypeName $v $p }; Compiled = $p.TypeName }
            @{ Key = 'aliases'; Ok = { param($v) (Get-HelpListKey $v) -eq (Get-HelpListKey ($p.Aliases -join ',')) }; Compiled = $p.Aliases -join ', ' }
            @{ Key = 'accepted values'; Ok = { param($v) (Get-HelpListKey $v) -eq (Get-HelpListKey ($p.AcceptedValues -join ',')) }; Compiled = $p.AcceptedValues -join ', ' }
            @{ Key = 'required'; Ok = { param($v) (Test-HelpBool $v) -eq $expected.Required }; Compiled = $expected.Required }
            @{ Key = 'position'; Ok = { param($v) $v.Trim() -eq $expected.Position }; Compiled = $expected.Position }
            @{ Key = 'accept pipeline input'; Ok = { param($v) (Get-HelpPipelineKey $v) -eq (Get-HelpPipelineKey $expected.PipelineInput) }; Compiled = $expected.PipelineInput }
            @{ Key = 'accept wildcard characters'; Ok = { param($v) (Test-HelpBool $v) -eq $p.Globbing }; Compiled = $p.Globbing }
            # PlatyPS writes 'None' for a switch, which means False.
            @{ Key = 'default value'; Ok = { param($v) $null -eq $p.DefaultValue -or $v.Trim() -eq $p.DefaultValue -or ($p.IsSwitch -and $v.Trim() -in 'None', '') }; Compiled = $p.DefaultValue }
        )
        foreach ($check in $checks) {
            if ($yaml.Contains($check.Key) -and -not (& $check.Ok $yaml[$check.Key])) {
                Add-Drift $File "-$($p.Name): yaml '$($yamlKeyNames[$check.Key]): $($yaml[$check.Key])' contradicts the compiled cmdlet ('$($check.Compiled)'); the help uses the compiled value."
            }
        }
    }
}

# Parses one yaml block of a parameter ('Key: value' lines, keys from the v1 layout only).
function ConvertFrom-HelpYaml {
    param($File, $Fence, $ParameterName)
    $yaml = [ordered]@{}
    for ($k = 0; $k -lt $Fence.Lines.Count; $k++) {
        $line = $Fence.Lines[$k]
        if (-not $line.Trim()) { continue }
        if ($line -notmatch '^\s*([^:]+?)\s*:\s*(.*?)\s*$') {
            Add-Problem $File ($Fence.Line + 1 + $k) "-${ParameterName}: yaml line is not 'Key: value': '$line'."
            continue
        }
        $key = ($Matches[1] -replace '\s+', ' ').ToLowerInvariant()
        if (-not $yamlKeyNames.Contains($key)) {
            Add-Problem $File ($Fence.Line + 1 + $k) "-${ParameterName}: unknown yaml key '$($Matches[1])'; the keys are $(@($yamlKeyNames.Values) -join ', ')."
            continue
        }
        if ($yaml.Contains($key)) { Add-Problem $File ($Fence.Line + 1 + $k) "-${ParameterName}: yaml key '$($Matches[1])' given twice." }
        $yaml[$key] = $Matches[2]
    }
    $yaml
}

# Reads one command's markdown into what the MAML needs, reporting every problem on the way.
function Read-HelpCommandDoc {
    param([Parameter(Mandatory)] $Doc, [Parameter(Mandatory)] $Model)
    $file = $Doc.File
    $layout = Get-HelpSection $Doc
    $help = [pscustomobject]@{
        Synopsis      = $null
        Description   = @()
        Examples      = [System.Collections.Generic.List[object]]::new()
        Parameters    = @{}
        Inputs        = [System.Collections.Generic.List[object]]::new()
        Outputs       = [System.Collections.Generic.List[object]]::new()
        Notes         = @()
        Links         = [System.Collections.Generic.List[object]]::new()
    }

    if ($layout.Name -and $layout.Name -cne $Model.Name) {
        if ($layout.Name -eq $Model.Name) {
            Add-Drift $file "'# $($layout.Name)' differs in case from the cmdlet '$($Model.Name)'; the help uses '$($Model.Name)'."
        }
        else {
            Add-Problem $file $layout.NameLine "'# $($layout.Name)' does not name the cmdlet '$($Model.Name)' this file is for."
        }
    }
    $fm = $Doc.FrontMatter
    if ($fm.Contains('external help file') -and $fm['external help file'] -ne $Model.HelpFile) {
        Add-Drift $file "front matter 'external help file: $($fm['external help file'])' contradicts the cmdlet's assembly; the help goes to '$($Model.HelpFile)'."
    }
    if ($fm.Contains('Module Name') -and $fm['Module Name'] -ne $Model.ModuleName) {
        Add-Drift $file "front matter 'Module Name: $($fm['Module Name'])' contradicts the module '$($Model.ModuleName)'."
    }
    $sections = $layout.Sections

    # SYNOPSIS: one paragraph (the Synopsis property and Get-Help lists read only the first).
    if (-not $sections.Contains('SYNOPSIS')) { Add-Problem $file 0 "no '## SYNOPSIS' section." }
    else {
        $paras = ConvertTo-HelpParagraph (Get-HelpTextLine $sections['SYNOPSIS'].Nodes $file 'SYNOPSIS')
        if ($paras.Count -eq 0) { Add-Problem $file $sections['SYNOPSIS'].Line 'the SYNOPSIS is empty.' }
        elseif ($paras.Count -gt 1) { Add-Problem $file $sections['SYNOPSIS'].Line 'the SYNOPSIS must be one paragraph (Get-Help shows only the first in lists); move the rest to DESCRIPTION.' }
        else { $help.Synopsis = $paras[0] }
    }

    if (-not $sections.Contains('DESCRIPTION')) { Add-Problem $file 0 "no '## DESCRIPTION' section." }
    else {
        $help.Description = ConvertTo-HelpParagraph (Get-HelpTextLine $sections['DESCRIPTION'].Nodes $file 'DESCRIPTION')
        if ($help.Description.Count -eq 0) { Add-Problem $file $sections['DESCRIPTION'].Line 'the DESCRIPTION is empty.' }
    }

    # SYNTAX is for readers of the markdown; MAML syntax comes from the compiled sets. Say when they differ.
    if ($sections.Contains('SYNTAX')) {
        $parts = Split-HelpSubsection $sections['SYNTAX']
        $written = [System.Collections.Generic.List[object]]::new()
        foreach ($node in $parts.Lead) {
            if ($node.Kind -eq 'Fence') { $written.Add([pscustomobject]@{ Set = $null; Fence = $node }) }
            elseif ($node.Text.Trim()) { Add-Problem $file $node.Line 'text in SYNTAX; it holds only "### SetName" headings and code blocks.' }
        }
        foreach ($group in $parts.Groups) {
            $setName = $group.Title -replace '\s*\(Default\)\s*$'
            if ($setName -notin @($Model.Sets.Name) -and -not ($setName -eq '(All)' -and $Model.Sets.Count -eq 1)) {
                Add-Drift $file "SYNTAX names the parameter set '$setName', which the cmdlet does not have ($(@($Model.Sets.Name) -join ', '))."
            }
            foreach ($node in $group.Nodes) {
                if ($node.Kind -eq 'Fence') { $written.Add([pscustomobject]@{ Set = $setName; Fence = $node }) }
                elseif ($node.Text.Trim()) { Add-Problem $file $node.Line "text under '### $($group.Title)' in SYNTAX; it holds only a code block." }
            }
        }
        $compiledKeys = @($Model.Sets | ForEach-Object { Get-HelpSyntaxKey $_.Syntax })
        $writtenKeys = @($written | ForEach-Object { Get-HelpSyntaxKey ($_.Fence.Lines -join ' ') })
        foreach ($w in $written) {
            $text = ($w.Fence.Lines -join ' ').Trim()
            if ((Get-HelpSyntaxKey $text) -notin $compiledKeys) {
                Add-Drift $file "SYNTAX '$text' is not what Get-Command -Syntax prints; the help uses the compiled syntax:$(($Model.Sets | ForEach-Object { "`n    $($_.Syntax)" }) -join '')"
            }
        }
        foreach ($set in $Model.Sets) {
            if ((Get-HelpSyntaxKey $set.Syntax) -notin $writtenKeys -and $written.Count -gt 0) {
                Add-Drift $file "SYNTAX lacks the compiled set '$($set.Name)': $($set.Syntax)"
            }
        }
    }

    # EXAMPLES: title, optional text before the code, one or more PowerShell code blocks, text after.
    if (-not $sections.Contains('EXAMPLES')) { Add-Problem $file 0 "no '## EXAMPLES' section; every cmdlet needs at least one example." }
    else {
        $parts = Split-HelpSubsection $sections['EXAMPLES']
        foreach ($node in $parts.Lead) {
            if ($node.Kind -eq 'Fence' -or $node.Text.Trim()) { Add-Problem $file $node.Line "content before the first '### Example' heading in EXAMPLES." }
        }
        if ($parts.Groups.Count -eq 0) { Add-Problem $file $sections['EXAMPLES'].Line "EXAMPLES has no '### Example 1: ...' heading; every cmdlet needs at least one example." }
        foreach ($group in $parts.Groups) {
            $intro = [System.Collections.Generic.List[string]]::new()
            $remarks = [System.Collections.Generic.List[string]]::new()
            $code = [System.Collections.Generic.List[string]]::new()
            $seenCode = $false
            $textAfterCode = $false
            foreach ($node in $group.Nodes) {
                if ($node.Kind -eq 'Fence') {
                    if ($node.Info -notin $codeInfoStrings) {
                        Add-Problem $file $node.Line "the code block of '$($group.Title)' is '$($node.Info)', not powershell. Examples are run by the help tests: show output as '# ' comments in the code or as text after it."
                    }
                    if ($textAfterCode) { Add-Problem $file $node.Line "text between two code blocks of '$($group.Title)'; make it two examples or move the text after the code." }
                    $body = @($node.Lines)
                    while ($body.Count -gt 0 -and -not $body[-1].Trim()) { $body = @($body | Select-Object -SkipLast 1) }
                    if ($body.Count -gt 0) { $code.Add($body -join "`n") }
                    $seenCode = $true
                }
                elseif ($seenCode) { $remarks.Add($node.Text); if ($node.Text.Trim()) { $textAfterCode = $true } }
                else { $intro.Add($node.Text) }
            }
            if ($code.Count -eq 0) { Add-Problem $file $group.Line "the example '$($group.Title)' has no code block."; continue }
            $help.Examples.Add([pscustomobject]@{
                    Title   = $group.Title
                    Intro   = ConvertTo-HelpParagraph $intro.ToArray()
                    Code    = $code -join "`n`n"
                    Remarks = ConvertTo-HelpParagraph $remarks.ToArray()
                })
        }
    }

    # PARAMETERS: '### -Name', its description, optional yaml blocks. Exactly the compiled parameters.
    $documented = @{}
    if ($sections.Contains('PARAMETERS')) {
        $parts = Split-HelpSubsection $sections['PARAMETERS']
        foreach ($node in $parts.Lead) {
            if ($node.Kind -eq 'Fence' -or $node.Text.Trim()) { Add-Problem $file $node.Line "content before the first '### -Parameter' heading in PARAMETERS." }
        }
        foreach ($group in $parts.Groups) {
            if ($group.Title -in 'CommonParameters', '<CommonParameters>', 'WorkflowCommonParameters') { continue }
            if ($group.Title -notmatch '^-(\w+)$') {
                Add-Problem $file $group.Line "'### $($group.Title)' in PARAMETERS is neither '### -ParameterName' nor '### CommonParameters'."
                continue
            }
            $name = $Matches[1]
            $parameter = $Model.Parameters | Where-Object Name -eq $name | Select-Object -First 1
            if (-not $parameter) {
                $why = if ($name -in $script:HelpCommonParameters) { "-$name is a common parameter; Get-Help explains those itself, so leave it to '### CommonParameters'." }
                else { "documents -$name, which $($Model.Name) does not have (its parameters: $(@($Model.Parameters.Name | ForEach-Object { "-$_" }) -join ', '))." }
                Add-Problem $file $group.Line $why
                continue
            }
            if ($documented.ContainsKey($parameter.Name)) { Add-Problem $file $group.Line "-$name is documented twice."; continue }
            if ($name -cne $parameter.Name) { Add-Drift $file "'### -$name' differs in case from the parameter -$($parameter.Name)." }
            $documented[$parameter.Name] = $true

            $textLines = [System.Collections.Generic.List[string]]::new()
            $yamlBlocks = [System.Collections.Generic.List[object]]::new()
            foreach ($node in $group.Nodes) {
                if ($node.Kind -eq 'Line') { $textLines.Add($node.Text) }
                elseif ($node.Info -eq 'yaml') { $yamlBlocks.Add((ConvertFrom-HelpYaml $file $node $parameter.Name)) }
                else { Add-Problem $file $node.Line "-${name}: a '$($node.Info)' code block in a parameter description; only the yaml block is allowed there." }
            }
            $description = ConvertTo-HelpParagraph $textLines.ToArray()
            if ($description.Count -eq 0) { Add-Problem $file $group.Line "-$name has no description: write what it is for above its yaml block." }
            if ($yamlBlocks.Count -gt 0) { Compare-HelpYaml $file $parameter $yamlBlocks.ToArray() }
            $default = $parameter.DefaultValue
            if ($null -eq $default) {
                # Where the code has no concrete default, the author's words may say what happens (e.g. "All").
                $written = $yamlBlocks | Where-Object { $_.Contains('default value') } | Select-Object -First 1
                if ($written) { $default = $written['default value'] }
            }
            $help.Parameters[$parameter.Name] = [pscustomobject]@{ Description = $description; DefaultValue = $(if ($default) { $default } else { 'None' }) }
        }
    }
    foreach ($parameter in $Model.Parameters) {
        if (-not $documented.ContainsKey($parameter.Name)) {
            $line = if ($sections.Contains('PARAMETERS')) { $sections['PARAMETERS'].Line } else { 0 }
            Add-Problem $file $line "-$($parameter.Name) is not documented: add a '### -$($parameter.Name)' section with its description (New-HelpMarkdown.ps1 shows the yaml)."
        }
    }

    # INPUTS and OUTPUTS: '### TypeName' and a paragraph each.
    foreach ($kind in 'INPUTS', 'OUTPUTS') {
        if (-not $sections.Contains($kind)) { continue }
        $parts = Split-HelpSubsection $sections[$kind]
        foreach ($node in $parts.Lead) {
            if ($node.Kind -eq 'Fence' -or $node.Text.Trim()) { Add-Problem $file $node.Line "text in $kind outside a '### TypeName' heading." }
        }
        foreach ($group in $parts.Groups) {
            $entry = [pscustomobject]@{ Type = $group.Title; Description = ConvertTo-HelpParagraph (Get-HelpTextLine $group.Nodes.ToArray() $file "$kind '$($group.Title)'") }
            if ($kind -eq 'INPUTS') { $help.Inputs.Add($entry) } else { $help.Outputs.Add($entry) }
        }
    }
    $writtenOutputs = @($help.Outputs.Type | Where-Object { $_ -ne 'None' })
    foreach ($type in $Model.OutputTypes) {
        if ($type -notin $writtenOutputs) { Add-Drift $file "OUTPUTS does not list '$type', which the cmdlet declares with [OutputType]." }
    }
    foreach ($type in $writtenOutputs) {
        if ($type -notin $Model.OutputTypes) { Add-Drift $file "OUTPUTS lists '$type', which the cmdlet does not declare with [OutputType] ($(@($Model.OutputTypes) -join ', '))." }
    }

    if ($sections.Contains('NOTES')) { $help.Notes = ConvertTo-HelpParagraph (Get-HelpTextLine $sections['NOTES'].Nodes $file 'NOTES') }

    # RELATED LINKS: the online version first (Get-Help -Online opens the first link with a URI), then each link.
    if ($fm.Contains('online version') -and $fm['online version']) {
        $help.Links.Add([pscustomobject]@{ Text = 'Online Version:'; Uri = $fm['online version'] })
    }
    if ($sections.Contains('RELATED LINKS')) {
        foreach ($node in $sections['RELATED LINKS'].Nodes) {
            if ($node.Kind -eq 'Fence') { Add-Problem $file $node.Line 'a code block in RELATED LINKS.'; continue }
            if (-not $node.Text.Trim()) { continue }
            if ($node.Text -match '^\s*\[(?<text>[^\]]+)\]\((?<uri>[^)\s]*)\)\s*$') {
                # Relative links (another .md file) work on GitHub; Get-Help can only use absolute ones.
                $uri = if ([uri]::IsWellFormedUriString($Matches.uri, [UriKind]::Absolute)) { $Matches.uri } else { '' }
                $help.Links.Add([pscustomobject]@{ Text = $Matches.text; Uri = $uri })
            }
            else {
                Add-Problem $file $node.Line "related link '$($node.Text.Trim())' is not '[Text](https://...)' or '[Text]()', one per line."
            }
        }
    }
    $help
}

#endregion

#region MAML writing

function Write-MamlPara {
    param([System.Xml.XmlWriter] $Writer, [AllowEmptyCollection()] [string[]] $Paragraphs)
    foreach ($p in $Paragraphs) { $Writer.WriteElementString('maml', 'para', $nsMaml, $p) }
}

function Write-MamlDescription {
    param([System.Xml.XmlWriter] $Writer, [AllowEmptyCollection()] [string[]] $Paragraphs)
    $Writer.WriteStartElement('maml', 'description', $nsMaml)
    Write-MamlPara $Writer $Paragraphs
    $Writer.WriteEndElement()
}

# The attributes Get-Help's views print for a parameter (required, position, pipeline, wildcards, aliases).
function Write-MamlParameterAttribute {
    param([System.Xml.XmlWriter] $Writer, $Parameter, [bool] $Required, [string] $Position, [string] $PipelineInput)
    $Writer.WriteAttributeString('required', $Required.ToString().ToLowerInvariant())
    $Writer.WriteAttributeString('variableLength', $Parameter.IsArray.ToString().ToLowerInvariant())
    $Writer.WriteAttributeString('globbing', $Parameter.Globbing.ToString().ToLowerInvariant())
    $Writer.WriteAttributeString('pipelineInput', $PipelineInput)
    $Writer.WriteAttributeString('position', $Position.ToLowerInvariant())
    $Writer.WriteAttributeString('aliases', $(if ($Parameter.Aliases.Count -gt 0) { $Parameter.Aliases -join ', ' } else { 'none' }))
}

function Write-MamlCommand {
    param([System.Xml.XmlWriter] $Writer, $Model, $Help)
    $w = $Writer
    $w.WriteStartElement('command', 'command', $nsCommand)
    $w.WriteAttributeString('xmlns', 'maml', $null, $nsMaml)
    $w.WriteAttributeString('xmlns', 'command', $null, $nsCommand)
    $w.WriteAttributeString('xmlns', 'dev', $null, $nsDev)
    $w.WriteAttributeString('xmlns', 'MSHelp', $null, $nsMSHelp)

    $w.WriteStartElement('command', 'details', $nsCommand)
    $w.WriteElementString('command', 'name', $nsCommand, $Model.Name)
    $w.WriteElementString('command', 'verb', $nsCommand, $Model.Verb)
    $w.WriteElementString('command', 'noun', $nsCommand, $Model.Noun)
    Write-MamlDescription $w @($Help.Synopsis)
    $w.WriteEndElement()

    Write-MamlDescription $w $Help.Description

    # One syntaxItem per compiled parameter set, parameters in Get-Command's display order.
    $w.WriteStartElement('command', 'syntax', $nsCommand)
    foreach ($set in $Model.Sets) {
        $w.WriteStartElement('command', 'syntaxItem', $nsCommand)
        $w.WriteElementString('maml', 'name', $nsMaml, $Model.Name)
        foreach ($name in $set.ParameterOrder) {
            $p = $Model.Parameters | Where-Object Name -eq $name
            $m = $p.PerSet | Where-Object { $_.SetName -eq $set.Name -or $_.SetName -eq '__AllParameterSets' } | Select-Object -First 1
            $w.WriteStartElement('command', 'parameter', $nsCommand)
            Write-MamlParameterAttribute $w $p $m.Required $m.Position (Format-HelpPipelineInput $m.ByValue $m.ByPropertyName)
            $w.WriteElementString('maml', 'name', $nsMaml, $p.Name)
            if ($p.AcceptedValues.Count -gt 0) {
                # Shown as {A | B} instead of <Type>.
                $w.WriteStartElement('command', 'parameterValueGroup', $nsCommand)
                foreach ($value in $p.AcceptedValues) {
                    $w.WriteStartElement('command', 'parameterValue', $nsCommand)
                    $w.WriteAttributeString('required', 'false')
                    $w.WriteAttributeString('variableLength', 'false')
                    $w.WriteString($value)
                    $w.WriteEndElement()
                }
                $w.WriteEndElement()
            }
            elseif (-not $p.IsSwitch) {
                # A switch has no value element, so the syntax shows [-Name] rather than [-Name <SwitchParameter>].
                $w.WriteStartElement('command', 'parameterValue', $nsCommand)
                $w.WriteAttributeString('required', 'true')
                $w.WriteAttributeString('variableLength', $p.IsArray.ToString().ToLowerInvariant())
                $w.WriteString($p.TypeName)
                $w.WriteEndElement()
            }
            $w.WriteEndElement()
        }
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    # Present even when empty: the -Full view prints the CommonParameters block only when it exists.
    $w.WriteStartElement('command', 'parameters', $nsCommand)
    foreach ($p in $Model.Parameters) {
        $doc = $Help.Parameters[$p.Name]
        $w.WriteStartElement('command', 'parameter', $nsCommand)
        Write-MamlParameterAttribute $w $p $p.Required $p.Position $p.PipelineInput
        $w.WriteElementString('maml', 'name', $nsMaml, $p.Name)
        Write-MamlDescription $w $doc.Description
        $w.WriteStartElement('command', 'parameterValue', $nsCommand)
        # required="false" prints "-Name [<SwitchParameter>]" for a switch, as PowerShell's own help does.
        $w.WriteAttributeString('required', (-not $p.IsSwitch).ToString().ToLowerInvariant())
        $w.WriteAttributeString('variableLength', $p.IsArray.ToString().ToLowerInvariant())
        $w.WriteString($p.TypeName)
        $w.WriteEndElement()
        $w.WriteStartElement('dev', 'type', $nsDev)
        $w.WriteElementString('maml', 'name', $nsMaml, $p.TypeName)
        $w.WriteEndElement()
        $w.WriteElementString('dev', 'defaultValue', $nsDev, $doc.DefaultValue)
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    foreach ($kind in @(@{ List = $Help.Inputs; Outer = 'inputTypes'; Inner = 'inputType' }, @{ List = $Help.Outputs; Outer = 'returnValues'; Inner = 'returnValue' })) {
        if ($kind.List.Count -eq 0) { continue }
        $w.WriteStartElement('command', $kind.Outer, $nsCommand)
        foreach ($entry in $kind.List) {
            $w.WriteStartElement('command', $kind.Inner, $nsCommand)
            $w.WriteStartElement('dev', 'type', $nsDev)
            $w.WriteElementString('maml', 'name', $nsMaml, $entry.Type)
            $w.WriteEndElement()
            Write-MamlDescription $w $entry.Description
            $w.WriteEndElement()
        }
        $w.WriteEndElement()
    }

    # Left out when empty: an empty alertSet prints an empty NOTES block.
    if ($Help.Notes.Count -gt 0) {
        $w.WriteStartElement('maml', 'alertSet', $nsMaml)
        $w.WriteStartElement('maml', 'alert', $nsMaml)
        Write-MamlPara $w $Help.Notes
        $w.WriteEndElement()
        $w.WriteEndElement()
    }

    $w.WriteStartElement('command', 'examples', $nsCommand)
    foreach ($example in $Help.Examples) {
        $w.WriteStartElement('command', 'example', $nsCommand)
        # The dashes are PowerShell's own look for example titles.
        $title = $example.Title
        if ($title.Length -lt 62) {
            $pad = [math]::Max(1, [int][math]::Floor((62 - $title.Length) / 2))
            $title = ('-' * $pad) + " $title " + ('-' * $pad)
        }
        $w.WriteElementString('maml', 'title', $nsMaml, $title)
        if ($example.Intro.Count -gt 0) {
            # Get-Help prints the introduction right before the code on the same line, and separate intro paras
            # on consecutive lines. So: one para, paragraphs separated by a blank line, and two line feeds at its
            # end (the last para is the one Get-Help does not trim) to put the code below the text.
            $w.WriteStartElement('maml', 'introduction', $nsMaml)
            Write-MamlPara $w @(($example.Intro -join "`n`n") + "`n`n")
            $w.WriteEndElement()
        }
        # Flush-left, exactly as written: Get-Help trims only the ends of dev:code.
        $w.WriteElementString('dev', 'code', $nsDev, $example.Code)
        if ($example.Remarks.Count -gt 0) {
            $w.WriteStartElement('dev', 'remarks', $nsDev)
            Write-MamlPara $w $example.Remarks
            # An empty last paragraph gives the blank line before the next example's title.
            $w.WriteElementString('maml', 'para', $nsMaml, '')
            $w.WriteEndElement()
        }
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    if ($Help.Links.Count -gt 0) {
        $w.WriteStartElement('command', 'relatedLinks', $nsCommand)
        foreach ($link in $Help.Links) {
            $w.WriteStartElement('maml', 'navigationLink', $nsMaml)
            $w.WriteElementString('maml', 'linkText', $nsMaml, $link.Text)
            $w.WriteElementString('maml', 'uri', $nsMaml, $link.Uri)
            $w.WriteEndElement()
        }
        $w.WriteEndElement()
    }

    $w.WriteEndElement()
}

function Write-MamlFile {
    param([string] $Path, [object[]] $Commands)
    $settings = [System.Xml.XmlWriterSettings]::new()
    $settings.Encoding = [System.Text.UTF8Encoding]::new($false)
    # Indentation only between elements: XmlWriter never indents inside an element that holds text, so code
    # and paragraphs keep their exact content.
    $settings.Indent = $true
    $settings.IndentChars = '  '
    $settings.NewLineChars = "`n"
    $settings.NewLineHandling = [System.Xml.NewLineHandling]::Replace
    $writer = [System.Xml.XmlWriter]::Create($Path, $settings)
    try {
        $writer.WriteStartDocument()
        $writer.WriteStartElement('helpItems', 'http://msh')
        # Without schema="maml" Get-Help silently ignores the whole file.
        $writer.WriteAttributeString('schema', 'maml')
        foreach ($c in $Commands) { Write-MamlCommand $writer $c.Model $c.Help }
        $writer.WriteEndElement()
        $writer.WriteEndDocument()
    }
    finally { $writer.Dispose() }
}

#endregion

#region About topics

function Test-AboutTopic {
    param([System.IO.FileInfo] $File)
    $lines = [IO.File]::ReadAllText($File.FullName) -split '\r?\n'
    $topic = $File.Name -replace '\.help\.txt$'
    for ($n = 0; $n -lt $lines.Count; $n++) {
        if ($lines[$n].Contains('{{')) { Add-Problem $File.FullName ($n + 1) "placeholder left: '$($lines[$n].Trim())'." }
    }
    if ($lines.Count -lt 5 -or $lines[0].Trim() -ne 'TOPIC' -or $lines[1].Trim() -ne $topic) {
        Add-Problem $File.FullName 1 "an about topic starts with 'TOPIC', then '    $topic' on line 2."
    }
    if ($lines.Count -lt 5 -or -not $lines[4].Trim()) {
        Add-Problem $File.FullName 5 'line 5 must hold the short description (Get-Help reads the synopsis from line 5).'
    }
}

#endregion

# --- Main -------------------------------------------------------------------------------------------------

# A relative path such as out/ConntrackTuning would otherwise be taken for a module name.
$ModulePath = (Resolve-Path -LiteralPath $ModulePath).ProviderPath
$SourcePath = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($SourcePath)
$DestinationPath = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($DestinationPath)
$module = Import-Module -Name $ModulePath -Force -PassThru -ErrorAction Stop | Select-Object -First 1
$cmdlets = @($module.ExportedCmdlets.Values | Sort-Object Name)
if ($cmdlets.Count -eq 0) { throw "Module '$($module.Name)' from $ModulePath exports no cmdlets: nothing to document." }
if (-not (Test-Path -LiteralPath $SourcePath -PathType Container)) { throw "The help source folder $SourcePath does not exist." }

$markdown = @{}
foreach ($file in Get-ChildItem -LiteralPath $SourcePath -Filter '*.md' -File) {
    if ($file.Name -like 'about_*') {
        Add-Problem $file.FullName 0 "about topics are written as plain text: rename it to $($file.BaseName).help.txt (TOPIC, name, blank, SHORT DESCRIPTION, synopsis on line 5)."
        continue
    }
    $markdown[$file.BaseName] = $file
}

$commands = [System.Collections.Generic.List[object]]::new()
foreach ($cmdlet in $cmdlets) {
    # Case-insensitive lookup; a file whose name differs in case is still this cmdlet's (Get-Help ignores case too).
    $key = $markdown.Keys | Where-Object { $_ -eq $cmdlet.Name } | Select-Object -First 1
    if (-not $key) {
        Add-Problem (Join-Path $SourcePath "$($cmdlet.Name).md") 0 "$($cmdlet.Name) is exported but has no help. Start one with: pwsh tools/New-HelpMarkdown.ps1 -ModulePath <staged module> -Name $($cmdlet.Name)"
        continue
    }
    $file = $markdown[$key]
    $markdown.Remove($key)
    $model = Get-HelpCommandModel $cmdlet
    $doc = Read-HelpMarkdown $file.FullName
    if (-not $doc.Valid) { continue }
    $commands.Add([pscustomobject]@{ Model = $model; Help = (Read-HelpCommandDoc $doc $model) })
}
foreach ($left in $markdown.Values) {
    $doc = Read-HelpMarkdown $left.FullName
    if ($doc.FrontMatter.Contains('Module Guid')) { continue }   # a PlatyPS module page, not a command
    Add-Problem $left.FullName 0 "documents '$($left.BaseName)', which $($module.Name) does not export. Add it to CmdletsToExport, or remove the file."
}

$abouts = @(Get-ChildItem -LiteralPath $SourcePath -Filter 'about_*.help.txt' -File)
foreach ($about in $abouts) { Test-AboutTopic $about }

if ($script:Problems.Count -gt 0) {
    # One line per problem, readable in a build log; the error itself stays short.
    Write-Host "Help problems in ${SourcePath}:" -ForegroundColor Red
    foreach ($problem in $script:Problems) { Write-Host "  $problem" -ForegroundColor Red }
    throw "The help was not built: $($script:Problems.Count) problem(s), listed above."
}

$null = New-Item -ItemType Directory -Force -Path $DestinationPath
Get-ChildItem -LiteralPath $DestinationPath -File | Where-Object { $_.Name -like '*-Help.xml' -or $_.Name -like 'about_*.help.txt' } | Remove-Item
foreach ($group in $commands | Group-Object { $_.Model.HelpFile }) {
    $target = Join-Path $DestinationPath $group.Name
    Write-MamlFile -Path $target -Commands $group.Group
    Write-Host "Help: $($group.Count) cmdlet(s) to $target"
}
foreach ($about in $abouts) { Copy-Item -LiteralPath $about.FullName -Destination $DestinationPath }
if ($abouts.Count -gt 0) { Write-Host "Help: $(@($abouts.Name) -join ', ') to $DestinationPath" }
if ($script:DriftCount -gt 0) { Write-Host "Help: $($script:DriftCount) warning(s); the compiled metadata was used." -ForegroundColor Yellow }
