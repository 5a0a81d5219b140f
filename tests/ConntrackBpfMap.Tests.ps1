BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:bpfSkip = Get-RealKernelSkipReason
    if (-not $bpfSkip -and -not (Get-Command bpftool -ErrorAction Ignore)) { $script:bpfSkip = "'bpftool' is not installed (apt-get install bpftool)" }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

# Cilium creates its conntrack maps as LRU hashes (BPF_MAP_TYPE_LRU_HASH) with a 14-byte IPv4 tuple key (38 for
# IPv6) and a 56-byte entry; an LRU map never refuses an insert, it evicts the least recently used entry. The
# per-CPU types hold one value slot per possible CPU behind each key: a reader that counted slots, or sized a
# value buffer by value_size alone, would be wrong there. Every map here is pinned under a bpffs mounted for the
# test, with the names the two projects pin under, and filled with bpftool; the mount goes in AfterAll.
Describe 'Get-ConntrackBpfMap on LRU and per-CPU maps' -Tag RealKernel -Skip:([bool]$bpfSkip) {
    BeforeAll {
        $script:lock = Enter-ConntrackLock
        $script:bpffs = Join-Path ([IO.Path]::GetTempPath()) ('cttw-bpfk-' + [guid]::NewGuid().ToString('n'))
        $null = New-Item -ItemType Directory -Path $bpffs
        & mount -t bpf bpf $bpffs
        if ($LASTEXITCODE) { throw 'mount -t bpf failed' }
        $script:globals = "$bpffs/tc/globals"
        $null = New-Item -ItemType Directory -Path $globals
        function New-Map([string] $Name, [string] $Type, [int] $Key, [int] $Value, [int] $Max, [int] $Fill, [string[]] $Extra = @()) {
            $mapName = $Name.Substring(0, [Math]::Min(15, $Name.Length))
            & bpftool map create "$globals/$Name" type $Type key $Key value $Value entries $Max name $mapName @Extra
            if ($LASTEXITCODE) { throw "bpftool map create $Name ($Type) failed" }
            # bpftool takes one value and writes it to every CPU's slot of a per-CPU map.
            $valueBytes = @('0') * $Value
            $valueBytes[0] = '1'
            $failed = 0
            foreach ($i in 1..$Fill) {
                # A distinct key per entry: the entry number in the first four bytes (the IPv4 address of a tuple).
                $k = [byte[]]::new($Key)
                [BitConverter]::GetBytes([int]$i).CopyTo($k, 0)
                & bpftool map update pinned "$globals/$Name" key @($k | ForEach-Object { "$_" }) value @valueBytes 2>$null
                if ($LASTEXITCODE) { $failed++ }
            }
            $failed
        }
        $script:failed = @{
            ct4   = New-Map cilium_ct4_global lru_hash 14 56 1024 300
            any4  = New-Map cilium_ct_any4_global lru_hash 14 56 256 40
            ct6   = New-Map cilium_ct6_global lru_percpu_hash 38 56 512 25
            any6  = New-Map cilium_ct_any6_global percpu_hash 38 56 128 128
            cali  = New-Map cali_v4_ct3 percpu_hash 16 88 64 10
            # 100 connections into a 64-entry LRU map (named like a per-endpoint table): every insert succeeds,
            # the least recently used are evicted.
            small = New-Map cilium_ct4_00042 lru_hash 14 56 64 100
        }
        $script:maps = @(Get-ConntrackBpfMap -Path $bpffs -ErrorVariable readErrors)
        $script:readErrors = $readErrors
        $script:health = @(Test-ConntrackHealth | Where-Object Check -eq 'BpfConntrack')
        function Get-Map([string] $Name) { $script:maps | Where-Object Name -eq $Name }
    }
    AfterAll {
        & umount $script:bpffs
        Remove-Item -LiteralPath $script:bpffs -Recurse -Force -ErrorAction SilentlyContinue
        $script:lock.Dispose()
    }

    It 'finds every map, with no error' {
        $readErrors | Should -BeNullOrEmpty
        $failed.ct4, $failed.any4, $failed.ct6, $failed.any6, $failed.cali, $failed.small | Should -Be 0, 0, 0, 0, 0, 0 -Because 'bpftool filled every map (an LRU map evicts instead of refusing)'
        @($maps.Name | Sort-Object) | Should -Be @('cali_v4_ct3', 'cilium_ct4_global', 'cilium_ct4_00042', 'cilium_ct6_global', 'cilium_ct_any4_global', 'cilium_ct_any6_global' | Sort-Object)
        $maps.Error | Where-Object { $_ } | Should -BeNullOrEmpty
    }

    It 'reads Cilium''s LRU maps: type, sizes, max_entries, every key counted' {
        $ct4 = Get-Map cilium_ct4_global
        $ct4.MapType | Should -Be 'lru_hash'
        $ct4.KeySize | Should -Be 14
        $ct4.ValueSize | Should -Be 56
        $ct4.MaxEntries | Should -Be 1024
        $ct4.Entries | Should -Be 300
        $ct4.EntriesComplete | Should -BeTrue
        $ct4.UsagePercent | Should -Be 29.3
        $ct4.Owner | Should -Be 'Cilium'
        $ct4.Table | Should -Be 'IPv4 TCP'
        $ct4.MapId | Should -BeGreaterThan 0
        $any4 = Get-Map cilium_ct_any4_global
        $any4.MapType, $any4.MaxEntries, $any4.Entries, $any4.Table | Should -Be 'lru_hash', 256, 40, 'IPv4 non-TCP'
    }

    It 'counts the keys of per-CPU maps once, not once per CPU' {
        $ct6 = Get-Map cilium_ct6_global
        $ct6.MapType | Should -Be 'lru_percpu_hash'
        $ct6.KeySize | Should -Be 38
        $ct6.ValueSize | Should -Be 56 -Because 'value_size is one CPU''s slot'
        $ct6.Entries | Should -Be 25
        $ct6.Table | Should -Be 'IPv6 TCP'
        $any6 = Get-Map cilium_ct_any6_global
        $any6.MapType | Should -Be 'percpu_hash'
        $any6.Entries | Should -Be 128
        $any6.UsagePercent | Should -Be 100
        $cali = Get-Map cali_v4_ct3
        $cali.MapType, $cali.Owner, $cali.Table, $cali.KeySize, $cali.ValueSize, $cali.Entries | Should -Be 'percpu_hash', 'Calico', 'IPv4', 16, 88, 10
    }

    It 'stops at the key cap on an LRU map too, and says so' {
        $capped = @(Get-ConntrackBpfMap -Path $globals -MaxKeys 50 -WarningVariable w 3>$null) | Where-Object Name -eq cilium_ct4_global
        $capped.Entries | Should -Be 50
        $capped.EntriesComplete | Should -BeFalse
        ($w -join "`n") | Should -BeLike '*cilium_ct4_global: only 50 keys were counted*'
    }

    It 'reports an LRU map that evicted, and Test-ConntrackHealth names the full tables' {
        $small = Get-Map cilium_ct4_00042
        $small.MapType | Should -Be 'lru_hash'
        $small.MaxEntries | Should -Be 64
        $small.Entries | Should -BeLessOrEqual 64 -Because 'an LRU map evicts rather than grow past max_entries'
        $small.Entries | Should -BeGreaterThan 0
        $small.EntriesComplete | Should -BeTrue
        $full = $health | Where-Object Message -like '*cilium_ct_any6_global*'
        $full.Severity | Should -Be 'Critical'
        $full.Message | Should -BeLike '*holds 128 of 128 (100 %)*'
        $ct4 = $health | Where-Object Message -like '*map cilium_ct4_global holds*'
        $ct4.Severity | Should -Be 'Info' -Because '300 of 1024 is not full'
        $ct4.Message | Should -BeLike '*holds 300 of 1,024 (29.3 %)*It is an LRU map*evicts its least recently used entries*'
        ($health | Where-Object Message -like '*map cilium_ct4_00042 holds*').Message | Should -BeLike '*LRU map*evicts its least recently used entries*'
        $full.Message | Should -Not -BeLike '*LRU*' -Because 'a per-CPU hash refuses new entries when full; it does not evict'
    }
}
