#Requires -Version 7.4
<#
.SYNOPSIS
Builds, tests, documents, runs and measures the ConntrackTuning module.

.DESCRIPTION
Every task needs only the .NET SDK and the tools `dotnet tool restore` brings (the pinned pwsh). Pester comes
from NuGet through tools/BuildTools.csproj, never from the PowerShell Gallery.

  Build  stages an importable module at out/ConntrackTuning (assemblies, manifest, format file, MAML help).
  Test   builds, runs the engine's xunit tests (with coverage), the Pester tests and a short fixed-seed fuzz
         run, and ends with "N passed, N failed" over all three.
  Help   regenerates out/ConntrackTuning/en-US from en-US/*.md and the compiled cmdlets.
  Run    builds and shows this machine's conntrack state, read-only.
  Bench  builds and runs every benchmark under tools/bench, printing figures.
  Fuzz   runs every fuzz target for -Seconds each with a fresh random seed (or -Seed to replay one).
  Package builds and packs out/ConntrackTuning.<version>.nupkg with PSResourceGet (a local file repository).
  Clean  removes out/ and every bin/ and obj/ folder.
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Help', 'Run', 'Bench', 'Fuzz', 'Package', 'Clean')]
    [string] $Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Pester tags to run or leave out, e.g. -ExcludeTag RealKernel on a machine where you are not root, or
    # -Tag Vm to run only the QEMU real-kernel tier (with -Tag, Test runs only the Pester tests so tagged);
    # -Tag VmGuest runs the opt-in test of pwsh inside a booted guest, which nothing else runs.
    [string[]] $Tag = @(),
    [string[]] $ExcludeTag = @(),

    # Fuzz: seconds per target, and the seed (a random one when not given, printed so a find can be replayed).
    [double] $Seconds = 60,
    [int] $Seed = (Get-Random -Maximum ([int]::MaxValue))
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$repo = $PSScriptRoot
$out = Join-Path $repo 'out'
$stage = Join-Path $out 'ConntrackTuning'
$results = Join-Path $out 'TestResults'
$packages = Join-Path $out 'packages'
$version = (Import-PowerShellDataFile (Join-Path $repo 'ConntrackTuning.psd1')).ModuleVersion
$pesterVersion = '5.7.1'

. (Join-Path $repo 'tools/Common.ps1')

function Invoke-BuildTask {
    Write-Host "Building ConntrackTuning $version ($Configuration)"
    Invoke-Native dotnet @('build', (Join-Path $repo 'src/ConntrackTuning/ConntrackTuning.csproj'),
        '-c', $Configuration, "-p:Version=$version", '--nologo', '-v', 'quiet', '-clp:ErrorsOnly')

    $bin = Join-Path $repo "src/ConntrackTuning/bin/$Configuration/net8.0"
    if (Test-Path $stage) { Remove-Item $stage -Recurse -Force }
    $null = New-Item -ItemType Directory -Force -Path $stage
    # PowerShell supplies System.Management.Automation itself; shipping the reference copy would shadow it.
    Get-ChildItem $bin -File |
        Where-Object { $_.Name -like 'ConntrackTuning*' -and $_.Extension -in '.dll', '.pdb', '.ps1xml', '.json' } |
        Copy-Item -Destination $stage
    Copy-Item (Join-Path $repo 'ConntrackTuning.psd1') $stage
    Copy-Item (Join-Path $repo 'LICENSE') $stage
    # The manifest's ReleaseNotes point at the copy shipped in the module.
    $changelog = Join-Path $repo 'CHANGELOG.md'
    if (Test-Path $changelog) { Copy-Item $changelog $stage }
    Invoke-HelpTask
    Write-Host "Staged $stage"
}

function Invoke-HelpTask {
    if (-not (Test-Path (Join-Path $stage 'ConntrackTuning.dll'))) {
        throw "Build the module first: $stage holds no ConntrackTuning.dll."
    }
    # A child process, so this session never loads the assembly it may rebuild a moment later. Under CI a yaml
    # block that contradicts the compiled cmdlet fails the build, as compiler warnings do.
    Invoke-Pwsh (Join-Path $repo 'tools/Build-Help.ps1') (@(
            '-ModulePath', $stage, '-SourcePath', (Join-Path $repo 'en-US'), '-DestinationPath', (Join-Path $stage 'en-US')) +
        $(if ($env:CI -eq 'true') { '-WarningsAsErrors' }))
}

function Restore-BuildTool {
    $pester = Join-Path $packages "pester/$pesterVersion/tools/Pester.psd1"
    if (-not (Test-Path $pester)) {
        Invoke-Native dotnet @('restore', (Join-Path $repo 'tools/BuildTools.csproj'), '--packages', $packages, '--nologo', '-v', 'quiet')
    }
    if (-not (Test-Path $pester)) { throw "Pester $pesterVersion was not restored to $pester." }
    return $pester
}

function Invoke-EngineTest {
    $trx = Join-Path $results 'engine.trx'
    Remove-Item $trx -ErrorAction Ignore
    # coverlet writes into a fresh GUID folder per run; drop the old ones so the report read is this run's.
    Get-ChildItem $results -Directory -ErrorAction Ignore | Remove-Item -Recurse -Force
    Invoke-Native dotnet @('test', (Join-Path $repo 'tests/ConntrackTuning.Engine.Tests/ConntrackTuning.Engine.Tests.csproj'),
        '-c', $Configuration, '--nologo', '-v', 'quiet', "-p:Version=$version",
        '--logger', 'trx;LogFileName=engine.trx', '--logger', 'console;verbosity=minimal',
        '--results-directory', $results,
        '--collect', 'XPlat Code Coverage', '--settings', (Join-Path $repo 'tests/coverage.runsettings')) -AllowFailure |
        Out-Host
    if (-not (Test-Path $trx)) {
        Write-Host 'xunit: the engine tests did not run (build failure?); counted as one failure.' -ForegroundColor Red
        return [pscustomobject]@{ Passed = 0; Failed = 1; Figures = @('xunit: did not run') }
    }
    $trxXml = [xml](Get-Content -Raw $trx)
    $counters = $trxXml.TestRun.ResultSummary.Counters
    $counts = [pscustomobject]@{
        Passed  = [int]$counters.passed
        Failed  = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout
        Figures = [System.Collections.Generic.List[string]]::new()
    }
    $counts.Figures.Add("xunit: $($counts.Passed) passed, $($counts.Failed) failed, $([int]$counters.notExecuted) skipped")
    $cobertura = Get-ChildItem $results -Recurse -Filter 'coverage.cobertura.xml' | Select-Object -First 1
    $counts.Figures.Add($(if ($cobertura) {
                $coverage = ([xml](Get-Content -Raw $cobertura.FullName)).coverage
                'engine line coverage: {0:N1} % ({1} of {2} lines), branch coverage: {3:N1} %' -f
                (100 * [double]$coverage.'line-rate'), $coverage.'lines-covered', $coverage.'lines-valid', (100 * [double]$coverage.'branch-rate')
            }
            else { 'engine line coverage: no coverage report was written' }))
    # CI keeps only the tail of the log: name each failure there, with the first line of its message (a CsCheck
    # property failure's message carries the seed that reproduces it).
    foreach ($result in $trxXml.TestRun.Results.UnitTestResult | Where-Object outcome -NE 'Passed' | Where-Object outcome -NE 'NotExecuted') {
        $message = "$($result.Output.ErrorInfo.Message)".Trim() -split '\r?\n' | Select-Object -First 3
        $counts.Figures.Add("  FAILED (xunit) $($result.testName): $($message -join ' | ')")
    }
    $counts.Figures | Write-Host
    return $counts
}

function Invoke-PesterTest {
    $pester = Restore-BuildTool
    $summary = Join-Path $results 'pester.json'
    Remove-Item $summary -ErrorAction Ignore
    # Opt-in tags run only when named in -Tag: VmGuest (pwsh inside an emulated guest) takes minutes of TCG.
    # (-Tag Vm,VmGuest from a shell arrives as one string.)
    $asked = @($Tag | ForEach-Object { $_ -split ',' })
    $exclude = @($ExcludeTag) + @('VmGuest' | Where-Object { $asked -notcontains $_ })
    Invoke-Pwsh (Join-Path $repo 'tools/Invoke-PesterTests.ps1') (@(
            '-PesterPath', $pester, '-ModulePath', $stage, '-TestPath', (Join-Path $repo 'tests'), '-SummaryPath', $summary) +
        $(if ($Tag) { '-Tag', ($Tag -join ',') }) + $(if ($exclude) { '-ExcludeTag', ($exclude -join ',') })) -AllowFailure |
        Out-Host
    if (-not (Test-Path $summary)) {
        Write-Host 'Pester: the run did not finish; counted as one failure.' -ForegroundColor Red
        return [pscustomobject]@{ Passed = 0; Failed = 1; Figures = @('Pester: did not finish') }
    }
    $counts = Get-Content -Raw $summary | ConvertFrom-Json
    $figures = @("Pester: $($counts.Passed) passed, $($counts.Failed) failed, $($counts.Skipped) skipped") +
        @($counts.FailedNames | ForEach-Object { "  FAILED (Pester) $_" })
    $figures | Write-Host
    return [pscustomobject]@{ Passed = $counts.Passed; Failed = $counts.Failed; Figures = $figures }
}

# Each target counts as one test: passed when the run found no crash.
function Invoke-FuzzRun([double] $SecondsPerTarget, [int] $FuzzSeed) {
    $output = Invoke-Native dotnet @('run', '--project', (Join-Path $repo 'tests/ConntrackTuning.Fuzz/ConntrackTuning.Fuzz.csproj'),
        '-c', $Configuration, '--', '--seconds', $SecondsPerTarget, '--seed', $FuzzSeed) -AllowFailure
    $output | Write-Host
    # One line per target ("name: N executions in S s, no crash"), then the "fuzz:" total.
    $targets = @($output | Where-Object { $_ -match '^[\w-]+: \d+ executions' -and $_ -notmatch '^fuzz:' })
    $crashed = @($targets | Where-Object { $_ -cmatch 'CRASH' }).Count
    if ($targets.Count -eq 0) {
        Write-Host 'fuzz: the fuzzer did not run; counted as one failure.' -ForegroundColor Red
        return [pscustomobject]@{ Passed = 0; Failed = 1; Figures = @('fuzz: did not run') }
    }
    $total = @($output | Where-Object { $_ -match '^fuzz: ' }) | Select-Object -Last 1
    [pscustomobject]@{ Passed = $targets.Count - $crashed; Failed = $crashed; Figures = @($total) }
}

function Invoke-FuzzTask {
    Invoke-FuzzRun $Seconds $Seed | Out-Null
}

function Invoke-TestTask {
    Invoke-BuildTask
    $null = New-Item -ItemType Directory -Force -Path $results
    # -Tag picks Pester tests (such as -Tag Vm, the real-kernel VM tier): only those run, without xunit and fuzz.
    $runs = if ($Tag) { @(Invoke-PesterTest) } else { @(Invoke-EngineTest; Invoke-PesterTest; Invoke-FuzzRun 2 1) }
    $passed = ($runs | Measure-Object -Property Passed -Sum).Sum
    $failed = ($runs | Measure-Object -Property Failed -Sum).Sum
    # The figures again in one block, so the end of a CI log says everything without scrolling.
    Write-Host ''
    Write-Host '== figures'
    foreach ($figure in $runs.Figures) { Write-Host "   $figure" }
    Write-Host "$passed passed, $failed failed"
    if ($failed -gt 0) { exit 1 }
}

function Invoke-RunTask {
    Invoke-BuildTask
    Invoke-Pwsh (Join-Path $repo 'tools/Show-ConntrackState.ps1') @('-ModulePath', $stage)
}

function Invoke-BenchTask {
    Invoke-BuildTask
    foreach ($bench in Get-ChildItem (Join-Path $repo 'tools/bench') -Filter '*.Bench.ps1' | Sort-Object Name) {
        Write-Host "== $($bench.BaseName)"
        Invoke-Pwsh $bench.FullName @('-ModulePath', $stage)
    }
}

function Invoke-PackageTask {
    Invoke-BuildTask
    $packageHome = Join-Path $out 'package-home'
    # The data and config folders must exist: .NET reports a missing one as "", and PSResourceGet then writes
    # its repository store and NuGet settings relative to the current directory.
    $null = New-Item -ItemType Directory -Force -Path (Join-Path $packageHome '.local/share'), (Join-Path $packageHome '.config')
    # Isolated HOME: the throwaway repository registration lands there, not in the user's configuration.
    $saved = $env:HOME, $env:XDG_DATA_HOME, $env:XDG_CONFIG_HOME
    try {
        $env:HOME = $packageHome; $env:XDG_DATA_HOME = Join-Path $packageHome '.local/share'; $env:XDG_CONFIG_HOME = Join-Path $packageHome '.config'
        Invoke-Pwsh (Join-Path $repo 'tools/New-ModulePackage.ps1') @('-ModulePath', $stage, '-OutputPath', $out)
    }
    finally {
        $env:HOME, $env:XDG_DATA_HOME, $env:XDG_CONFIG_HOME = $saved
    }
}

function Invoke-CleanTask {
    Remove-Item $out -Recurse -Force -ErrorAction Ignore
    Get-ChildItem $repo -Directory -Recurse -Include bin, obj |
        Where-Object { $_.FullName -notlike "$out*" } |
        Remove-Item -Recurse -Force
}

switch ($Task) {
    'Build' { Invoke-BuildTask }
    'Test' { Invoke-TestTask }
    'Help' { Invoke-HelpTask }
    'Run' { Invoke-RunTask }
    'Bench' { Invoke-BenchTask }
    'Fuzz' { Invoke-FuzzTask }
    'Package' { Invoke-PackageTask }
    'Clean' { Invoke-CleanTask }
}
