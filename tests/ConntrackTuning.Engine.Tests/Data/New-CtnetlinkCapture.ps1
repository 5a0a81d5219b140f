# Makes the ctnetlink captures in this folder: real replies of this machine's kernel, recorded datagram by
# datagram, beside what conntrack -L, conntrack -S, conntrack -C and /proc/net/nf_conntrack said at the same
# moment. Runs itself in a throwaway network namespace (unshare -n) filled with traffic to 127.0.0.0/8 only, and
# entries made with conntrack -I. Needs root, nft, conntrack and a built module (build.ps1 -Task Build).
#   pwsh tests/ConntrackTuning.Engine.Tests/Data/New-CtnetlinkCapture.ps1
# Hold the real-kernel lock (tests/Common.ps1, Enter-ConntrackLock) while it runs; it takes it itself.
param(
    [string] $ModulePath = (Join-Path $PSScriptRoot '../../../out/ConntrackTuning'),
    [switch] $InNamespace
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$data = $PSScriptRoot

if (-not $InNamespace) {
    $env:CONNTRACK_MODULE = (Resolve-Path $ModulePath).Path
    . (Join-Path $PSScriptRoot '../../Common.ps1')
    $lock = Enter-ConntrackLock
    try {
        $pwsh = Get-PwshCommand
        & unshare -n -- @pwsh -NoProfile -NonInteractive -File $PSCommandPath -ModulePath $env:CONNTRACK_MODULE -InNamespace
        if ($LASTEXITCODE) { throw "The capture failed ($LASTEXITCODE)." }
    }
    finally { $lock.Dispose() }
    return
}

Import-Module $ModulePath
$hooks = [ConntrackTuning.Engine.Platform.SystemRoot].Assembly.GetType('ConntrackTuning.Engine.TestHooks')
$record = $hooks.GetProperty('NetlinkRecordPath', [Reflection.BindingFlags]'NonPublic,Static')

function Save-Capture([string] $Name, [string] $Comment, [scriptblock] $Action) {
    $path = Join-Path $data "$Name.hex"
    Set-Content -Path $path -Value "# $Comment`n# Captured on Linux $(Get-Content /proc/sys/kernel/osrelease) by New-CtnetlinkCapture.ps1; one datagram per line."
    $record.SetValue($null, $path)
    try { & $Action } finally { $record.SetValue($null, $null) }
}

& ip link set lo up
@'
table inet ctt {
  chain o {
    type filter hook output priority 0; ct state new counter
    udp dport 7777 ct label set 9
    udp dport 7777 ct label set 70
  }
}
table ip nat {
  chain out { type nat hook output priority -100; tcp dport 6000 dnat to 127.0.0.1:5000; }
}
'@ | & nft -f -
if ($LASTEXITCODE) { throw 'nft failed.' }
# Per namespace: counters and start stamps on every entry made from now on. (Set-Content does not write to
# /proc/sys files; File.WriteAllText does.)
[IO.File]::WriteAllText('/proc/sys/net/netfilter/nf_conntrack_acct', '1')
[IO.File]::WriteAllText('/proc/sys/net/netfilter/nf_conntrack_timestamp', '1')

$loop4 = [Net.IPAddress]::Loopback
$listener = [Net.Sockets.TcpListener]::new($loop4, 5000); $listener.Start()
$held = [Collections.Generic.List[object]]::new()
foreach ($port in 5000, 6000) {
    $client = [Net.Sockets.TcpClient]::new(); $client.Connect($loop4, $port)
    $server = $listener.AcceptTcpClient()
    $client.GetStream().Write([byte[]](1, 2, 3), 0, 3); $null = $server.GetStream().Read([byte[]]::new(3), 0, 3)
    $server.GetStream().Write([byte[]](4), 0, 1); $null = $client.GetStream().Read([byte[]]::new(1), 0, 1)
    $held.Add($client); $held.Add($server)
}
# Closed from the client side first: the entry lingers in TIME_WAIT.
$client = [Net.Sockets.TcpClient]::new(); $client.Connect($loop4, 5000); $server = $listener.AcceptTcpClient()
$client.Close(); Start-Sleep -Milliseconds 100; $server.Close()

$udp = [Net.Sockets.UdpClient]::new([Net.IPEndPoint]::new($loop4, 0))
foreach ($port in 30000..30004) { $null = $udp.Send([byte[]](1), 1, [Net.IPEndPoint]::new($loop4, $port)) }
$null = $udp.Send([byte[]](1), 1, [Net.IPEndPoint]::new($loop4, 7777))
$echo = [Net.Sockets.UdpClient]::new([Net.IPEndPoint]::new($loop4, 7000))
$null = $udp.Send([byte[]](1), 1, [Net.IPEndPoint]::new($loop4, 7000))
$from = [Net.IPEndPoint]::new([Net.IPAddress]::Any, 0); $null = $echo.Receive([ref] $from); $null = $echo.Send([byte[]](2), 1, $from)

$loop6 = [Net.IPAddress]::IPv6Loopback
$udp6 = [Net.Sockets.UdpClient]::new([Net.Sockets.AddressFamily]::InterNetworkV6)
$null = $udp6.Send([byte[]](1), 1, [Net.IPEndPoint]::new($loop6, 4000))
$listener6 = [Net.Sockets.TcpListener]::new($loop6, 5001); $listener6.Start()
$client6 = [Net.Sockets.TcpClient]::new([Net.Sockets.AddressFamily]::InterNetworkV6); $client6.Connect($loop6, 5001)
$held.Add($client6); $held.Add($listener6.AcceptTcpClient())

$ping = [Net.NetworkInformation.Ping]::new()
$null = $ping.Send('127.0.0.1', 1000); $null = $ping.Send('::1', 1000)
# An IP protocol without a tracker of its own (253, for experiments): .NET refuses raw sockets for it, Python does not.
& python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 253).sendto(b'xy', ('127.0.0.1', 0))"
if ($LASTEXITCODE) { throw 'python3 failed to send the protocol-253 packet.' }

