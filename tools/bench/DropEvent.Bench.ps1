# Get-ConntrackDropEvent against grep on the same generated kernel log: one pass over 1 GiB of syslog in
# which about one line in 40 is a conntrack "table full" message or a rate-limit line. Goal: at least half of
# grep -c 'table full' throughput, with memory that does not grow with the file (compared at 1/8 the size).
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [long] $SizeBytes = 1GB,
    [int] $Runs = 3,
    [string] $WorkDirectory = [IO.Path]::GetTempPath()
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../Common.ps1')
$pwsh = Get-PwshCommand

# A 4 MiB block of realistic lines, repeated: varied daemons and kernel messages, and the overflow pattern of a
# busy NAT box (a suppression line, then up to ten table-full lines per 5-second window).
function New-LogBlock {
    $random = [Random]::new(42)
    $text = [Text.StringBuilder]::new(4MB + 4096)
    $hosts = 'gw01', 'gw02'
    $noise = @(
        'sshd[{0}]: Accepted publickey for deploy from 10.0.{1}.{2} port {3} ssh2: ED25519 SHA256:Zm9vYmFyYmF6cXV4'
        'systemd[1]: Started Session {0} of user deploy.'
        'CRON[{0}]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)'
        'kernel: [{4}.{3:D6}] IPv4: martian source 10.0.{1}.{2} from 10.0.{2}.{1}, on dev eth1'
        'kernel: [{4}.{3:D6}] e1000e: eth0 NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx'
        'haproxy[{0}]: 10.1.{1}.{2}:{3} [26/Mar/2026:21:53:50.{1:D3}] fe_https be_app/app{2} 0/0/1/12/13 200 1532 - - ---- 812/812/0/0/0 0/0 "GET /api/v1/items HTTP/1.1"'
        'dhclient[{0}]: DHCPREQUEST for 10.0.{1}.{2} on eth0 to 10.0.0.1 port 67'
    )
    $line = 0
    while ($text.Length -lt 4MB) {
        $second = $line / 20
        $stamp = 'Mar {0,2} {1:D2}:{2:D2}:{3:D2}' -f (1 + [int]($second / 86400) % 28), ([int]($second / 3600) % 24), ([int]($second / 60) % 60), ([int]$second % 60)
        $hostName = $hosts[$line % 2]
        $uptime = 974000 + [int]$second
        $r = $random.Next(1000)
        if ($r -lt 22) {
            [void]$text.Append("$stamp $hostName kernel: [$uptime.$('{0:D6}' -f $random.Next(1000000))] nf_conntrack: nf_conntrack: table full, dropping packet`n")
        }
        elseif ($r -lt 25) {
            [void]$text.Append("$stamp $hostName kernel: [$uptime.$('{0:D6}' -f $random.Next(1000000))] net_ratelimit: $($random.Next(1, 5000)) callbacks suppressed`n")
        }
        else {
            $template = $noise[$random.Next($noise.Count)]
            [void]$text.Append("$stamp $hostName " + ($template -f $random.Next(100, 65000), $random.Next(256), $random.Next(256), $random.Next(1024, 65535), $uptime) + "`n")
        }
        $line++
    }
    [Text.Encoding]::UTF8.GetBytes($text.ToString())
}

function New-Log([string] $Path, [long] $Size, [byte[]] $Block) {
    $stream = [IO.File]::Create($Path)
    try {
        for ($written = 0L; $written -lt $Size; $written += $Block.Length) { $stream.Write($Block, 0, $Block.Length) }
    }
    finally { $stream.Dispose() }
}

function Measure-Grep([string] $Path) {
    $info = [Diagnostics.ProcessStartInfo]::new('grep')
    foreach ($a in '-c', 'table full', $Path) { $info.ArgumentList.Add($a) }
    $info.RedirectStandardOutput = $true
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $p = [Diagnostics.Process]::Start($info)
    $count = [long]$p.StandardOutput.ReadToEnd().Trim()
    $p.WaitForExit()
    $watch.Stop()
    [pscustomobject]@{ Seconds = $watch.Elapsed.TotalSeconds; Count = $count }
}

