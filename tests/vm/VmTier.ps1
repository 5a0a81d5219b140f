# Dot-sourced by tests/Vm.Tests.ps1: runs the VM tier's shell scripts and turns what real kernels printed on the
# serial console back into root trees (laid out like tests/fixtures: files plus a .modes list).
$script:VmDir = $PSScriptRoot
$script:VmCache = if ($env:CT_VM_CACHE) { $env:CT_VM_CACHE } else { '/var/cache/conntracktuning-vm' }
$script:VmTimings = [System.Collections.Generic.List[object]]::new()

# Why the tier cannot run here, or $null: QEMU, busybox-static, mmdebstrap and the machine's Debian mirror.
function Get-VmSkipReason {
    if (-not $IsLinux) { return 'not Linux' }
    if ((& id -u) -ne '0') { return 'not root (mmdebstrap and the image trees need root)' }
    foreach ($tool in 'qemu-system-x86_64', 'mmdebstrap', 'mke2fs', 'dpkg-deb', 'cpio', 'depmod', 'flock') {
        if (-not (Get-Command $tool -ErrorAction Ignore)) {
            return "'$tool' is not installed (.ci/run installs qemu-system-x86 busybox-static mmdebstrap e2fsprogs cpio kmod)"
        }
    }
    if (-not (Test-Path /bin/busybox) -or -not ((& /bin/busybox --list) -contains 'insmod')) { return 'busybox-static is not installed' }
    if (-not (Test-Path /usr/share/keyrings/debian-archive-keyring.gpg)) { return 'debian-archive-keyring is not installed' }
    $mirror = & bash -c ". '$VmDir/common.sh' && vm_mirror" 2>$null
    if (-not $mirror) { return "the machine's apt configuration names no Debian mirror" }
    # One small request tells whether the suites can be reached at all (the tier downloads only what it lacks).
    $probe = & curl -fsS -o /dev/null -m 15 -w '%{http_code}' "$mirror/dists/bookworm/Release" 2>$null
    if ($LASTEXITCODE -ne 0 -and -not (Test-Path (Join-Path $VmCache 'kernels'))) { return "the Debian suites cannot be reached at the machine's mirror ($probe)" }
    $null
}

