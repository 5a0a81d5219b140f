# Dot-sourced by every *.Tests.ps1 (in BeforeAll and BeforeDiscovery): imports the staged module and gives the
# tests their fixtures, a throwaway network namespace and the pinned pwsh.
$ErrorActionPreference = 'Stop'
$script:RepoRoot = Split-Path $PSScriptRoot
$script:FixtureRoot = Join-Path $PSScriptRoot 'fixtures'
$script:ModulePath = if ($env:CONNTRACK_MODULE) { $env:CONNTRACK_MODULE } else { Join-Path $RepoRoot 'out/ConntrackTuning' }
. (Join-Path $RepoRoot 'tools/Common.ps1')
Import-Module $ModulePath -Force

# Every fixture tree, by name (the folder names under tests/fixtures).
function Get-FixtureName {
    Get-ChildItem $FixtureRoot -Directory | ForEach-Object Name | Sort-Object
}

# A private copy of a fixture with the file modes recorded beside it (git keeps only the executable bit, and
# the modes are what tell the engine which knobs are writable). Tests may write to the copy freely.
function Copy-Fixture {
    param([Parameter(Mandatory)] [string] $Name, [string] $Destination = (Join-Path $TestDrive ([guid]::NewGuid().ToString('n'))))
    $source = Join-Path $FixtureRoot $Name
    if (-not (Test-Path $source -PathType Container)) { throw "No fixture '$Name' under $FixtureRoot." }
    $null = New-Item -ItemType Directory -Force -Path $Destination
    # The copy's proc/ and sys/ files stand in for a kernel (a root a user names gets no run-time write): the
    # engine's test seam, inherited by the child processes the tests start.
    $prefixes = @($env:CONNTRACK_TUNING_TEST_KERNEL_ROOTS -split ':' | Where-Object { $_ })
    $full = [IO.Path]::GetFullPath($Destination)
    if (-not ($prefixes | Where-Object { $full.StartsWith($_, [StringComparison]::Ordinal) })) {
        $env:CONNTRACK_TUNING_TEST_KERNEL_ROOTS = ($prefixes + $full) -join ':'
    }
    Copy-Item -Path (Join-Path $source '*') -Destination $Destination -Recurse -Force
    $modes = Join-Path $FixtureRoot "$Name.modes"
    if (Test-Path $modes) {
        foreach ($line in Get-Content $modes) {
            if ($line -match '^\s*([0-7]{3,4})\s+(\S.*)$') {
                $target = Join-Path $Destination $Matches[2]
                if (Test-Path $target) {
                    [IO.File]::SetUnixFileMode($target, [IO.UnixFileMode][Convert]::ToInt32($Matches[1], 8))
                }
            }
        }
    }
    $Destination
}

# Why the real-kernel tests cannot run here, or $null when they can: they need Linux, root and a kernel with
# nf_conntrack, and nft plus conntrack from Debian's nftables and conntrack packages.
function Get-RealKernelSkipReason {
    if (-not $IsLinux) { return 'not Linux' }
    if ((& id -u) -ne '0') { return 'not root (run the suite as root to include the real-kernel tests)' }
    if (-not (Test-Path /proc/sys/net/netfilter/nf_conntrack_max)) { return 'this kernel has no nf_conntrack' }
    foreach ($tool in 'nft', 'conntrack', 'unshare', 'ip') {
        if (-not (Get-Command $tool -ErrorAction Ignore)) { return "'$tool' is not installed (apt-get install nftables conntrack iproute2 util-linux)" }
    }
    $null
}