foreach ($entry in @(
        @('-p', 'tcp', '-s', '10.0.0.1', '-d', '10.0.0.2', '--sport', '1', '--dport', '2', '--state', 'SYN_SENT', '-t', '3000', '-m', '7', '-w', '5'),
        @('-p', 'tcp', '-s', '10.0.0.3', '-d', '10.0.0.4', '--sport', '3', '--dport', '4', '--state', 'ESTABLISHED', '-t', '3000', '--orig-zone', '3'),
        @('-p', 'gre', '-s', '10.0.0.5', '-d', '10.0.0.6', '--srckey', '0x1', '--dstkey', '0x2', '-t', '3000'),
        @('-p', 'sctp', '-s', '10.0.0.7', '-d', '10.0.0.8', '--sport', '5', '--dport', '6', '--state', 'ESTABLISHED', '--orig-vtag', '1', '--reply-vtag', '2', '-t', '3000'),
        @('-p', 'icmp', '-s', '10.0.0.9', '-d', '10.0.0.10', '--icmp-type', '8', '--icmp-code', '0', '--icmp-id', '77', '-t', '3000'),
        @('-p', 'udp', '-s', '10.0.0.11', '-d', '10.0.0.12', '--sport', '7', '--dport', '53', '-t', '3000', '-m', '0x12345678'))) {
    & conntrack -I @entry 2>$null
    if ($LASTEXITCODE) { throw "conntrack -I $entry failed." }
}

Start-Sleep -Milliseconds 200
Save-Capture 'dump-mixed' 'IPCTNL_MSG_CT_GET dump of both families: every kind of entry this kernel makes' { $null = Get-ConntrackEntry }
Set-Content (Join-Path $data 'dump-mixed.conntrack-L.txt') (& conntrack -L -o extended,id 2>$null)
[IO.File]::WriteAllBytes((Join-Path $data 'dump-mixed.procfs.txt'), [IO.File]::ReadAllBytes('/proc/net/nf_conntrack'))

Save-Capture 'stats-cpu' 'IPCTNL_MSG_CT_GET_STATS_CPU dump: one message per possible CPU' { $null = [ConntrackTuning.Engine.Statistics.CtnetlinkStatistics]::ReadPerCpu() }
Set-Content (Join-Path $data 'stats-cpu.conntrack-S.txt') (& conntrack -S)
Save-Capture 'count' 'IPCTNL_MSG_CT_GET_STATS with NLM_F_ACK: one reply, then the ACK' { $null = [ConntrackTuning.Engine.Statistics.CtnetlinkStatistics]::ReadCount() }
Set-Content (Join-Path $data 'count.conntrack-C.txt') (& conntrack -C)

# Enough entries for the kernel to split the dump over several 32 KiB datagrams.
foreach ($port in 1..1000) { $null = $udp.Send([byte[]](1), 1, [Net.IPEndPoint]::new([Net.IPAddress]::Parse('127.0.0.2'), 20000 + $port)) }
Start-Sleep -Milliseconds 200
Save-Capture 'dump-large' 'IPCTNL_MSG_CT_GET dump over many datagrams' { $null = Get-ConntrackEntry }
Set-Content (Join-Path $data 'dump-large.conntrack-L.txt') (& conntrack -L -o extended,id 2>$null)
