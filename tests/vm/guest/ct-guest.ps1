# Runs inside a booted guest (ct-guest starts it with the host's pwsh and .NET runtime): the live paths of a
# loadable tracker that the host's built-in 6.18 cannot show, each call timed. Prints key=value lines into the
# report block; the tier asserts them against the kernel's own values, which ct-guest prints around this script.
param([Parameter(Mandatory)] [long] $StartedMs, [Parameter(Mandatory)] [string] $ModulePath)
$startup = [DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds() - $StartedMs
$ErrorActionPreference = 'Stop'

# Console writes only: Write-Output and Write-Host live in Microsoft.PowerShell.Utility, whose autoload would be
# counted against the first cmdlet.
function Out-Report([string] $Key, [object] $Value) {
    [Console]::WriteLine("$Key=$(([string]$Value) -replace '\r?\n', ' ')")
}

$script:failures = 0
# Runs one call with a stopwatch; an error is printed (the tier shows it in the failing assertion) and counted.
function Measure-Call([string] $Name, [scriptblock] $Body) {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $warnings = $null
    try {
        $result = . $Body
    }
    catch {
        $script:failures++
        Out-Report "${Name}_error" "$($_.FullyQualifiedErrorId): $($_.Exception.Message)"
        $result = $null
    }
    Out-Report "${Name}_ms" $watch.ElapsedMilliseconds
    if ($warnings) { Out-Report "${Name}_warnings" ($warnings -join ' / ') }
    $result
}

function Out-Change([string] $Prefix, $Change) {
    if (-not $Change) { return }
    Out-Report "${Prefix}_path" $Change.Path
    Out-Report "${Prefix}_mode" $Change.Mode
    Out-Report "${Prefix}_old" $Change.OldValue
    Out-Report "${Prefix}_new" $Change.NewValue
    Out-Report "${Prefix}_changed" $Change.Changed
    Out-Report "${Prefix}_runtime_changed" $Change.RuntimeChanged
    Out-Report "${Prefix}_persistence_changed" $Change.PersistenceChanged
    Out-Report "${Prefix}_persisted_to" ($Change.PersistedTo -join ',')
    Out-Report "${Prefix}_next_boot" $Change.NextBootValue
}

Out-Report pwsh_start_ms $startup
Out-Report pwsh_version $PSVersionTable.PSVersion
Out-Report dotnet_version ([Environment]::Version)

$null = Measure-Call import { Import-Module $ModulePath }
$kernel = Measure-Call kernel { Get-ConntrackKernel }
if ($kernel) {
    Out-Report kernel_root_kind $kernel.RootKind
    Out-Report kernel_release $kernel.KernelRelease
    Out-Report kernel_module_state $kernel.ModuleState
    Out-Report kernel_can_set_hash $kernel.CanSetHashSize
}
# The max first: with a persisted max, the hash size given at the next module load does not set it to 8 x.
Out-Change limit (Measure-Call limit { Set-ConntrackLimit -Max 131072 -Persist -PassThru -WarningVariable warnings -WarningAction SilentlyContinue })
# 100000 is not a whole number of pages of bucket heads: the kernel rounds it, and the module must read that back.
Out-Change hash (Measure-Call hash { Set-ConntrackHashSize -HashSize 100000 -Persist -PassThru -WarningVariable warnings -WarningAction SilentlyContinue })
Out-Change limit_rerun (Measure-Call limit_rerun { Set-ConntrackLimit -Max 131072 -Persist -PassThru })
Out-Change hash_rerun (Measure-Call hash_rerun { Set-ConntrackHashSize -HashSize 100000 -Persist -PassThru -WarningAction SilentlyContinue })
$read = Measure-Call read { Get-ConntrackLimit }
if ($read) {
    Out-Report read_max $read.Max
    Out-Report read_hash $read.HashSize
    Out-Report read_next_max $read.NextBootMax
    Out-Report read_next_hash $read.NextBootHashSize
    Out-Report read_persisted_max $read.PersistedMax
    Out-Report read_persisted_max_source $read.PersistedMaxSource
    Out-Report read_persisted_hash $read.PersistedHashSize
    Out-Report read_persisted_hash_source $read.PersistedHashSizeSource
    Out-Report read_drift $read.Drift
}
Out-Report failures $failures