# Runs a script block in a new pwsh inside a throwaway network namespace (unshare -n), with loopback up and
# the module imported, and returns what it output (through CLIXML, so types survive as deserialized objects).
# With -Track, an nft rule switches connection tracking on in that namespace first.
function Invoke-InNetns {
    param(
        [Parameter(Mandatory)] [scriptblock] $ScriptBlock,
        [object[]] $ArgumentList = @(),
        [switch] $Track
    )
    $work = Join-Path ([IO.Path]::GetTempPath()) ("ctt-netns-" + [guid]::NewGuid().ToString('n'))
    $null = New-Item -ItemType Directory -Path $work
    try {
        $resultFile = Join-Path $work 'result.clixml'
        $argsFile = Join-Path $work 'args.clixml'
        Export-Clixml -InputObject $ArgumentList -Path $argsFile -Depth 5
        $setup = @"
`$ErrorActionPreference = 'Stop'
& ip link set lo up
if (`$$([bool]$Track)) {
    "table inet ctt {``n chain o { type filter hook output priority 0; ct state new counter; }``n chain i { type filter hook input priority 0; ct state new counter; }``n}``n" | & nft -f -
    if (`$LASTEXITCODE) { throw 'nft failed to install the tracking rule' }
}
Import-Module '$ModulePath'
`$argumentList = Import-Clixml '$argsFile'
`$body = [scriptblock]::Create(@'
$($ScriptBlock.ToString())
'@)
& `$body @argumentList | Export-Clixml -Path '$resultFile' -Depth 5
"@
        $scriptFile = Join-Path $work 'run.ps1'
        Set-Content -Path $scriptFile -Value $setup
        $pwsh = Get-PwshCommand
        $env:NO_COLOR = '1'   # plain error text: escape codes in a failure message break Pester's XML report
        $output = & unshare -n -- @pwsh -NoProfile -NonInteractive -File $scriptFile 2>&1
        if ($LASTEXITCODE) { throw "The namespace script failed ($LASTEXITCODE): $($output -join "`n" -replace '\e\[[0-9;]*m')" }
        if (Test-Path $resultFile) { Import-Clixml $resultFile }
    }
    finally {
        Remove-Item $work -Recurse -Force -ErrorAction Ignore
    }
}

# Real-kernel tests of several runs (or developers) on one machine must not overlap: one may lower the global
# max while another fills a table or compares files. Every real-kernel Describe holds this machine-wide lock
# from BeforeAll to AfterAll. .NET takes an advisory flock for FileShare.None, so a second holder waits.
function Enter-ConntrackLock {
    param([int] $TimeoutSeconds = 900)
    $path = Join-Path ([IO.Path]::GetTempPath()) 'conntracktuning-realkernel.lock'
    $deadline = [datetime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ($true) {
        try {
            return [IO.File]::Open($path, [IO.FileMode]::OpenOrCreate, [IO.FileAccess]::ReadWrite, [IO.FileShare]::None)
        }
        catch [IO.IOException] {
            if ([datetime]::UtcNow -gt $deadline) { throw "Another run has held $path for $TimeoutSeconds s." }
            Start-Sleep -Milliseconds 250
        }
    }
}

# Runs a script block in a new pwsh as an unprivileged user: inside a fresh user namespace (unshare -U, no
# mapping) the process is uid 65534 with no capabilities over the host's files, yet it can still start the
# pinned pwsh under /root. The module is imported; output comes back through CLIXML.
function Invoke-Unprivileged {
    param([Parameter(Mandatory)] [scriptblock] $ScriptBlock, [object[]] $ArgumentList = @())
    $work = Join-Path ([IO.Path]::GetTempPath()) ("ctt-unpriv-" + [guid]::NewGuid().ToString('n'))
    $null = New-Item -ItemType Directory -Path $work
    [IO.File]::SetUnixFileMode($work, [IO.UnixFileMode]0x1FF)
    try {
        $resultFile = Join-Path $work 'result.clixml'
        $argsFile = Join-Path $work 'args.clixml'
        Export-Clixml -InputObject $ArgumentList -Path $argsFile -Depth 5
        $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$ModulePath'
`$argumentList = Import-Clixml '$argsFile'
`$body = [scriptblock]::Create(@'
$($ScriptBlock.ToString())
'@)
& `$body @argumentList | Export-Clixml -Path '$resultFile' -Depth 5
"@
        $scriptFile = Join-Path $work 'run.ps1'
        Set-Content -Path $scriptFile -Value $script
        Get-ChildItem $work | ForEach-Object { [IO.File]::SetUnixFileMode($_.FullName, [IO.UnixFileMode]0x1B6) }
        $pwsh = Get-PwshCommand
        $env:NO_COLOR = '1'
        $output = & unshare -U -- @pwsh -NoProfile -NonInteractive -File $scriptFile 2>&1
        if ($LASTEXITCODE) { throw "The unprivileged script failed ($LASTEXITCODE): $($output -join "`n" -replace '\e\[[0-9;]*m')" }
        if (Test-Path $resultFile) { Import-Clixml $resultFile }
    }
    finally {
        Remove-Item $work -Recurse -Force -ErrorAction Ignore
    }
}

# Every file and folder under a root with its content hash, size, mode and modification time, sorted: two equal
# states mean nothing was written, created or touched (-WhatIf must leave even the timestamps alone). -Except
# leaves out root-relative paths (a lock file held open by the test cannot be hashed).
function Get-TreeState {
    param([Parameter(Mandatory)] [string] $Root, [string[]] $Except = @())
    $skip = @($Except | ForEach-Object { Join-Path $Root $_ })
    Get-ChildItem -LiteralPath $Root -Recurse -Force | Where-Object FullName -NotIn $skip | Sort-Object FullName | ForEach-Object {
        $hash = if ($_.PSIsContainer -or $_.LinkTarget) { '' } else { (Get-FileHash -LiteralPath $_.FullName -Algorithm SHA256).Hash }
        '{0}|{1}|{2}|{3}|{4}' -f $_.FullName.Substring($Root.Length), $hash, $_.UnixFileMode, $_.LastWriteTimeUtc.Ticks, $_.LinkTarget
    }
}

# True when something accepts TCP connections on 127.0.0.1:<port>.
function Test-NetConnectionLoopback([int] $Port) {
    $client = [Net.Sockets.TcpClient]::new()
    try { $client.ConnectAsync([Net.IPAddress]::Loopback, $Port).Wait(500) -and $client.Connected }
    catch { $false }
    finally { $client.Dispose() }
}

# One line of 'conntrack -S' ("cpu=0 found=0 invalid=12 ..."): its CPU, and the counters by conntrack's names.
function ConvertFrom-ConntrackStatLine([string] $Line) {
    $values = @{}
    foreach ($m in [regex]::Matches($Line, '(\w+)=(\d+)')) { $values[$m.Groups[1].Value] = [long]$m.Groups[2].Value }
    $cpu = [int]$values['cpu']
    $values.Remove('cpu')
    [pscustomobject]@{ Cpu = $cpu; Values = $values }
}

# The fenced code blocks of a markdown file, as CommonMark reads them: a fence of three or more backticks opens
# a block (its info string is the language) and only a bare fence at least as long closes it. Line is the
# block's first code line; Closed is False for a block still open at the end of the file.
function Get-ReadmeBlock([string] $Path) {
    $lines = @(Get-Content $Path)
    $open = $null
    for ($i = 0; $i -lt $lines.Count; $i++) {
        if (-not $open) {
            if ($lines[$i] -match '^ {0,3}(`{3,})\s*([^`\s]*)') { $open = @{ Fence = $Matches[1]; Language = $Matches[2]; Start = $i + 1; Code = [Collections.Generic.List[string]]::new() } }
        }
        elseif ($lines[$i] -match '^ {0,3}(`{3,})\s*$' -and $Matches[1].Length -ge $open.Fence.Length) {
            [pscustomobject]@{ Line = $open.Start + 1; Language = $open.Language; Code = $open.Code -join "`n"; Closed = $true }
            $open = $null
        }
        else { $open.Code.Add($lines[$i]) }
    }
    if ($open) { [pscustomobject]@{ Line = $open.Start + 1; Language = $open.Language; Code = $open.Code -join "`n"; Closed = $false } }
}
