BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
    if (-not $realKernelSkip -and -not (Test-Path /sys/fs/cgroup/pids/cgroup.procs)) { $script:realKernelSkip = 'no cgroup v1 pids hierarchy at /sys/fs/cgroup/pids to place test processes in' }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

# Owner detection on real cgroups: each sleeper runs in a network namespace of its own (unshare -n) and is moved
# into a cgroup folder named exactly as CRI-O, systemd-nspawn, LXC and k3s (containerd with kubelet's cgroupfs
# driver) name theirs, in the v1 pids hierarchy and, where systemd would name it, the name=systemd one; the
# kernel then shows those paths in /proc/PID/cgroup, which is all the reader sees. The node files the pod names
# come from (kubelet's /var/log/pods and /var/lib/kubelet/pods) and k3s's /etc/rancher/k3s/config.yaml exist only
# in a private mount namespace (an overlay on a tmpfs over /var and /etc) in which the module runs: the machine's
# own /var and /etc are never written. Everything is removed in AfterAll, also when a test fails.
Describe 'Owners of network namespaces on real cgroups' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll {
        $script:lock = Enter-ConntrackLock
        $script:tag = 'ctt' + [guid]::NewGuid().ToString('n').Substring(0, 8)
        $script:hierarchies = @('/sys/fs/cgroup/pids', '/sys/fs/cgroup/systemd' | Where-Object { [IO.File]::Exists("$_/cgroup.procs") })
        $script:created = [Collections.Generic.List[string]]::new()
        $script:sleepers = [Collections.Generic.List[object]]::new()
        $script:work = Join-Path ([IO.Path]::GetTempPath()) "$tag-owner"
        $null = [IO.Directory]::CreateDirectory($work)

        # .NET calls, not New-Item: PowerShell reads a '\' in a path as a separator even on Linux, and systemd
        # escapes '-' in unit names as \x2d.
        function New-Cgroup([string] $Hierarchy, [string] $Path) {
            $dir = $Hierarchy
            foreach ($part in $Path.Split('/')) {
                $dir = "$dir/$part"
                if (-not [IO.Directory]::Exists($dir)) {
                    $null = [IO.Directory]::CreateDirectory($dir)
                    $script:created.Add($dir)
                }
            }
            $dir
        }
        function Start-Owned([string] $Cgroup, [string[]] $In = $hierarchies) {
            # unshare -n execs sleep in a new network namespace: the process started is the sleeper itself.
            $p = Start-Process -FilePath unshare -ArgumentList '-n', 'sleep', '300' -PassThru
            $script:sleepers.Add($p)
            $deadline = (Get-Date).AddSeconds(5)
            while ((& readlink "/proc/$($p.Id)/ns/net") -eq (& readlink /proc/self/ns/net) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 20 }
            foreach ($h in $In) {
                [IO.File]::WriteAllText("$(New-Cgroup $h $Cgroup)/cgroup.procs", "$($p.Id)")
            }
            $p
        }
        function Get-Inode($Process) { (& readlink "/proc/$($Process.Id)/ns/net") -replace '^net:\[(\d+)\]$', '$1' }

        # Runs a script block in a new pwsh in a private mount namespace (unshare -m) whose /var and /etc are
        # overlays with their upper layer on a tmpfs of that namespace alone; -Files (paths relative to /) are
        # written there first. Output comes back through CLIXML.
        function Invoke-WithNodeFiles([string] $Work, [hashtable] $Files, [scriptblock] $ScriptBlock) {
            $filesPath = Join-Path $Work 'files.clixml'
            $resultFile = Join-Path $Work 'result.clixml'
            $layer = Join-Path $Work 'layer'
            $null = [IO.Directory]::CreateDirectory($layer)
            Export-Clixml -InputObject $Files -Path $filesPath
            $text = @"
`$ErrorActionPreference = 'Stop'
& mount -t tmpfs tmpfs '$layer'
if (`$LASTEXITCODE) { throw 'mount -t tmpfs failed' }
foreach (`$d in 'var', 'etc') {
    `$null = [IO.Directory]::CreateDirectory("$layer/`$d-up")
    `$null = [IO.Directory]::CreateDirectory("$layer/`$d-work")
    & mount -t overlay overlay -o "lowerdir=/`$d,upperdir=$layer/`$d-up,workdir=$layer/`$d-work" "/`$d"
    if (`$LASTEXITCODE) { throw "mount -t overlay on /`$d failed" }
}
foreach (`$f in (Import-Clixml '$filesPath').GetEnumerator()) {
    `$full = '/' + `$f.Key
    `$null = [IO.Directory]::CreateDirectory([IO.Path]::GetDirectoryName(`$full))
    [IO.File]::WriteAllText(`$full, `$f.Value)
}
Import-Module '$ModulePath'
`$body = [scriptblock]::Create(@'
$($ScriptBlock.ToString())
'@)
& `$body | Export-Clixml -Path '$resultFile' -Depth 5
"@
            $scriptFile = Join-Path $Work 'run.ps1'
            Set-Content -Path $scriptFile -Value $text
            $pwsh = Get-PwshCommand
            $env:NO_COLOR = '1'
            $output = & unshare -m --propagation private -- @pwsh -NoProfile -NonInteractive -File $scriptFile 2>&1
            if ($LASTEXITCODE) { throw "The module's run with the node files failed ($LASTEXITCODE): $($output -join "`n" -replace '\e\[[0-9;]*m')" }
            Import-Clixml $resultFile
        }

        $script:id = @{}
        foreach ($k in 'crio', 'kube', 'k3s') { $script:id[$k] = [guid]::NewGuid().ToString('n') + [guid]::NewGuid().ToString('n') }
        $script:kubeUid = [guid]::NewGuid().ToString()
        $script:k3sUid = [guid]::NewGuid().ToString()
        $script:machine = "$tag-web"

        # CRI-O on its own (systemd cgroup manager, its default), and under kubelet with the systemd driver.
        $script:crio = Start-Owned "system.slice/crio-$($id.crio).scope"
        $script:crioPod = Start-Owned ("kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod$($kubeUid -replace '-', '_').slice/crio-$($id.kube).scope")
        # systemd-nspawn: the machine's scope under machine.slice, with systemd's \x2d escape, and its payload.
        $script:nspawn = Start-Owned ("machine.slice/machine-$($machine -replace '-', '\x2d').scope/payload")
        # LXC 4.0 and later (lxc.payload.NAME) and the layout of older releases (lxc/NAME), which has no systemd part.
        $script:lxc = Start-Owned "lxc.payload.$tag"
        $script:lxcOld = Start-Owned "lxc/$tag-old" -In '/sys/fs/cgroup/pids'
        # k3s: its embedded containerd with kubelet's cgroupfs driver (k3s's default without systemd), in every
        # controller the same path, which names no runtime; the container's parent does. A copy of bash named as
        # the shim k3s starts, with its flags (argv[1] is the script it runs), starts the sleeper as its child.
        Copy-Item (Get-Command bash).Source (Join-Path $work 'containerd-shim-runc-v2')
        Set-Content -Path (Join-Path $work 'shim') -Value 'unshare -n sleep 300 & echo $! > "$(dirname "$0")/shim.pid"; wait'
        $shimInfo = [Diagnostics.ProcessStartInfo]::new((Join-Path $work 'containerd-shim-runc-v2'))
        foreach ($a in (Join-Path $work 'shim'), '-namespace', 'k8s.io', '-id', $id.k3s, '-address', '/run/k3s/containerd/containerd.sock') { $shimInfo.ArgumentList.Add($a) }
        $script:shim = [Diagnostics.Process]::Start($shimInfo)
        $script:sleepers.Add($shim)
        $deadline = (Get-Date).AddSeconds(5)
        while (-not (Test-Path (Join-Path $work 'shim.pid')) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 20 }
        $script:k3sPod = Get-Process -Id ([int](Get-Content (Join-Path $work 'shim.pid')))
        $script:sleepers.Add($k3sPod)
        while ((& readlink "/proc/$($k3sPod.Id)/ns/net") -eq (& readlink /proc/self/ns/net) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 20 }
        [IO.File]::WriteAllText("$(New-Cgroup '/sys/fs/cgroup/pids' "kubepods/besteffort/pod$k3sUid/$($id.k3s)")/cgroup.procs", "$($k3sPod.Id)")

        # A process that /proc shows as the k3s server with its embedded kube-proxy's flags: a copy of bash named
        # k3s that runs the script file called "server" (so argv[1] is "server" and the process stays alive).
        Copy-Item (Get-Command bash).Source (Join-Path $work 'k3s')
        Set-Content -Path (Join-Path $work 'server') -Value 'sleep 300; true'
        $psi = [Diagnostics.ProcessStartInfo]::new((Join-Path $work 'k3s'))
        foreach ($a in 'server', '--kube-proxy-arg=conntrack-tcp-timeout-established=12h', '--write-kubeconfig-mode=0644') { $psi.ArgumentList.Add($a) }
        $psi.WorkingDirectory = $work
        $script:k3s = [Diagnostics.Process]::Start($psi)
        $script:sleepers.Add($k3s)

        # The node files, made inside the module's private mount namespace only.
        $files = @{
            "var/log/pods/$($tag)_web-0_$kubeUid/web/0.log"  = ''
            "var/lib/kubelet/pods/$k3sUid/etc-hosts"          = "# Kubernetes-managed hosts file.`n127.0.0.1`tlocalhost`n::1`tlocalhost ip6-localhost ip6-loopback`n10.42.0.9`tweb-k3s-0`n"
            'etc/rancher/k3s/config.yaml'                     = "write-kubeconfig-mode: `"0644`"`nkube-proxy-arg:`n  - `"conntrack-max-per-core=16`"`n  - `"conntrack-min=65536`"`n"
        }
        Start-Sleep -Milliseconds 200
        $script:r = Invoke-WithNodeFiles -Work $work -Files $files -ScriptBlock {
            [pscustomobject]@{
                Namespaces = @(Get-ConntrackNamespace)
                Writers    = @(Get-ConntrackWriter)
                Health     = @(Test-ConntrackHealth | Where-Object Check -eq 'KubeProxy')
                Var        = @(Get-ChildItem /var/log/pods -Name)
            }
        }
        function Find-Ns($Process) { $inode = Get-Inode $Process; $script:r.Namespaces | Where-Object NetworkNamespace -eq $inode }
    }
    AfterAll {
        foreach ($p in $script:sleepers) {
            # Back to each hierarchy's root first, so that the test's folders can be removed.
            foreach ($h in $script:hierarchies) { try { [IO.File]::WriteAllText("$h/cgroup.procs", "$($p.Id)") } catch { } }
            try { $p.Kill($true) } catch { }
        }
        foreach ($p in $script:sleepers) { try { $null = $p.WaitForExit(5000) } catch { } }
        # Deepest first; only the folders this test created.
        for ($i = $script:created.Count - 1; $i -ge 0; $i--) {
            try { [IO.Directory]::Delete($script:created[$i]) } catch { Write-Warning "Could not remove the test cgroup $($script:created[$i]): $_" }
        }
        Remove-Item -LiteralPath $script:work -Recurse -Force -ErrorAction SilentlyContinue
        $script:lock.Dispose()
    }

    It 'ran the module where the node files exist, and left the machine''s /var and /etc alone' {
        $r.Var | Should -Be "$($tag)_web-0_$kubeUid"
        Test-Path "/var/log/pods/$($tag)_web-0_$kubeUid" | Should -BeFalse
        Test-Path "/var/lib/kubelet/pods/$k3sUid" | Should -BeFalse
        Test-Path /etc/rancher/k3s/config.yaml | Should -BeFalse
    }

    It 'names CRI-O''s container from crio-ID.scope' {
        $n = Find-Ns $crio
        $n.OwnerKind | Should -Be 'CriO'
        $n.Runtime | Should -Be 'cri-o'
        $n.ContainerId | Should -Be $id.crio
        $n.PodUid | Should -BeNullOrEmpty
        $n.Owner | Should -Be "cri-o $($id.crio.Substring(0, 12))"
        $n.Processes.ProcessId | Should -Contain $crio.Id
        $n.Count | Should -Be 0 -Because 'a fresh namespace holds no entries, read inside it'
    }

    It 'names a CRI-O pod of kubelet''s systemd driver, with its namespace and name from /var/log/pods' {
        $n = Find-Ns $crioPod
        $n.OwnerKind | Should -Be 'Kubernetes'
        $n.Runtime | Should -Be 'cri-o'
        $n.ContainerId | Should -Be $id.kube
        $n.PodUid | Should -Be $kubeUid
        $n.PodNamespace | Should -Be $tag
        $n.PodName | Should -Be 'web-0'
        $n.Owner | Should -Be "pod $tag/web-0 (cri-o)"
    }

    It 'names the systemd-nspawn machine, unescaping \x2d' {
        $n = Find-Ns $nspawn
        $n.OwnerKind | Should -Be 'Nspawn'
        $n.Runtime | Should -Be 'systemd-nspawn'
        $n.ContainerId | Should -Be $machine
        $n.Owner | Should -Be "nspawn $machine"
    }

    It 'names LXC containers in both cgroup layouts' {
        $n = Find-Ns $lxc
        $n.OwnerKind | Should -Be 'Lxc'
        $n.Runtime | Should -Be 'lxc'
        $n.ContainerId | Should -Be $tag
        $n.Owner | Should -Be "lxc $tag"
        (Find-Ns $lxcOld).Owner | Should -Be "lxc $tag-old"
    }

    It 'names a k3s pod of the cgroupfs driver: the runtime from its shim, its name from kubelet''s etc-hosts' {
        $n = Find-Ns $k3sPod
        $n.OwnerKind | Should -Be 'Kubernetes'
        $n.Runtime | Should -Be 'containerd' -Because 'the cgroupfs path names no runtime, the parent containerd-shim in namespace k8s.io does'
        $n.ContainerId | Should -Be $id.k3s
        $n.PodUid | Should -Be $k3sUid
        $n.PodName | Should -Be 'web-k3s-0'
        $n.PodNamespace | Should -BeNullOrEmpty -Because 'etc-hosts has the name only'
        $n.Owner | Should -Be 'pod web-k3s-0 (containerd)'
    }

    It 'finds k3s''s embedded kube-proxy from its process and /etc/rancher/k3s/config.yaml, flags over the file' {
        # conntrack-max-per-core=16 x CPUs stays below the file's conntrack-min=65536 (the default min would give 131072).
        $max = @($r.Writers | Where-Object { $_.Setting -eq 'net.netfilter.nf_conntrack_max' -and $_.Source -eq "/proc/$($k3s.Id)/cmdline" })
        $max.Count | Should -Be 1
        $max[0].Writer | Should -Be 'kube-proxy'
        $max[0].Value | Should -Be '65536'
        $est = @($r.Writers | Where-Object { $_.Setting -eq 'net.netfilter.nf_conntrack_tcp_timeout_established' -and $_.Source -eq "/proc/$($k3s.Id)/cmdline" })
        $est[0].Value | Should -Be '43200'
        $health = @($r.Health | Where-Object Message -like "*kube-proxy embedded in k3s (process $($k3s.Id))*")
        $health.Count | Should -Be 1
        $health[0].Evidence | Should -BeLike '*conntrack-min=65536*'
    }
}
