# What the compiled cmdlets say about themselves, in the shape the help needs. Dot-sourced by Build-Help.ps1
# (which writes MAML from it and checks the markdown's yaml against it) and New-HelpMarkdown.ps1 (which writes
# a skeleton from it), so the two can never disagree about a parameter.
#
# Everything here comes from Get-Command metadata (parameter sets, ParameterAttribute, aliases, ValidateSet,
# enum types, SupportsWildcards, OutputType) plus one reflection read: the default value a parameter has on a
# freshly constructed cmdlet object, which is what the cmdlet really uses when the parameter is not given.

Set-StrictMode -Version Latest

# The parameters PowerShell adds to every cmdlet. Get-Help prints its own [<CommonParameters>] text for them, so
# they never appear in MAML. -WhatIf and -Confirm are deliberately NOT in this list: a cmdlet that supports
# ShouldProcess shows them in its syntax and documents them like any other parameter, as PowerShell's own do.
$script:HelpCommonParameters = [string[]][System.Management.Automation.PSCmdlet]::CommonParameters

# The verbs whose ConntrackTuning commands only read; used by the example runner and kept here so the
# convention has one home.
$script:HelpReadOnlyVerbs = @('Get', 'Test', 'Measure')

# 'Int64', 'String[]', 'SwitchParameter', 'Dictionary[String,Int32]': the short .NET name the help shows.
# Nullable<T> shows as T, because for a parameter "not given" is already what None means.
function Get-HelpTypeName {
    param([Parameter(Mandatory)] [type] $Type)
    $underlying = [Nullable]::GetUnderlyingType($Type)
    if ($underlying) { return Get-HelpTypeName $underlying }
    if ($Type.IsArray) { return (Get-HelpTypeName $Type.GetElementType()) + '[]' }
    if ($Type.IsGenericType) {
        $arguments = $Type.GetGenericArguments() | ForEach-Object { Get-HelpTypeName $_ }
        return ($Type.Name -replace '`\d+$') + '[' + ($arguments -join ',') + ']'
    }
    $Type.Name
}

# The element type an "accepted values" list comes from: Nullable<Enum>, Enum[] and Enum all count.
function Get-HelpEnumType {
    param([Parameter(Mandatory)] [type] $Type)
    $t = if ($Type.IsArray) { $Type.GetElementType() } else { $Type }
    $underlying = [Nullable]::GetUnderlyingType($t)
    if ($underlying) { $t = $underlying }
    if ($t.IsEnum) { $t }
}

# 'False', 'True (ByValue)', 'True (ByPropertyName)' or 'True (ByPropertyName, ByValue)': the wording Get-Help
# users know from PowerShell's own help.
function Format-HelpPipelineInput {
    param([bool] $ByValue, [bool] $ByPropertyName)
    $ways = @(if ($ByPropertyName) { 'ByPropertyName' }; if ($ByValue) { 'ByValue' })
    if ($ways.Count -eq 0) { return 'False' }
    'True (' + ($ways -join ', ') + ')'
}

# The value a parameter holds on a new cmdlet object, as help text; $null when there is nothing worth showing
# (no value, an empty string or array, a number or TimeSpan left at zero, or a parameter that is mandatory
# everywhere). A value type's zero is what the field holds when no one set it: the cmdlets read it as 'not
# given' (-Zone filters nothing, -Count 0 sets no limit), so 'Default value: 0' would say the opposite. Where a
# zero is meant, the markdown's yaml says so and the help takes its words.
function Get-HelpDefaultValue {
    param([object] $Instance, [string] $Name, [bool] $IsSwitch, [bool] $MandatoryEverywhere)
    if ($IsSwitch) { return 'False' }
    if ($MandatoryEverywhere -or $null -eq $Instance) { return $null }
    $member = $Instance.GetType().GetMember($Name, [Reflection.BindingFlags]'Public, Instance, FlattenHierarchy') |
        Where-Object { $_.MemberType -in 'Property', 'Field' } | Select-Object -First 1
    if (-not $member) { return $null }
    try {
        $value = $member.GetValue($Instance)
    }
    catch { return $null }
    if ($null -eq $value) { return $null }
    if ($value -is [ValueType] -and $value -isnot [enum] -and $value -isnot [bool] -and $value -eq [Activator]::CreateInstance($value.GetType())) { return $null }
    if ($value -is [string]) { if ($value.Length -eq 0) { return $null } else { return $value } }
    if ($value -is [System.Collections.IEnumerable]) {
        $items = @($value | ForEach-Object { [System.Convert]::ToString($_, [cultureinfo]::InvariantCulture) })
        if ($items.Count -eq 0) { return $null }
        return $items -join ', '
    }
    [System.Convert]::ToString($value, [cultureinfo]::InvariantCulture)
}

