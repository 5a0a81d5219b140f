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
        # build.ps1 repeats these at the end of the log, where CI's tail can show them.
        FailedNames = @(@($result.Failed | ForEach-Object { "$($_.ExpandedPath): $(if ($_.ErrorRecord) { @($_.ErrorRecord)[0].Exception.Message -split '\r?\n' | Select-Object -First 1 } else { '(its block failed)' })" }) +
            @($result.FailedBlocks | ForEach-Object { "$($_.ExpandedPath) (block): $(@($_.ErrorRecord)[0].Exception.Message -split '\r?\n' | Select-Object -First 1)" }) +
            @($result.FailedContainers | ForEach-Object { "$($_.Item) (file): $(@($_.ErrorRecord)[0].Exception.Message -split '\r?\n' | Select-Object -First 1)" }))
    }
}
catch {
    # Pester itself broke (a report it could not write, say): that must not pass as a green run.
    Write-Host "Pester failed: $_" -ForegroundColor Red
    $summary = [ordered]@{ Passed = 0; Failed = 1; Skipped = 0; FailedNames = @("Pester itself: $_") }
}
$summary | ConvertTo-Json | Set-Content -Path $SummaryPath
