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

# ---- Filling a conntrack table for the benchmarks (inside a throwaway network namespace only) ----

# The nft rule that makes a fresh namespace track every connection it opens (a namespace tracks nothing until a
# rule asks for it).
$script:BenchTrackingRule = "table inet bench {`n chain o { type filter hook output priority 0; ct state new counter; }`n}`n"

# Makes the namespace this process is in ready to fill: loopback up, the tracking rule, and a UDP timeout long
# enough that the unreplied entries outlive the run. The timeout is per namespace; nothing global is touched.
function Initialize-BenchNamespace([int] $UdpTimeout = 3600) {
    & ip link set lo up
    if ($LASTEXITCODE) { throw 'ip link set lo up failed.' }
    $script:BenchTrackingRule | & nft -f -
    if ($LASTEXITCODE) { throw 'nft failed to install the tracking rule.' }
    # Set-Content does not write to /proc/sys files; File.WriteAllText does.
    [IO.File]::WriteAllText('/proc/sys/net/netfilter/nf_conntrack_udp_timeout', [string]$UdpTimeout)
}

# Sends one datagram from one socket (bound to $SourcePort, any port for 0) to each of $Count (address, port)
# pairs 127.$SecondOctet.x.1:10000-59999, starting at pair $From, so each makes one new unreplied entry. Only
# 127.0.0.0/8 is ever sent to.
function Add-BenchUdpEntry {
    param([Parameter(Mandatory)] [int] $Count, [int] $From = 0, [int] $SourcePort = 0, [ValidateRange(0, 255)] [int] $SecondOctet = 0)
    $udp = [Net.Sockets.UdpClient]::new([Net.IPEndPoint]::new([Net.IPAddress]::Loopback, $SourcePort))
    $payload = [byte[]](0x63, 0x74)
    try {
        for ($i = $From; $i -lt $From + $Count; $i++) {
            $address = [Net.IPAddress]::new([byte[]](127, [byte]$SecondOctet, [byte]([math]::Floor($i / 50000) + 1), 1))
            $null = $udp.Send($payload, 2, [Net.IPEndPoint]::new($address, 10000 + ($i % 50000)))
        }
    }
    finally { $udp.Dispose() }
}

function Get-BenchEntryCount { [long](Get-Content /proc/sys/net/netfilter/nf_conntrack_count) }

# Waits until the namespace's table holds at least $Expected entries (the kernel adds them asynchronously).
function Wait-BenchEntryCount([long] $Expected, [int] $Seconds = 60) {
    $deadline = [datetime]::UtcNow.AddSeconds($Seconds)
    while ((Get-BenchEntryCount) -lt $Expected) {
        if ([datetime]::UtcNow -gt $deadline) { throw "The table holds $(Get-BenchEntryCount) entries, not $Expected." }
        Start-Sleep -Milliseconds 100
    }
}

# A memory figure of this process from /proc/self/status (VmRSS, VmHWM, ...), in bytes.
function Get-BenchProcessBytes([string] $Key) { [long](((Get-Content /proc/self/status) -match "^${Key}:")[0] -replace '\D', '') * 1KB }

# Resets VmHWM to the current resident size, so the next peak measured is that of the code that follows.
function Reset-BenchPeakMemory { [IO.File]::WriteAllText('/proc/self/clear_refs', '5') }

# Why a live-table benchmark cannot run here ($null when it can): it needs Linux, root and these tools.
function Get-BenchSkipReason([string[]] $Tool) {
    if (-not $IsLinux) { return 'not Linux' }
    if ((& id -u) -ne '0') { return 'not root' }
    foreach ($t in $Tool) {
        if (-not (Get-Command $t -ErrorAction Ignore)) { return "'$t' is not installed" }
    }
    $null
}

# Runs $File again with $ArgumentList in a fresh pinned pwsh inside a throwaway network namespace (unshare -n),
# holding the machine-wide real-kernel lock of the tests meanwhile, and returns its last line of output.
function Invoke-BenchInNamespace([Parameter(Mandatory)] [string] $File, [string] $ModulePath, [string[]] $ArgumentList = @()) {
    $env:CONNTRACK_MODULE = $ModulePath   # tests/Common.ps1 imports the module from there
    . (Join-Path $PSScriptRoot '../tests/Common.ps1')
    $lock = Enter-ConntrackLock
    try {
        $pwsh = Get-PwshCommand
        $output = & unshare -n -- @pwsh -NoProfile -NonInteractive -File $File @ArgumentList
        if ($LASTEXITCODE) { throw "The namespace run of $(Split-Path -Leaf $File) failed: $output" }
    }
    finally {
        $lock.Dispose()
    }
    $output | Select-Object -Last 1
}