# Runs one of the tier's scripts, times it, and returns its standard output lines; a failure throws with its log.
function Invoke-VmStep {
    param([Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] [string] $Script, [string[]] $ArgumentList = @())
    $log = Join-Path ([IO.Path]::GetTempPath()) ("ctvm-" + [guid]::NewGuid().ToString('n') + '.log')
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $env:CT_VM_CACHE = $VmCache
    $out = & bash (Join-Path $VmDir $Script) @ArgumentList 2>$log
    $code = $LASTEXITCODE
    $watch.Stop()
    $VmTimings.Add([pscustomobject]@{ Step = $Name; Seconds = [math]::Round($watch.Elapsed.TotalSeconds, 1) })
    try {
        if ($code -ne 0) { throw "$Name failed ($Script exit $code): $((Get-Content $log -Tail 15) -join "`n")" }
        @($out)
    }
    finally { Remove-Item $log -ErrorAction Ignore }
}

# The kernels: "<suite> <release> <package version> <folder>" per line from kernels.sh.
function Get-VmKernel {
    foreach ($line in Invoke-VmStep -Name 'kernels (apt, dpkg-deb)' -Script 'kernels.sh') {
        $suite, $release, $version, $folder = $line -split ' ', 4
        [pscustomobject]@{ Suite = $suite; Release = $release; PackageVersion = $version; Folder = $folder }
    }
}

# Splits one serial log of capture-init into a tree per CT-CAPTURE block. Each tree holds the files with the
# modes the kernel gave them, and a .modes list beside it (the fixtures' layout, so a capture can be committed).
function ConvertFrom-VmCaptureLog {
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] [string] $Destination, [Parameter(Mandatory)] [string] $Prefix)
    $lines = [IO.File]::ReadAllLines($Path)
    $trees = @()
    $tree = $null; $file = $null; $content = $null; $modes = $null
    foreach ($raw in $lines) {
        # The console may put a carriage return or terminal resets before a marker.
        $line = $raw.TrimEnd("`r")
        if ($line -match 'CT-CAPTURE-BEGIN (\S+)$') {
            $variant = $Matches[1] -replace '=', '-'
            $tree = Join-Path $Destination "$Prefix-$variant"
            if (Test-Path $tree) { Remove-Item $tree -Recurse -Force }
            $null = New-Item -ItemType Directory -Path $tree
            $modes = [System.Collections.Generic.List[string]]::new()
            $trees += [pscustomobject]@{ Root = $tree; Variant = $Matches[1]; HashSizeAsked = if ($Matches[1] -match '^hashsize=(\d+)$') { [long]$Matches[1] } else { $null } }
            continue
        }
        if (-not $tree) { continue }
        if ($line -match '^CT-FILE (\d{3,4}) (\S+)$') {
            $file = $Matches[2]; $mode = $Matches[1]; $content = [System.Collections.Generic.List[string]]::new()
            continue
        }
        if ($line -eq 'CT-FILE-END' -and $file) {
            $target = Join-Path $tree $file
            $null = New-Item -ItemType Directory -Force -Path (Split-Path $target)
            [IO.File]::WriteAllText($target, (($content -join "`n") + "`n"))
            [IO.File]::SetUnixFileMode($target, [IO.UnixFileMode][Convert]::ToInt32($mode, 8))
            $modes.Add("$mode $file")
            $file = $null
            continue
        }
        if ($line -match '^CT-CAPTURE-END ') {
            [IO.File]::WriteAllLines("$tree.modes", [string[]]($modes | Sort-Object { $_.Substring(4) }))
            $tree = $null
            continue
        }
        if ($file) { $content.Add($line) }
    }
    $trees
}

# One value file of a capture tree as a number.
function Get-VmValue {
    param([Parameter(Mandatory)] [string] $Root, [Parameter(Mandatory)] [string] $Relative)
    [long]((Get-Content -Raw (Join-Path $Root $Relative)).Trim())
}

# The key=value lines a report unit printed between CT-REPORT-BEGIN and CT-REPORT-END.
function Read-VmReport {
    param([Parameter(Mandatory)] [string] $Path)
    $report = [ordered]@{}
    $inside = $false
    foreach ($raw in [IO.File]::ReadAllLines($Path)) {
        $line = $raw.TrimEnd("`r")
        if ($line -match 'CT-REPORT-BEGIN$') { $inside = $true; continue }
        if ($line -match '^CT-REPORT-END') { break }
        if ($inside -and $line -match '^([a-z_]+)=(.*)$') { $report[$Matches[1]] = $Matches[2] }
    }
    [pscustomobject]$report
}

# A private copy of a cached image tree to change and boot (the cache stays as mmdebstrap built it).
function Copy-VmImage {
    param([Parameter(Mandatory)] [string] $Image, [Parameter(Mandatory)] [string] $Name)
    $dest = Join-Path ([IO.Path]::GetTempPath()) "ctvm-$Name-$([guid]::NewGuid().ToString('n').Substring(0, 8))"
    & cp -a --reflink=auto $Image $dest
    if ($LASTEXITCODE -ne 0) { throw "cp -a $Image $dest failed" }
    $dest
}

# A part of a step already timed (one boot of several, a figure the guest measured): shown, left out of the total.
function Add-VmPartTiming {
    param([Parameter(Mandatory)] [string] $Step, [Parameter(Mandatory)] [double] $Seconds)
    $VmTimings.Add([pscustomobject]@{ Step = $Step; Seconds = [math]::Round($Seconds, 1); Part = $true })
}

# Copies a file or folder as hard links where it can (this tree only adds files beside them, and hard links keep
# a shared machine's disk free), else as a plain copy (another file system, such as a cache on its own mount).
function Copy-VmLinked {
    param([Parameter(Mandatory)] [string] $Source, [Parameter(Mandatory)] [string] $Destination)
    # The fallback removes what a failed cp -al left: only ever a new absolute path.
    if (-not [IO.Path]::IsPathRooted($Destination) -or (Test-Path -LiteralPath $Destination)) { throw "Copy-VmLinked: $Destination must be a new absolute path" }
    & cp -al $Source $Destination 2>$null
    if ($LASTEXITCODE -eq 0) { return }
    Remove-Item $Destination -Recurse -Force -ErrorAction Ignore
    & cp -a $Source $Destination
    if ($LASTEXITCODE -ne 0) { throw "cp -a $Source $Destination failed" }
}

# A copy of an image with what pwsh needs inside the guest, all taken from this machine: the .NET runtime this
# pwsh runs on (the muxer, hostfxr and Microsoft.NETCore.App of that version), the pwsh tool's own files
# ($PSHOME) and the staged module, under /opt/ctvm; and guest/ct-guest with its unit, enabled for the first boot.
# Nothing in it is changed in place (only new files are added), so the image and the runtime are linked, not
# copied: the guest writes to its disk image, never to this tree.
function New-VmGuestTree {
    param([Parameter(Mandatory)] [string] $Image, [Parameter(Mandatory)] [string] $ModulePath)
    $tree = Join-Path ([IO.Path]::GetTempPath()) "ctvm-guest-$([guid]::NewGuid().ToString('n').Substring(0, 8))"
    Copy-VmLinked $Image $tree
    $runtime = [Runtime.InteropServices.RuntimeEnvironment]::GetRuntimeDirectory().TrimEnd('/')
    $dotnetRoot = Split-Path (Split-Path (Split-Path $runtime))
    $opt = Join-Path $tree 'opt/ctvm'
    $framework = Join-Path $opt 'dotnet/shared/Microsoft.NETCore.App'
    $null = New-Item -ItemType Directory -Force -Path $framework, (Join-Path $opt 'dotnet/host')
    # Source and destination pairs, built with the comma operator: inside @() each pair would be unrolled into its
    # two strings.
    $copies = @(
        , @((Join-Path $dotnetRoot 'dotnet'), (Join-Path $opt 'dotnet/dotnet'))
        , @((Join-Path $dotnetRoot 'host/fxr'), (Join-Path $opt 'dotnet/host/fxr'))
        , @($runtime, (Join-Path $framework (Split-Path -Leaf $runtime)))
        , @($PSHOME.TrimEnd('/'), (Join-Path $opt 'pwsh'))
        , @($ModulePath.TrimEnd('/'), (Join-Path $opt 'ConntrackTuning'))
        , @((Join-Path $VmDir 'guest/ct-guest.ps1'), (Join-Path $opt 'ct-guest.ps1'))
        , @((Join-Path $VmDir 'guest/ct-guest'), (Join-Path $tree 'usr/local/sbin/ct-guest'))
        , @((Join-Path $VmDir 'guest/ct-guest.service'), (Join-Path $tree 'etc/systemd/system/ct-guest.service')))
    foreach ($pair in $copies) {
        if ($pair.Count -ne 2 -or -not [IO.Path]::IsPathRooted($pair[0]) -or -not $pair[1].StartsWith($tree, [StringComparison]::Ordinal)) {
            throw "New-VmGuestTree: refusing to copy '$($pair[0])' to '$($pair[1])' (both must be absolute, the target inside $tree)"
        }
        if (-not (Test-Path $pair[0])) { throw "New-VmGuestTree: $($pair[0]) is missing (the pwsh of this machine runs on $runtime)" }
        Copy-VmLinked $pair[0] $pair[1]
    }
    & ln -s /etc/systemd/system/ct-guest.service (Join-Path $tree 'etc/systemd/system/multi-user.target.wants/ct-guest.service')
    if ($LASTEXITCODE -ne 0) { throw "cannot enable ct-guest.service in $tree" }
    $tree
}

function Write-VmTiming {
    $total = ($VmTimings | Where-Object { -not $_.PSObject.Properties['Part'] } | Measure-Object Seconds -Sum).Sum
    Write-Host "VM tier timings ($VmCache):"
    foreach ($t in $VmTimings) {
        Write-Host ('  {0,7:N1} s  {1}{2}' -f $t.Seconds, $(if ($t.PSObject.Properties['Part']) { '  of which ' }), $t.Step)
    }
    Write-Host ('  {0,7:N1} s  total' -f $total)
}
