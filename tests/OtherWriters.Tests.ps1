BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
    $script:bpfSkip = if ($realKernelSkip) { $realKernelSkip } elseif (-not (Get-Command bpftool -ErrorAction Ignore)) { "'bpftool' is not installed (apt-get install bpftool)" } else { $null }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

Describe 'Get-ConntrackWriter: TuneD and the sysctl files as layers' {
    BeforeAll {
        function New-Tree([string] $TunedMain) {
            $tree = Copy-Fixture linux-6.18-builtin
            $null = New-Item -ItemType Directory -Force -Path "$tree/etc/tuned", "$tree/usr/lib/tuned/throughput", "$tree/etc/tuned/mine", "$tree/etc/sysctl.d"
            Set-Content "$tree/etc/tuned/active_profile" 'mine'
            Set-Content "$tree/usr/lib/tuned/throughput/tuned.conf" "[main]`nsummary=base`n[sysctl]`nnet.netfilter.nf_conntrack_max=524288`nnet.netfilter.nf_conntrack_tcp_timeout_established=7200"
            Set-Content "$tree/etc/tuned/mine/tuned.conf" "[main]`ninclude=throughput`n[sysctl]`nnet/netfilter/nf_conntrack_max = 786432"
            Set-Content "$tree/etc/sysctl.d/80-site.conf" 'net.netfilter.nf_conntrack_max = 1048576'
            if ($TunedMain) { Set-Content "$tree/etc/tuned/tuned-main.conf" $TunedMain }
            $tree
        }
    }

    It 'puts the sysctl files after TuneD when TuneD re-applies them (its default)' {
        $tree = New-Tree
        $max = @(Get-ConntrackWriter -Root $tree | Where-Object Setting -eq 'net.netfilter.nf_conntrack_max')
        $max.Writer | Should -Be 'TuneD', 'sysctl'
        $max[0].Value | Should -Be '786432' -Because 'the profile overrides the one it includes'
        $max[0].Source | Should -Be "$tree/etc/tuned/mine/tuned.conf"
        $max[1].Value | Should -Be '1048576'
        $max[1].Source | Should -Be "$tree/etc/sysctl.d/80-site.conf:1"
        $max.Wins | Should -Be $false, $true
        $est = @(Get-ConntrackWriter -Root $tree | Where-Object Setting -eq 'net.netfilter.nf_conntrack_tcp_timeout_established')
        $est.Writer | Should -Be 'TuneD'
        $est.Value | Should -Be '7200'
        $est.Wins | Should -BeTrue
    }

    It 'lets TuneD win with reapply_sysctl = 0' {
        $tree = New-Tree "[main]`nreapply_sysctl = 0"
        $max = @(Get-ConntrackWriter -Root $tree | Where-Object Setting -eq 'net.netfilter.nf_conntrack_max')
        $max.Writer | Should -Be 'sysctl', 'TuneD'
        ($max | Where-Object Wins).Value | Should -Be '786432'
    }
}

