# Packs the staged module into a versioned .nupkg with PSResourceGet (Publish-PSResource to a local file
# repository). Runs in a child pwsh whose HOME and XDG_DATA_HOME point into the output folder, so registering
# the temporary repository never touches the user's own PSResourceGet configuration.
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutputPath
)
$ErrorActionPreference = 'Stop'
$manifest = Import-PowerShellDataFile (Join-Path $ModulePath 'ConntrackTuning.psd1')
$repo = Join-Path $OutputPath 'repo'
$null = New-Item -ItemType Directory -Force -Path $repo
Get-ChildItem $repo -Filter 'ConntrackTuning.*.nupkg' | Remove-Item

Register-PSResourceRepository -Name ConntrackTuningBuild -Uri $repo -Trusted -Force
try {
    Publish-PSResource -Path $ModulePath -Repository ConntrackTuningBuild
}
finally {
    Unregister-PSResourceRepository -Name ConntrackTuningBuild
}

$package = Get-ChildItem $repo -Filter "ConntrackTuning.$($manifest.ModuleVersion).nupkg"
if (-not $package) { throw "Publish-PSResource wrote no ConntrackTuning.$($manifest.ModuleVersion).nupkg to $repo." }
Copy-Item $package.FullName $OutputPath
Join-Path $OutputPath $package.Name
