BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

# The help tests iterate the exported cmdlets, so a cmdlet class missing from CmdletsToExport would escape them
# and every other check silently: the manifest is compared with the compiled assembly itself.
Describe 'The staged module manifest' {
    BeforeAll {
        $script:manifestPath = Join-Path $ModulePath 'ConntrackTuning.psd1'
        $script:manifest = Import-PowerShellDataFile $manifestPath
        $assembly = (Get-Module ConntrackTuning).ImplementingAssembly
        $script:compiled = @($assembly.GetExportedTypes() |
            ForEach-Object { $_.GetCustomAttributes([Management.Automation.CmdletAttribute], $false) } |
            ForEach-Object { "$($_.VerbName)-$($_.NounName)" } | Sort-Object)
    }

    It 'is the top-level manifest, staged unchanged' {
        Get-FileHash $manifestPath | Select-Object -ExpandProperty Hash |
            Should -Be (Get-FileHash (Join-Path $RepoRoot 'ConntrackTuning.psd1')).Hash
    }

    It 'names every compiled cmdlet explicitly in CmdletsToExport, without wildcards, and nothing else' {
        $compiled.Count | Should -BeGreaterThan 1
        $listed = @($manifest.CmdletsToExport)
        $listed | Where-Object { $_ -match '[*?\[]' } | Should -BeNullOrEmpty
        @($listed | Sort-Object) | Should -Be $compiled
    }

    It 'exports exactly those cmdlets, with approved verbs, and no functions, aliases or variables by wildcard' {
        @((Get-Command -Module ConntrackTuning -CommandType Cmdlet).Name | Sort-Object) | Should -Be $compiled
        $approved = (Get-Verb).Verb
        $compiled | ForEach-Object { ($_ -split '-')[0] } | Where-Object { $_ -notin $approved } | Should -BeNullOrEmpty
        foreach ($key in 'FunctionsToExport', 'AliasesToExport', 'VariablesToExport') {
            @($manifest[$key]) | Where-Object { $_ -match '[*?]' } | Should -BeNullOrEmpty -Because "$key must not export by wildcard"
        }
    }

    It 'imports from a fresh pwsh by its folder path' {
        $pwsh = Get-PwshCommand
        $arguments = @($pwsh | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive', '-Command',
            "Import-Module '$ModulePath' -ErrorAction Stop; (Get-Command -Module ConntrackTuning).Count")
        $count = & $pwsh[0] @arguments
        $LASTEXITCODE | Should -Be 0
        [int]$count | Should -Be $compiled.Count
    }
}