# A process that looks like kube-proxy to /proc: a copy of bash named kube-proxy (it must stay alive whatever
# flags it is given, which sleep would refuse), with real kube-proxy flags and a KubeProxyConfiguration file.
Describe 'kube-proxy on this node' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll {
        # Another run may lower the global max meanwhile: the health check and the predictions read it.
        $script:lock = Enter-ConntrackLock
        $script:work = Join-Path ([IO.Path]::GetTempPath()) ('cttw-kp-' + [guid]::NewGuid().ToString('n'))
        $null = New-Item -ItemType Directory -Path $work
        Copy-Item (Get-Command bash).Source (Join-Path $work 'kube-proxy')
        $script:config = Join-Path $work 'kube-proxy.yaml'
        Set-Content -Path $config -Value @(
            'apiVersion: kubeproxy.config.k8s.io/v1alpha1', 'kind: KubeProxyConfiguration', 'mode: iptables', 'conntrack:',
            '  maxPerCore: 8', '  min: 4096', '  tcpEstablishedTimeout: 24h0m0s', '  tcpCloseWaitTimeout: 30m0s')
        $psi = [Diagnostics.ProcessStartInfo]::new((Join-Path $work 'kube-proxy'))
        # bash -c 'sleep 300; true' keeps bash itself alive (a lone command would be exec'd); the rest are its $0 and flags.
        foreach ($a in '-c', 'sleep 300; true', 'kube-proxy', "--config=$config", '--conntrack-min=65536', '--conntrack-tcp-timeout-established=12h', '--hostname-override=node1') {
            $psi.ArgumentList.Add($a)
        }
        $script:proc = [Diagnostics.Process]::Start($psi)
        Start-Sleep -Milliseconds 200
        $script:cpus = [Environment]::ProcessorCount
        $online = (Get-Content /sys/devices/system/cpu/online -ErrorAction Ignore)
        if ($online) {
            $script:cpus = 0
            foreach ($part in $online.Trim().Split(',')) { $r = $part.Split('-'); $script:cpus += if ($r.Count -eq 2) { [int]$r[1] - [int]$r[0] + 1 } else { 1 } }
        }
        $script:max = [long][IO.File]::ReadAllText('/proc/sys/net/netfilter/nf_conntrack_max')
        $script:health = @(Test-ConntrackHealth | Where-Object Check -eq 'KubeProxy')
    }
    AfterAll {
        if ($script:proc) { $script:proc.Kill($true) }
        Remove-Item -LiteralPath $script:work -Recurse -Force -ErrorAction SilentlyContinue
        if ($script:lock) { $script:lock.Dispose() }
    }

    It 'is detected, and what it will write is predicted from flags over the file' {
        # maxPerCore 8 (file) x CPUs is far below min 65536 (the flag wins over the file's 4096).
        $health.Count | Should -Be 1
        $health[0].Evidence | Should -BeLike "/proc/$($proc.Id)/cmdline*maxPerCore=8 ($config)*conntrack-min=65536 (flag)*"
        $health[0].Severity | Should -Be 'Warning'
        $health[0].Message | Should -BeLike "kube-proxy (process $($proc.Id)) will lower it to 65,536 (kube-proxy writes it whenever it differs;*) at its next start (maxPerCore 8 × $cpus CPUs, at least min 65,536), and the hash size to 16,384 if it is smaller, overriding nf_conntrack_max = $('{0:N0}' -f $max)*"
        $health[0].Recommendation | Should -BeLike '*--conntrack-max-per-core=0*'
    }

    It 'predicts its TCP established timeout (the flag over the file)' {
        $health[0].Message | Should -BeLike '*will lower it to 43,200*tcpEstablishedTimeout*overriding nf_conntrack_tcp_timeout_established*'
    }

    It 'is the last layer of the max in Get-ConntrackWriter' {
        $layers = @(Get-ConntrackWriter | Where-Object { $_.Setting -eq 'net.netfilter.nf_conntrack_max' -and $_.Source -eq "/proc/$($proc.Id)/cmdline" })
        $layers.Count | Should -Be 1
        $layers[0].Writer | Should -Be 'kube-proxy'
        $layers[0].Value | Should -Be '65536'
    }

    It 'warns in Set-ConntrackLimit and Set-ConntrackTimeout, and -WhatIf writes nothing' {
        $before = [IO.File]::ReadAllText('/proc/sys/net/netfilter/nf_conntrack_max').Trim()
        $null = Set-ConntrackLimit -Max ($max + 1024) -WhatIf -WarningVariable limitWarnings 3>$null
        ($limitWarnings -join "`n") | Should -BeLike "*kube-proxy (process $($proc.Id)) will lower it to 65,536*"
        [IO.File]::ReadAllText('/proc/sys/net/netfilter/nf_conntrack_max').Trim() | Should -Be $before
        $null = Set-ConntrackTimeout -Protocol tcp -State close_wait -Seconds 60 -WhatIf -WarningVariable timeoutWarnings 3>$null
        ($timeoutWarnings -join "`n") | Should -BeLike '*will raise it to 1,800*tcpCloseWaitTimeout*--conntrack-tcp-timeout-close-wait=0*'
    }
}

