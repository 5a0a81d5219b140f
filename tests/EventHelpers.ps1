# Dot-sourced inside a throwaway network namespace by the event and watch tests: start a module cmdlet in a
# runspace of its own (so the test can generate traffic meanwhile, and stop it as Ctrl+C would), and create UDP
# flows to 127.0.0.0/8 only.

# Starts a ConntrackTuning command in its own runspace with -Verbose and waits until its verbose stream says
# the subscription is open ('Listening to ...'): from then on every new flow is an event it must see.
function Start-ModuleCommand {
    param([Parameter(Mandatory)] [string] $Name, [hashtable] $Parameters = @{}, [string] $ReadyPattern = 'Listening to*', [int] $TimeoutSeconds = 30)
    $iss = [initialsessionstate]::CreateDefault2()
    $iss.ImportPSModule((Get-Module ConntrackTuning).Path)
    $ps = [powershell]::Create($iss)
    $null = $ps.AddCommand($Name).AddParameters($Parameters).AddParameter('Verbose')
    $output = [System.Management.Automation.PSDataCollection[psobject]]::new()
    # An input collection left open would keep the command waiting for input, before its EndProcessing.
    $none = [System.Management.Automation.PSDataCollection[psobject]]::new()
    $none.Complete()
    $handle = $ps.BeginInvoke($none, $output)
    $deadline = [datetime]::UtcNow.AddSeconds($TimeoutSeconds)
    while (-not @($ps.Streams.Verbose | Where-Object Message -like $ReadyPattern)) {
        if ($handle.IsCompleted) { throw "$Name ended before it was ready: $($ps.Streams.Error -join '; ')" }
        if ([datetime]::UtcNow -gt $deadline) { throw "$Name was not ready within $TimeoutSeconds s" }
        Start-Sleep -Milliseconds 20
    }
    [pscustomobject]@{ PowerShell = $ps; Handle = $handle; Output = $output }
}

# Waits for a started command to end by itself (its -Count or -Duration), then returns its output.
function Wait-ModuleCommand {
    param([Parameter(Mandatory)] $Command, [int] $TimeoutSeconds = 60)
    if (-not $Command.Handle.AsyncWaitHandle.WaitOne([timespan]::FromSeconds($TimeoutSeconds))) {
        $Command.PowerShell.Stop()
        throw "The command did not end within $TimeoutSeconds s"
    }
    $null = $Command.PowerShell.EndInvoke($Command.Handle)
    @($Command.Output)
}

# n distinct UDP flows: one datagram each from one socket to 127.1.x.y (a new destination address per flow).
function Send-UdpFlow {
    param([Parameter(Mandatory)] [int] $Count, [int] $Port = 9000, [int] $Offset = 0)
    $socket = [Net.Sockets.Socket]::new([Net.Sockets.AddressFamily]::InterNetwork, [Net.Sockets.SocketType]::Dgram, [Net.Sockets.ProtocolType]::Udp)
    try {
        $payload = [byte[]]::new(1)
        for ($i = $Offset; $i -lt $Offset + $Count; $i++) {
            # In PowerShell the comma binds tighter than arithmetic: each octet is computed apart.
            $third = [math]::Floor($i / 250) % 250
            $fourth = $i % 250 + 1
            $address = [ipaddress]::new([byte[]]@(127, 1, $third, $fourth))
            $null = $socket.SendTo($payload, [Net.IPEndPoint]::new($address, $Port))
        }
    }
    finally { $socket.Dispose() }
}

# New UDP flows at a steady rate for a while: every 10 ms it sends what the rate owes by then. Returns the count.
function Send-UdpFlowAtRate {
    param([Parameter(Mandatory)] [double] $Rate, [Parameter(Mandatory)] [double] $Seconds, [int] $Offset = 0, [int] $Port = 9100)
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $sent = 0
    while ($clock.Elapsed.TotalSeconds -lt $Seconds) {
        $due = [math]::Floor($Rate * $clock.Elapsed.TotalSeconds)
        if ($due -gt $sent) {
            Send-UdpFlow -Count ($due - $sent) -Offset ($Offset + $sent) -Port $Port
            $sent = $due
        }
        Start-Sleep -Milliseconds 10
    }
    $sent
}
