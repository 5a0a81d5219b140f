BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
    if (-not $realKernelSkip -and -not (Get-Command nsenter -ErrorAction Ignore)) { $script:realKernelSkip = "'nsenter' is not installed (util-linux)" }
    if (-not $realKernelSkip -and -not (Test-Path /sys/fs/cgroup/pids/cgroup.procs)) { $script:realKernelSkip = 'no cgroup v1 pids hierarchy at /sys/fs/cgroup/pids to place test processes in' }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

Describe 'Get-ConntrackNamespace on a tree' {
    It 'lists no counts and no error for a capture without processes' {
        $tree = Copy-Fixture linux-6.18-builtin
        $result = @(Get-ConntrackNamespace -Root $tree -ErrorVariable errs)
        $errs | Should -BeNullOrEmpty
        $result | ForEach-Object { $_.Count | Should -BeNullOrEmpty }
    }
}

Describe 'Get-ConntrackNamespace without privileges' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll {
        # unshare -U: uid 65534 without capabilities, so process 1's namespace link, other users' processes and the
        # kernel log (kernel.dmesg_restrict) are out of reach, as they are for any user but root.
        $script:seen = Invoke-Unprivileged -ScriptBlock {
            $list = @(Get-ConntrackNamespace -WarningVariable w -WarningAction SilentlyContinue)
            [pscustomobject]@{ Namespaces = $list; Warnings = @($w | ForEach-Object Message); Own = ([IO.FileInfo]'/proc/self/ns/net').LinkTarget }
        }
    }

    It 'still marks this host''s own namespace as the host''s' {
        $own = $seen.Own -replace '^net:\[(\d+)\]$', '$1'
        $hostNs = @($seen.Namespaces | Where-Object NetworkNamespace -eq $own)
        $hostNs.Count | Should -Be 1
        $hostNs[0].IsInitial | Should -BeTrue
        $hostNs[0].Owner | Should -Be 'host'
        $hostNs[0].OwnerKind | Should -Be 'Host'
    }

    It 'leaves TableFullMessages empty, not 0, when the kernel log cannot be read, and says why' {
        $seen.Namespaces | ForEach-Object { $_.TableFullMessages | Should -BeNullOrEmpty }
        $seen.Warnings | Where-Object { $_ -like '*TableFullMessages*' -and $_ -like '*kernel log*' } | Should -Not -BeNullOrEmpty
    }

    It 'warns that the processes of other users, and so their namespaces, were not seen' {
        $warning = @($seen.Warnings | Where-Object { $_ -like '*other users*' })
        $warning.Count | Should -Be 1
        $warning[0] | Should -Match 'root'
        $hidden = [int]([regex]::Match($warning[0], '(\d+) process').Groups[1].Value)
        $hidden | Should -BeGreaterThan 0
    }
}

# Throwaway namespaces, each with its own number of loopback flows, and processes placed in cgroups named the
# way Docker, containerd under Kubernetes and Podman name theirs. Everything is removed in AfterAll.
Describe 'Where Get-ConntrackNamespace''s objects pipe to' {
    # The help and the README name the cmdlets its objects pipe into: each must take -NetworkNamespace (and so
    # the namespace) from the pipeline by property name, or the pipe fails to bind.
    It 'is to cmdlets that take NetworkNamespace by property name, as its help lists them' {
        $text = (Get-Help Get-ConntrackNamespace).description.Text -join "`n"
        $list = [regex]::Match($text, 'so the objects pipe into (.+?), which then act inside').Groups[1].Value
        $named = @([regex]::Matches($list, '\b[A-Z][a-z]+-Conntrack[A-Za-z]+') | ForEach-Object Value)
        $named.Count | Should -BeGreaterThan 5
        foreach ($name in $named) {
            $parameter = (Get-Command $name).Parameters['NetworkNamespace']
            $parameter | Should -Not -BeNullOrEmpty -Because "$name is said to act inside the piped namespace"
            @($parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] -and $_.ValueFromPipelineByPropertyName }) |
                Should -Not -BeNullOrEmpty -Because "$name is said to take Get-ConntrackNamespace's objects from the pipeline"
        }
    }

    It 'is to every cmdlet with -NetworkNamespace that the README does not set apart' {
        $row = (Get-Content (Join-Path $RepoRoot 'README.md')) | Where-Object { $_.StartsWith('| `Get-ConntrackNamespace` |') }
        $row | Should -Not -BeNullOrEmpty
        $apart = @([regex]::Matches(($row -split 'pipes into', 2)[1], '`([A-Z][a-z]+-Conntrack[A-Za-z]+)`') | ForEach-Object { $_.Groups[1].Value })
        foreach ($command in @(Get-Command -Module ConntrackTuning | Where-Object { $_.Parameters.ContainsKey('NetworkNamespace') -and $_.Name -notin $apart })) {
            @($command.Parameters['NetworkNamespace'].Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] -and $_.ValueFromPipelineByPropertyName }) |
                Should -Not -BeNullOrEmpty -Because "the README says Get-ConntrackNamespace pipes into $($command.Name)"
        }
    }
}