# BPF hash maps named as Cilium's and Calico's conntrack maps, pinned under a bpffs mounted for the test.
Describe 'Cilium and Calico conntrack maps' -Tag RealKernel -Skip:([bool]$bpfSkip) {
    BeforeAll {
        $script:lock = Enter-ConntrackLock
        $script:bpffs = Join-Path ([IO.Path]::GetTempPath()) ('cttw-bpf-' + [guid]::NewGuid().ToString('n'))
        $null = New-Item -ItemType Directory -Path $bpffs
        & mount -t bpf bpf $bpffs
        if ($LASTEXITCODE) { throw "mount -t bpf failed" }
        $null = New-Item -ItemType Directory -Path "$bpffs/tc/globals"
        function New-Map([string] $Name, [int] $Max, [int] $Fill) {
            & bpftool map create "$bpffs/tc/globals/$Name" type hash key 4 value 8 entries $Max name ($Name.Substring(0, [Math]::Min(15, $Name.Length)))
            if ($LASTEXITCODE) { throw "bpftool map create $Name failed" }
            foreach ($i in 1..$Fill) {
                $k = [BitConverter]::GetBytes([int]$i)
                & bpftool map update pinned "$bpffs/tc/globals/$Name" key $k[0] $k[1] $k[2] $k[3] value 0 0 0 0 0 0 0 0
            }
        }
        New-Map cilium_ct4_global 64 60
        New-Map cilium_ct_any4_global 256 5
        New-Map cilium_ct6_global 32 1
        New-Map cali_v4_ct3 128 12
        New-Map cilium_snat_v4_external 16 2
        $script:maps = @(Get-ConntrackBpfMap -Path $bpffs)
        $script:capped = @(Get-ConntrackBpfMap -Path $bpffs -MaxKeys 10 -WarningVariable cappedWarnings 3>$null)
        $script:cappedWarnings = $cappedWarnings
        $script:health = @(Test-ConntrackHealth | Where-Object Check -eq 'BpfConntrack')
    }
    AfterAll {
        & umount $script:bpffs
        Remove-Item -LiteralPath $script:bpffs -Recurse -Force -ErrorAction SilentlyContinue
        if ($script:lock) { $script:lock.Dispose() }
    }

    It 'finds the conntrack maps by name and only them' {
        @($maps.Name | Sort-Object) | Should -Be @('cali_v4_ct3', 'cilium_ct4_global', 'cilium_ct6_global', 'cilium_ct_any4_global' | Sort-Object)
        ($maps | Where-Object Name -eq cali_v4_ct3).Owner | Should -Be 'Calico'
        ($maps | Where-Object Name -eq cilium_ct_any4_global).Table | Should -Be 'IPv4 non-TCP'
    }

    It 'reads each map''s max_entries and counts its fill' {
        $ct4 = $maps | Where-Object Name -eq cilium_ct4_global
        $ct4.MaxEntries | Should -Be 64
        $ct4.Entries | Should -Be 60
        $ct4.EntriesComplete | Should -BeTrue
        $ct4.UsagePercent | Should -Be 93.75
        $ct4.MapType | Should -Be 'hash'
        $ct4.KeySize | Should -Be 4
        ($maps | Where-Object Name -eq cali_v4_ct3).Entries | Should -Be 12
        ($maps | Where-Object Name -eq cilium_ct6_global).Entries | Should -Be 1
    }

    It 'stops counting at the key cap and says the count is a lower bound' {
        $c = $capped | Where-Object Name -eq cilium_ct4_global
        $c.Entries | Should -Be 10
        $c.EntriesComplete | Should -BeFalse
        ($cappedWarnings -join "`n") | Should -BeLike '*cilium_ct4_global: only 10 keys were counted*'
    }

    It 'finds the maps in every bpffs mount, and Test-ConntrackHealth names the full one as the table that drops' {
        @(Get-ConntrackBpfMap | Where-Object Path -like "$bpffs/*").Count | Should -Be 4
        $full = $health | Where-Object Message -like '*cilium_ct4_global*'
        $full.Severity | Should -Be 'Critical'
        $full.Message | Should -BeLike "*holds 60 of 64 (93.75 %)*"
        $full.Recommendation | Should -BeLike '*bpf-ct-global-tcp-max*'
    }
}