# The set Get-Command marks as default; a cmdlet with one set has no marked default, so that set.
function Get-HelpDefaultSet {
    param([Parameter(Mandatory)] [object[]] $Sets)
    $marked = @($Sets | Where-Object IsDefault)
    if ($marked.Count -gt 0) { $marked[0] } else { $Sets[0] }
}

# One object describing a cmdlet for the help: its sets (with the exact Get-Command -Syntax text and parameter
# display order), and each documented parameter with the attributes MAML shows and its yaml blocks (one block
# per distinct combination of required/position/pipeline, as the PlatyPS v1 layout has them).
function Get-HelpCommandModel {
    param([Parameter(Mandatory)] [System.Management.Automation.CommandInfo] $Command)

    $instance = $null
    if ($Command -is [System.Management.Automation.CmdletInfo]) {
        # Cmdlet constructors only initialise fields; this reads the defaults the code really uses.
        try { $instance = [Activator]::CreateInstance($Command.ImplementingType) } catch { $instance = $null }
    }

    $sets = foreach ($set in $Command.ParameterSets) {
        $text = $set.ToString()
        [pscustomobject]@{
            Name          = $set.Name
            IsDefault     = $set.IsDefault
            # Exactly what 'Get-Command -Syntax' prints for this set.
            Syntax        = ("$($Command.Name) $text").Trim()
            # Get-Command's display order: positional parameters by position, then the others. Read from the
            # syntax text itself, so Get-Help lists them exactly as Get-Command does.
            ParameterOrder = @([regex]::Matches($text, '(?<=^|[\s\[])-(\w+)') | ForEach-Object { $_.Groups[1].Value } |
                    Where-Object { $_ -notin $script:HelpCommonParameters })
        }
    }
    $sets = @($sets)
    $allSetNames = @($sets | ForEach-Object Name)

    # Parameters in the order they first appear in the syntax (default set first), so positional ones lead.
    $orderedNames = [System.Collections.Generic.List[string]]::new()
    $defaultSet = Get-HelpDefaultSet $sets
    foreach ($set in @($defaultSet) + @($sets | Where-Object { $_ -ne $defaultSet })) {
        foreach ($n in $set.ParameterOrder) { if (-not $orderedNames.Contains($n)) { $orderedNames.Add($n) } }
    }
    foreach ($n in $Command.Parameters.Keys) {
        if ($n -notin $script:HelpCommonParameters -and -not $orderedNames.Contains($n)) { $orderedNames.Add($n) }
    }
    # -WhatIf and -Confirm come last, as in PowerShell's own help.
    foreach ($n in 'WhatIf', 'Confirm') {
        if ($orderedNames.Remove($n)) { $orderedNames.Add($n) }
    }

    $parameters = foreach ($name in $orderedNames) {
        $meta = $Command.Parameters[$name]
        $type = $meta.ParameterType
        $isSwitch = $type -eq [System.Management.Automation.SwitchParameter]
        $validateSet = $meta.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] } | Select-Object -First 1
        $enumType = Get-HelpEnumType $type
        $accepted = @(if ($validateSet) { $validateSet.ValidValues } elseif ($enumType) { [Enum]::GetNames($enumType) })
        $globbing = [bool]($meta.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })

        # Per-set metadata. '__AllParameterSets' means the parameter is in every set.
        $perSet = foreach ($entry in $meta.ParameterSets.GetEnumerator()) {
            $m = $entry.Value
            [pscustomobject]@{
                SetName        = $entry.Key
                Required       = [bool]$m.IsMandatory
                Position       = if ($m.Position -ge 0) { [string]$m.Position } else { 'Named' }
                ByValue        = [bool]$m.ValueFromPipeline
                ByPropertyName = [bool]$m.ValueFromPipelineByPropertyName
            }
        }
        $perSet = @($perSet)
        $setNames = @(if ($perSet.SetName -contains '__AllParameterSets') { $allSetNames } else { $perSet.SetName })
        $mandatoryEverywhere = @($perSet | Where-Object { -not $_.Required }).Count -eq 0

        # One yaml block per distinct metadata, in set order.
        $blocks = foreach ($group in $perSet | Group-Object { "$($_.Required)|$($_.Position)|$($_.ByValue)|$($_.ByPropertyName)" }) {
            $first = $group.Group[0]
            $names = @($group.Group.SetName)
            [pscustomobject]@{
                Sets          = if ($names -contains '__AllParameterSets' -or ($allSetNames.Count -eq 1 -and $names.Count -eq 1)) { @('(All)') } else { $names }
                Required      = $first.Required
                Position      = $first.Position
                PipelineInput = Format-HelpPipelineInput $first.ByValue $first.ByPropertyName
            }
        }
        $blocks = @($blocks)
        # The single value MAML's parameters section holds: required if required anywhere (that is what
        # Get-Help -Parameter shows and what the tests compare), the default set's position, every pipeline way.
        $defaultSetName = (Get-HelpDefaultSet $sets).Name
        $main = $perSet | Where-Object { $_.SetName -eq $defaultSetName -or $_.SetName -eq '__AllParameterSets' } | Select-Object -First 1
        if (-not $main) { $main = $perSet[0] }

        [pscustomobject]@{
            Name           = $name
            Type           = $type
            TypeName       = Get-HelpTypeName $type
            IsSwitch       = $isSwitch
            IsArray        = $type.IsArray
            Aliases        = @($meta.Aliases)
            AcceptedValues = $accepted
            Globbing       = $globbing
            DefaultValue   = Get-HelpDefaultValue -Instance $instance -Name $name -IsSwitch $isSwitch -MandatoryEverywhere $mandatoryEverywhere
            Required       = @($perSet | Where-Object Required).Count -gt 0
            Position       = $main.Position
            PipelineInput  = Format-HelpPipelineInput (@($perSet | Where-Object ByValue).Count -gt 0) (@($perSet | Where-Object ByPropertyName).Count -gt 0)
            SetNames       = $setNames
            PerSet         = $perSet
            Blocks         = $blocks
        }
    }

    $inputTypes = [System.Collections.Generic.List[string]]::new()
    foreach ($p in @($parameters)) {
        if (@($p.PerSet | Where-Object ByValue).Count -gt 0) {
            $fullName = $p.Type.FullName -replace '^System\.Nullable`1\[\[([^,]+),.*$', '$1'
            if (-not $inputTypes.Contains($fullName)) { $inputTypes.Add($fullName) }
        }
    }

    [pscustomobject]@{
        Name        = $Command.Name
        Verb        = ($Command.Name -split '-', 2)[0]
        Noun        = ($Command.Name -split '-', 2)[1]
        ModuleName  = $Command.ModuleName
        HelpFile    = if ($Command -is [System.Management.Automation.CmdletInfo] -and $Command.DLL) { (Split-Path -Leaf $Command.DLL) + '-Help.xml' } else { "$($Command.ModuleName)-Help.xml" }
        Sets        = $sets
        # A cmdlet with only common parameters has none here; @($null) would be one phantom parameter.
        Parameters  = @($parameters | Where-Object { $null -ne $_ })
        InputTypes  = @($inputTypes)
        OutputTypes = @($Command.OutputType | ForEach-Object { if ($_.Type) { $_.Type.FullName } else { $_.Name } } | Select-Object -Unique)
    }
}

# The yaml block of the PlatyPS v1 layout for one block of one parameter, as lines.
function Format-HelpYamlBlock {
    param([Parameter(Mandatory)] $Parameter, [Parameter(Mandatory)] $Block)
    $lines = [System.Collections.Generic.List[string]]::new()
    $lines.Add('```yaml')
    $lines.Add("Type: $($Parameter.TypeName)")
    $lines.Add("Parameter Sets: $($Block.Sets -join ', ')")
    $lines.Add("Aliases: $($Parameter.Aliases -join ', ')".TrimEnd())
    if ($Parameter.AcceptedValues.Count -gt 0) { $lines.Add("Accepted values: $($Parameter.AcceptedValues -join ', ')") }
    $lines.Add('')
    $lines.Add("Required: $($Block.Required)")
    $lines.Add("Position: $($Block.Position)")
    $lines.Add("Default value: $(if ($null -ne $Parameter.DefaultValue) { $Parameter.DefaultValue } else { 'None' })")
    $lines.Add("Accept pipeline input: $($Block.PipelineInput)")
    $lines.Add("Accept wildcard characters: $($Parameter.Globbing)")
    $lines.Add('```')
    , $lines.ToArray()
}
