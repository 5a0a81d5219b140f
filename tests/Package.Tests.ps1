# The package a gallery would serve: packed with PSResourceGet, installed with Install-PSResource into a
# throwaway HOME, imported by name in a fresh pwsh. Every pwsh here runs with that HOME, so neither the
# repository registration nor the installed module touches the user's own configuration.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')

    function Invoke-IsolatedPwsh([string] $HomePath, [string] $Command) {
        $pwsh = Get-PwshCommand
        $saved = $env:HOME, $env:XDG_DATA_HOME, $env:XDG_CONFIG_HOME, $env:PSModulePath
        try {
            $env:HOME = $HomePath
            $env:XDG_DATA_HOME = Join-Path $HomePath '.local/share'
            $env:XDG_CONFIG_HOME = Join-Path $HomePath '.config'
            $env:PSModulePath = $null
            $env:NO_COLOR = '1'
            $output = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command $Command 2>&1
            if ($LASTEXITCODE) { throw "pwsh failed ($LASTEXITCODE): $($output -join "`n")" }
            $output
        }
        finally {
            $env:HOME, $env:XDG_DATA_HOME, $env:XDG_CONFIG_HOME, $env:PSModulePath = $saved
        }
    }

    $script:version = (Import-PowerShellDataFile (Join-Path $ModulePath 'ConntrackTuning.psd1')).ModuleVersion
    $script:isolatedHome = Join-Path $TestDrive 'home'
    $script:out = Join-Path $TestDrive 'out'
    # .local/share must exist, or .NET reports no data folder and PSResourceGet writes to the current directory.
    $null = New-Item -ItemType Directory -Path (Join-Path $isolatedHome '.local/share'), (Join-Path $isolatedHome '.config'), $out
    $script:package = Invoke-IsolatedPwsh $isolatedHome "& '$RepoRoot/tools/New-ModulePackage.ps1' -ModulePath '$ModulePath' -OutputPath '$out'" |
        Select-Object -Last 1
}

Describe 'The ConntrackTuning package' {
    It 'is a versioned .nupkg carrying what a gallery needs' {
        $package | Should -Be (Join-Path $out "ConntrackTuning.$version.nupkg")
        $package | Should -Exist
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [IO.Compression.ZipFile]::OpenRead($package)
        try {
            $names = $zip.Entries.FullName
            $names | Should -Contain 'ConntrackTuning.psd1'
            $names | Should -Contain 'ConntrackTuning.dll'
            $names | Should -Contain 'ConntrackTuning.Engine.dll'
            $names | Should -Contain 'ConntrackTuning.Format.ps1xml'
            $names | Should -Contain 'en-US/ConntrackTuning.dll-Help.xml'
            $reader = [IO.StreamReader]::new($zip.GetEntry('ConntrackTuning.nuspec').Open())
            $nuspec = [xml]$reader.ReadToEnd()
            $reader.Dispose()
        }
        finally { $zip.Dispose() }
        $meta = $nuspec.package.metadata
        $meta.version | Should -Be $version
        $meta.tags -split ' ' | Should -Contain 'Linux'
        $meta.tags -split ' ' | Should -Contain 'PSEdition_Core'
        # No public repository exists, so the package names none (issue 13): the licence and the release notes
        # travel inside it instead.
        $meta.projectUrl | Should -BeNullOrEmpty
        $names | Should -Contain 'LICENSE'
        $names | Should -Contain 'CHANGELOG.md'
        $meta.releaseNotes | Should -Match 'CHANGELOG\.md' 
        $meta.description | Should -Match 'conntrack'
    }

    It 'carries one version: the manifest''s, stamped into both assemblies by the build' {
        # ConntrackTuning.psd1 is the one place the version is written; build.ps1 passes it to the compiler.
        $source = (Import-PowerShellDataFile (Join-Path $RepoRoot 'ConntrackTuning.psd1')).ModuleVersion
        $version | Should -Be $source
        foreach ($assembly in 'ConntrackTuning.dll', 'ConntrackTuning.Engine.dll') {
            $name = [Reflection.AssemblyName]::GetAssemblyName((Join-Path $ModulePath $assembly))
            "$($name.Version.Major).$($name.Version.Minor).$($name.Version.Build)" | Should -Be $source -Because $assembly
            [Diagnostics.FileVersionInfo]::GetVersionInfo((Join-Path $ModulePath $assembly)).ProductVersion | Should -BeLike "$source*" -Because $assembly
        }
    }

    It 'installs with Install-PSResource and works from the installed copy in a fresh pwsh' {
        $fixture = Copy-Fixture linux-6.18-builtin
        $repo = Join-Path $out 'repo'
        $null = Invoke-IsolatedPwsh $isolatedHome @"
Register-PSResourceRepository -Name Local -Uri '$repo' -Trusted
Install-PSResource -Name ConntrackTuning -Repository Local -Scope CurrentUser -TrustRepository
"@
        $result = Invoke-IsolatedPwsh $isolatedHome @"
`$limit = Get-ConntrackLimit -Root '$fixture'
`$help = Get-Help Get-ConntrackLimit
`$module = Get-Module ConntrackTuning
@{ Base = `$module.ModuleBase; Version = "`$(`$module.Version)"; Max = `$limit.Max
   Stub = `$help.PSObject.TypeNames -contains 'ExtendedCmdletHelpInfo'; Synopsis = `$help.Synopsis } | ConvertTo-Json -Compress
"@
        $installed = $result | Select-Object -Last 1 | ConvertFrom-Json
        $base, $installedVersion, $max, $stub, $synopsis = $installed.Base, $installed.Version, $installed.Max, $installed.Stub, $installed.Synopsis
        $base | Should -BeLike "$isolatedHome/*ConntrackTuning*"
        $installedVersion | Should -Be $version
        $max | Should -Be 262144
        $stub | Should -BeFalse
        $synopsis | Should -Not -BeNullOrEmpty
    }
}
