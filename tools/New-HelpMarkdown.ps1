#Requires -Version 7.4
<#
.SYNOPSIS
Writes a skeleton en-US/<Verb-Noun>.md for a new cmdlet, from the compiled cmdlet's metadata.

.DESCRIPTION
Imports the staged module, reads the cmdlet's parameter sets and parameters, and writes the PlatyPS v1 layout
that tools/Build-Help.ps1 reads: front matter, SYNOPSIS, SYNTAX (one block per parameter set, exactly as
Get-Command -Syntax prints it), DESCRIPTION, EXAMPLES, PARAMETERS (one '### -Name' section with its yaml block
per parameter, one yaml block per distinct set metadata), INPUTS, OUTPUTS, NOTES and RELATED LINKS.

Every piece of prose a person must write is a '{{ ... }}' placeholder; Build-Help.ps1 refuses to build while
any '{{' remains, so a skeleton can never ship as help. The yaml blocks are already right; if the cmdlet
changes later, the build warns where they disagree with it (the compiled metadata always wins).

An existing file is never overwritten unless -Force is given.

.EXAMPLE
dotnet pwsh ./build.ps1 -Task Build
dotnet pwsh tools/New-HelpMarkdown.ps1 -ModulePath out/ConntrackTuning -Name Set-ConntrackLimit

Writes en-US/Set-ConntrackLimit.md. Fill in every {{ ... }}, then run 'dotnet pwsh ./build.ps1 -Task Help'.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    # The staged module folder (or manifest), e.g. out/ConntrackTuning.
    [Parameter(Mandatory)] [string] $ModulePath,
    # The cmdlet to document, e.g. Set-ConntrackLimit. It must be exported by the module.
    [Parameter(Mandatory)] [string] $Name,
    # The folder for the markdown; the repository's en-US by default.
    [string] $OutputPath = (Join-Path (Split-Path $PSScriptRoot) 'en-US'),
    # Overwrite an existing file (its hand-written text is lost).
    [switch] $Force
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'HelpMetadata.ps1')

# A relative path such as out/ConntrackTuning would otherwise be taken for a module name.
$ModulePath = (Resolve-Path -LiteralPath $ModulePath).ProviderPath
$OutputPath = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($OutputPath)
$module = Import-Module -Name $ModulePath -Force -PassThru | Select-Object -First 1
$command = $module.ExportedCmdlets.Values | Where-Object Name -eq $Name | Select-Object -First 1
if (-not $command) {
    throw "$($module.Name) does not export a cmdlet named '$Name'. Add it to CmdletsToExport in ConntrackTuning.psd1 and rebuild (dotnet pwsh ./build.ps1 -Task Build) first."
}
$model = Get-HelpCommandModel $command
$target = Join-Path $OutputPath "$($model.Name).md"
if ((Test-Path -LiteralPath $target) -and -not $Force) {
    throw "$target already exists; it may hold hand-written help. Use -Force to overwrite it."
}

$readOnly = $model.Verb -in $script:HelpReadOnlyVerbs
$md = [System.Collections.Generic.List[string]]::new()
function Add-Line { param([string[]] $Text = @('')) foreach ($t in $Text) { $md.Add($t) } }

Add-Line @('---', "external help file: $($model.HelpFile)", "Module Name: $($model.ModuleName)", 'online version:', 'schema: 2.0.0', '---', '')
Add-Line @("# $($model.Name)", '', '## SYNOPSIS', '{{ One sentence, in the imperative mood of a verb: what the cmdlet does. It is what Get-Help lists show. }}', '')

Add-Line @('## SYNTAX', '')
$defaultSet = Get-HelpDefaultSet $model.Sets
foreach ($set in $model.Sets) {
    if ($model.Sets.Count -gt 1) { Add-Line @("### $($set.Name)$(if ($set -eq $defaultSet) { ' (Default)' })") }
    Add-Line @('```', $set.Syntax, '```', '')
}

Add-Line @('## DESCRIPTION', '{{ What it does and why an admin reaches for it; where each value comes from on each kernel era; what it changes and what it never touches; the errors users meet and what to do about them. Blank lines separate paragraphs; "- " starts a list item. }}', '')

Add-Line @('## EXAMPLES', '', "### Example 1: {{ Title that says what the example shows }}", '```powershell')
if ($readOnly) {
    Add-Line "{{ $($model.Name) }}"
}
else {
    Add-Line "{{ $($model.Name) ... -WhatIf }}"
}
Add-Line @('```', '', '{{ What it shows. Sample output goes here or as "# " comments inside the code. Examples run in the help tests against a fixture root (see tests/Help.Tests.ps1): keep them read-only (verbs Get, Test, Measure, or -WhatIf) to have them run. }}', '')

Add-Line @('## PARAMETERS', '')
foreach ($p in $model.Parameters) {
    Add-Line "### -$($p.Name)"
    $description = switch ($p.Name) {
        'WhatIf' { 'Shows what would change without changing anything: no file is written, not even a timestamp.' }
        'Confirm' { 'Asks for confirmation before each change.' }
        default { "{{ What -$($p.Name) means, its unit and range, and what happens when it is not given. }}" }
    }
    Add-Line @($description, '')
    foreach ($block in $p.Blocks) { Add-Line (Format-HelpYamlBlock $p $block); Add-Line }
}
Add-Line @('### CommonParameters',
    'This cmdlet supports the common parameters: -Debug, -ErrorAction, -ErrorVariable, -InformationAction, -InformationVariable, -OutBuffer, -OutVariable, -PipelineVariable, -ProgressAction, -Verbose, -WarningAction, and -WarningVariable. For more information, see [about_CommonParameters](http://go.microsoft.com/fwlink/?LinkID=113216).', '')

Add-Line @('## INPUTS', '')
$byName = @($model.Parameters | Where-Object { @($_.PerSet | Where-Object ByPropertyName).Count -gt 0 } | ForEach-Object { "-$($_.Name)" })
if ($model.InputTypes.Count -eq 0 -and $byName.Count -eq 0) { Add-Line @('### None', 'You cannot pipe objects to this cmdlet.', '') }
foreach ($type in $model.InputTypes) { Add-Line @("### $type", "{{ What piping a $type does. }}", '') }
if ($byName.Count -gt 0) {
    Add-Line @('### System.Management.Automation.PSObject', "{{ Any object with properties named like $($byName -join ', ') binds them by property name; say which objects of this module do. }}", '')
}

Add-Line @('## OUTPUTS', '')
if ($model.OutputTypes.Count -eq 0) { Add-Line @('### None', '{{ This cmdlet writes no objects (say whether -PassThru changes that). }}', '') }
foreach ($type in $model.OutputTypes) { Add-Line @("### $type", "{{ One object per what? Its main properties and what they mean. }}", '') }

Add-Line @('## NOTES', '{{ Permissions needed (root? which files), kernel eras with differences, anything surprising. Delete this line if there is nothing to note. }}', '')
Add-Line @('## RELATED LINKS', '', '[about_ConntrackTuning]()', '')

if ($PSCmdlet.ShouldProcess($target, 'Write help skeleton')) {
    $null = New-Item -ItemType Directory -Force -Path $OutputPath
    [IO.File]::WriteAllText($target, ($md -join "`n"), [System.Text.UTF8Encoding]::new($false))
    Write-Host "Wrote $target. Fill in every {{ ... }} (Build-Help.ps1 refuses to build while one is left), then: dotnet pwsh ./build.ps1 -Task Help"
}
