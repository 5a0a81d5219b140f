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