# In a fresh pwsh, so the peak working set is this run's alone. The time excludes pwsh's start and the one-time
# compilation of the parser, which a two-line warm-up triggers (it is reported apart as the first-call cost).
function Measure-Module([string] $Path, [switch] $Stream) {
    $command = if ($Stream) { '(Get-ConntrackDropEvent -Path $args[0] | Measure-Object).Count' } else { '(Get-ConntrackDropEvent -Path $args[0] -Summary).AtLeast' }
    $script = @"
Import-Module '$ModulePath'
`$warm = [Diagnostics.Stopwatch]::StartNew()
`$null = 'Mar 26 21:53:50 gw kernel: net_ratelimit: 3 callbacks suppressed', 'Mar 26 21:53:50 gw kernel: nf_conntrack: nf_conntrack: table full, dropping packet' | Get-ConntrackDropEvent
`$warm.Stop()
`$watch = [Diagnostics.Stopwatch]::StartNew()
`$count = & { $command } '$Path'
`$watch.Stop()
[pscustomobject]@{ Seconds = `$watch.Elapsed.TotalSeconds; WarmUp = `$warm.Elapsed.TotalSeconds; Count = [long]`$count; PeakMiB = [math]::Round([Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64 / 1MB, 1) } | ConvertTo-Json -Compress
"@
    $json = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command $script
    if ($LASTEXITCODE) { throw "The measuring pwsh failed: $json" }
    $json | ConvertFrom-Json
}

$big = Join-Path $WorkDirectory "ctt-bench-$PID-big.log"
$small = Join-Path $WorkDirectory "ctt-bench-$PID-small.log"
try {
    $block = New-LogBlock
    New-Log $big $SizeBytes $block
    New-Log $small ([math]::Max($block.Length, $SizeBytes / 8)) $block
    $bigMiB = (Get-Item $big).Length / 1MB
    $null = Measure-Grep $big   # both tools then read from the page cache

    $grep = 1..$Runs | ForEach-Object { Measure-Grep $big }
    $summary = 1..$Runs | ForEach-Object { Measure-Module $big }
    $stream = Measure-Module $big -Stream
    $smallRun = Measure-Module $small

    $counts = @(@($summary | ForEach-Object { $_.Count }) + $stream.Count + @($grep | ForEach-Object { $_.Count }) | Select-Object -Unique)
    if ($counts.Count -ne 1) {
        throw "Counts differ: grep $($grep[0].Count), summary $($summary[0].Count), stream $($stream.Count)."
    }
    $g = Get-Median $grep.Seconds
    $m = Get-Median $summary.Seconds
    'file: {0:N0} MiB, {1:N0} table-full lines (grep and the module agree)' -f $bigMiB, $grep[0].Count
    'grep -c ''table full'':                      {0,6:N2} s  {1,7:N0} MiB/s (median of {2})' -f $g, ($bigMiB / $g), $Runs
    'Get-ConntrackDropEvent -Path -Summary:     {0,6:N2} s  {1,7:N0} MiB/s  = {2:P0} of grep (goal: at least 50 %)' -f $m, ($bigMiB / $m), ($g / $m)
    'Get-ConntrackDropEvent -Path | Measure:    {0,6:N2} s  {1,7:N0} MiB/s  (every event as an object)' -f $stream.Seconds, ($bigMiB / $stream.Seconds)
    'first call in a fresh session (compiling the parser): {0:N0} ms, once' -f ((Get-Median $summary.WarmUp) * 1000)
    'peak working set: {0:N1} MiB over {1:N0} MiB, {2:N1} MiB over {3:N0} MiB (flat: it does not grow with the file)' -f $summary[0].PeakMiB, $bigMiB, $smallRun.PeakMiB, ((Get-Item $small).Length / 1MB)
}
finally {
    Remove-Item $big, $small -ErrorAction Ignore
}
