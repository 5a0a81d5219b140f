# What one run of a metrics timer costs on this machine: Export-ConntrackMetric -Path in a warm session (with the
# time of each source, from its own export_source_duration_seconds), and a whole timer run, a fresh pwsh that
# imports the module and writes the file, against a bare pwsh start. Medians of wall time; the file goes to a
# temporary folder that is removed afterwards.
param([Parameter(Mandatory)] [string] $ModulePath, [int] $Runs = 21)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../Common.ps1')
Import-Module $ModulePath

$dir = Join-Path ([IO.Path]::GetTempPath()) ("ctt-metric-bench-" + [guid]::NewGuid().ToString('n'))
$null = New-Item -ItemType Directory -Path $dir
try {
    $path = Join-Path $dir 'conntrack.prom'
    $null = Export-ConntrackMetric -Path $path -WarningAction SilentlyContinue
    $warm = [Collections.Generic.List[double]]::new()
    $sources = @{}
    for ($i = 0; $i -lt $Runs; $i++) {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $samples = Export-ConntrackMetric -Path $path -PassThru -WarningAction SilentlyContinue
        $watch.Stop()
        $warm.Add($watch.Elapsed.TotalMilliseconds)
        foreach ($s in $samples | Where-Object Name -eq 'conntrack_tuning_export_source_duration_seconds') {
            if (-not $sources.ContainsKey($s.Labels['source'])) { $sources[$s.Labels['source']] = [Collections.Generic.List[double]]::new() }
            $sources[$s.Labels['source']].Add($s.Value * 1000)
        }
    }
    $size = (Get-Item $path).Length
    $lines = @(Get-Content $path).Count

    $commands = [ordered]@{
        bare  = 'exit'
        timer = "Import-Module '$ModulePath'; Export-ConntrackMetric -Path '$path' -WarningAction SilentlyContinue"
    }
    $rounds = [math]::Max(5, [int]($Runs / 2))
    $cold = Measure-PwshStart $commands $rounds

    "Export-ConntrackMetric -Path on this machine: $lines lines, $size bytes"
    '  warm session, median of {0} runs: {1,8:N1} ms' -f $Runs, (Get-Median $warm)
    foreach ($source in $sources.Keys | Sort-Object) { '    {0,-12} {1,8:N1} ms' -f $source, (Get-Median $sources[$source]) }
    '  a timer run (fresh pwsh, import, export), median of {0}: {1,8:N1} ms; a bare pwsh start: {2,8:N1} ms' -f $rounds, $cold.timer, $cold.bare
}
finally {
    Remove-Item $dir -Recurse -Force -ErrorAction Ignore
}
