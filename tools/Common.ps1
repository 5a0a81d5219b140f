# Helpers shared by build.ps1, the benchmarks and the tests. Dot-source it.

function Invoke-Native {
    param([Parameter(Mandatory)] [string] $FilePath, [string[]] $ArgumentList = @(), [switch] $AllowFailure)
    & $FilePath @ArgumentList
    if ($LASTEXITCODE -and -not $AllowFailure) {
        throw "'$FilePath $($ArgumentList -join ' ')' failed with exit code $LASTEXITCODE."
    }
}

# The pwsh running this script, as a command line: the tool's apphost when it is executable, else
# 'dotnet pwsh.dll'. Child processes use it so they run on exactly the pinned PowerShell.
function Get-PwshCommand {
    $apphost = Join-Path $PSHOME 'pwsh'
    if ((Test-Path $apphost) -and ((Get-Item $apphost).UnixFileMode -band [IO.UnixFileMode]::UserExecute)) {
        return , @($apphost)
    }
    return , @([Environment]::ProcessPath, (Join-Path $PSHOME 'pwsh.dll'))
}

function Invoke-Pwsh {
    param([Parameter(Mandatory)] [string] $File, [string[]] $ArgumentList = @(), [switch] $AllowFailure)
    $pwsh = Get-PwshCommand
    $arguments = @($pwsh | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive', '-File', $File) + $ArgumentList
    Invoke-Native -FilePath $pwsh[0] -ArgumentList $arguments -AllowFailure:$AllowFailure
}

# The median of a benchmark's timings (the upper middle one of an even count).
function Get-Median([double[]] $Values) {
    $sorted = @($Values | Sort-Object)
    $sorted[[int][math]::Floor($sorted.Count / 2)]
}

# Median wall time in ms of a fresh pinned pwsh running each command (its output discarded). The commands run
# interleaved, round after round, so drift in machine load hits all alike; one round first warms the disk cache.
function Measure-PwshStart([Collections.IDictionary] $Commands, [int] $Rounds) {
    $pwsh = Get-PwshCommand
    $run = {
        param([string] $Command)
        $info = [Diagnostics.ProcessStartInfo]::new($pwsh[0])
        foreach ($a in @($pwsh | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive', '-Command', $Command)) { $info.ArgumentList.Add($a) }
        $info.RedirectStandardOutput = $true
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $p = [Diagnostics.Process]::Start($info)
        $null = $p.StandardOutput.ReadToEnd()
        $p.WaitForExit()
        $watch.Stop()
        if ($p.ExitCode) { throw "'$Command' exited with $($p.ExitCode)." }
        $watch.Elapsed.TotalMilliseconds
    }
    foreach ($c in $Commands.Values) { $null = & $run $c }
    $samples = @{}
    foreach ($name in $Commands.Keys) { $samples[$name] = [Collections.Generic.List[double]]::new() }
    for ($i = 0; $i -lt $Rounds; $i++) {
        foreach ($name in $Commands.Keys) { $samples[$name].Add((& $run $Commands[$name])) }
    }
    $medians = @{}
    foreach ($name in $Commands.Keys) { $medians[$name] = Get-Median $samples[$name] }
    $medians
}