Describe 'Get-ConntrackNamespace on this kernel' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll {
        $script:tag = 'cttw' + [guid]::NewGuid().ToString('n').Substring(0, 8)
        $script:named = "$tag-a"
        $script:cgroups = [Collections.Generic.List[string]]::new()
        $script:sleepers = [Collections.Generic.List[object]]::new()
        $script:podFolder = $null
        & ip netns add $named
        & ip -n $named link set lo up

        function Add-Flow([string[]] $Enter, [int] $Count, [int] $Base) {
            $exe, $rest = $Enter
            foreach ($i in 1..$Count) {
                & $exe @rest conntrack -I -p udp -s 127.0.0.1 -d 127.0.0.2 --sport ($Base + $i) --dport 53 -t 300 2>&1 | Out-Null
                if ($LASTEXITCODE) { throw "conntrack -I failed in $($Enter -join ' ')" }
            }
        }
        function Start-Sleeper([string] $Cgroup, [int] $Flows, [int] $Base) {
            # unshare -n execs sleep in a new network namespace: the process started is the sleeper itself.
            $p = Start-Process -FilePath unshare -ArgumentList '-n', 'sleep', '300' -PassThru
            $script:sleepers.Add($p)
            $deadline = (Get-Date).AddSeconds(5)
            while ((& readlink "/proc/$($p.Id)/ns/net") -eq (& readlink /proc/self/ns/net) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 20 }
            if ($Cgroup) {
                $dir = "/sys/fs/cgroup/pids/$Cgroup"
                $null = New-Item -ItemType Directory -Force -Path $dir
                $script:cgroups.Add($dir)
                [IO.File]::WriteAllText("$dir/cgroup.procs", "$($p.Id)")
            }
            Add-Flow -Enter @('nsenter', "--net=/proc/$($p.Id)/ns/net", '--') -Count $Flows -Base $Base
            $p
        }

        Add-Flow -Enter @('ip', 'netns', 'exec', $named) -Count 3 -Base 1000
        $script:id = ([guid]::NewGuid().ToString('n') + [guid]::NewGuid().ToString('n'))
        $script:uid = [guid]::NewGuid().ToString()
        $script:docker = Start-Sleeper -Cgroup "system.slice/docker-$id.scope" -Flows 5 -Base 2000
        $script:kube = Start-Sleeper -Cgroup ("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$($uid -replace '-', '_').slice/cri-containerd-$id.scope") -Flows 7 -Base 3000
        $script:podman = Start-Sleeper -Cgroup "machine.slice/libpod-$id.scope" -Flows 2 -Base 4000
        $script:podsCreated = -not (Test-Path /var/log/pods)
        $script:podFolder = "/var/log/pods/${tag}_web-0_$uid"
        $null = New-Item -ItemType Directory -Force -Path $podFolder

        $script:all = @(Get-ConntrackNamespace -ErrorVariable listErrors)
        $script:listErrors = $listErrors
        function Get-Cli([string[]] $Enter) { $exe, $rest = $Enter; [long](@(& $exe @rest conntrack -C)[0]) }
        $script:cli = @{
            named  = Get-Cli @('ip', 'netns', 'exec', $named)
            docker = Get-Cli @('nsenter', "--net=/proc/$($docker.Id)/ns/net", '--')
            kube   = Get-Cli @('nsenter', "--net=/proc/$($kube.Id)/ns/net", '--')
            podman = Get-Cli @('nsenter', "--net=/proc/$($podman.Id)/ns/net", '--')
        }
        function Find-Ns($Process) {
            $inode = (& readlink "/proc/$($Process.Id)/ns/net") -replace '^net:\[(\d+)\]$', '$1'
            $script:all | Where-Object NetworkNamespace -eq $inode
        }
    }
    AfterAll {
        foreach ($p in $script:sleepers) {
            # Out of the test cgroup first, so that it can be removed.
            try { [IO.File]::WriteAllText('/sys/fs/cgroup/pids/cgroup.procs', "$($p.Id)") } catch { }
            Stop-Process -Id $p.Id -Force -ErrorAction SilentlyContinue
        }
        foreach ($dir in $script:cgroups) {
            # The leaf, then each parent this test created (those left empty).
            $d = $dir
            while ($d -ne '/sys/fs/cgroup/pids' -and (Test-Path $d)) {
                if (@(Get-ChildItem $d -Directory).Count -gt 0 -or ([IO.File]::ReadAllText("$d/cgroup.procs").Trim())) { break }
                & rmdir $d
                $d = Split-Path $d
            }
        }
        & ip netns delete $script:named 2>$null
        if ($script:podFolder) { Remove-Item -LiteralPath $script:podFolder -Recurse -Force -ErrorAction SilentlyContinue }
        if ($script:podsCreated) { Remove-Item -LiteralPath /var/log/pods -Force -ErrorAction SilentlyContinue }
    }

    It 'reads every count inside its namespace, equal to conntrack -C there' {
        $listErrors | Should -BeNullOrEmpty
        ($all | Where-Object Name -eq $named).Count | Should -Be $cli.named
        (Find-Ns $docker).Count | Should -Be $cli.docker
        (Find-Ns $kube).Count | Should -Be $cli.kube
        (Find-Ns $podman).Count | Should -Be $cli.podman
        $cli.named, $cli.docker, $cli.kube, $cli.podman | Should -Be 3, 5, 7, 2
    }

    It 'sorts by count, fullest first, and -Top keeps the fullest' {
        $counts = @($all | ForEach-Object { if ($null -eq $_.Count) { -1 } else { $_.Count } })
        $counts | Should -Be @($counts | Sort-Object -Descending)
        $top = @(Get-ConntrackNamespace -Top 2)
        $top.Count | Should -Be 2
        $top[0].Count | Should -Be $all[0].Count
    }

    It 'names the owners from the cgroup paths, and the pod from kubelet''s log folder' {
        $d = Find-Ns $docker
        $d.OwnerKind | Should -Be 'Docker'
        $d.ContainerId | Should -Be $id
        $d.Owner | Should -Be "docker $($id.Substring(0, 12))"
        $d.Processes.ProcessId | Should -Contain $docker.Id
        $d.Processes[0].Command | Should -Be 'sleep'

        $k = Find-Ns $kube
        $k.OwnerKind | Should -Be 'Kubernetes'
        $k.PodUid | Should -Be $uid
        $k.Runtime | Should -Be 'containerd'
        $k.PodNamespace | Should -Be $tag
        $k.PodName | Should -Be 'web-0'
        $k.Owner | Should -Be "pod $tag/web-0 (containerd)"

        $p = Find-Ns $podman
        $p.OwnerKind | Should -Be 'Podman'
        $p.Owner | Should -Be "podman $($id.Substring(0, 12))"

        $n = $all | Where-Object Name -eq $named
        $n.Owner | Should -Be "ip netns $named"
        $n.Paths | Should -Contain "/run/netns/$named"
    }

    It 'marks the host namespace and gives the share of the global max' {
        $hostNs = @($all | Where-Object IsInitial)
        $hostNs.Count | Should -Be 1
        $hostNs[0].Owner | Should -Be 'host'
        $max = [long][IO.File]::ReadAllText('/proc/sys/net/netfilter/nf_conntrack_max')
        $k = Find-Ns $kube
        $k.Max | Should -Be $max
        $k.UsagePercent | Should -Be ([math]::Round(100.0 * 7 / $max, 2))
    }
}
