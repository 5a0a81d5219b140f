# Runs the Pester suite in this (child) pwsh against the staged module and writes the counts as JSON for
# build.ps1 to add to the xunit counts.
param(
    [Parameter(Mandatory)] [string] $PesterPath,
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $TestPath,
    [Parameter(Mandatory)] [string] $SummaryPath,
    [string] $Tag,
    [string] $ExcludeTag
)
$ErrorActionPreference = 'Stop'
Import-Module $PesterPath
$env:CONNTRACK_MODULE = $ModulePath

$config = New-PesterConfiguration
$config.Run.Path = $TestPath
$config.Run.PassThru = $true
# Normal lists each failure in full and skips the passing tests: a CI log stays readable.
$config.Output.Verbosity = 'Normal'
$config.TestResult.Enabled = $true
$config.TestResult.OutputFormat = 'NUnitXml'
$config.TestResult.OutputPath = Join-Path (Split-Path $SummaryPath) 'pester.xml'
if ($Tag) { $config.Filter.Tag = $Tag -split ',' }
if ($ExcludeTag) { $config.Filter.ExcludeTag = $ExcludeTag -split ',' }

try {
    $result = Invoke-Pester -Configuration $config
    # A failing BeforeAll or a file that does not parse fails a block or container, not a test; count those too.
    $summary = [ordered]@{
        Passed  = $result.PassedCount
        Failed  = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
        Skipped = $result.SkippedCount
    }
}
catch {
    # Pester itself broke (a report it could not write, say): that must not pass as a green run.
    Write-Host "Pester failed: $_" -ForegroundColor Red
    $summary = [ordered]@{ Passed = 0; Failed = 1; Skipped = 0 }
}
$summary | ConvertTo-Json | Set-Content -Path $SummaryPath
