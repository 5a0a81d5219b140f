BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:realKernelSkip = Get-RealKernelSkipReason
    if (-not $realKernelSkip -and -not (Test-Path /dev/kmsg)) { $script:realKernelSkip = 'no /dev/kmsg to log table-full lines to' }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

# The kernel numbers namespaces with the lowest free proc inode, so a namespace made right after another is
# deleted usually gets its number, and with it the older "table full in netns N" lines. Namespace A's lines are
# written to /dev/kmsg (the kernel's own text, so the global max is never touched); then A is deleted and B is
# made until it holds A's number. None of A's lines may be counted for B, or given B's name.
Describe 'Table-full messages of a namespace whose inode number was reused' -Tag RealKernel -Skip:([bool]$realKernelSkip) {
    BeforeAll {
        $script:start = (Get-Date).AddSeconds(-2)
        $script:a = "ctt-reuse-a-$PID"
        $script:b = "ctt-reuse-b-$PID"
        & ip netns add $a
        $script:inode = (& stat -L -c %i "/run/netns/$a")
        foreach ($i in 1..5) {
            [IO.File]::AppendAllText('/dev/kmsg', "<4>nf_conntrack: nf_conntrack: table full in netns $inode, dropping packet`n")
        }
        $script:beforeDelete = @(Get-ConntrackNamespace -WarningAction SilentlyContinue | Where-Object Name -eq $a)
        Start-Sleep -Seconds 3
        & ip netns delete $a
        $script:reused = $false
        foreach ($try in 1..10) {
            Start-Sleep -Milliseconds 500
            & ip netns add $b
            if ((& stat -L -c %i "/run/netns/$b") -eq $inode) { $script:reused = $true; break }
            & ip netns delete $b
        }

        if ($reused) {
            $script:listed = @(Get-ConntrackNamespace -WarningVariable w -WarningAction SilentlyContinue | Where-Object Name -eq $b)
            $script:warnings = @($w | ForEach-Object Message)
            $script:health = @(Test-ConntrackHealth -NetworkNamespace $b | Where-Object Check -eq 'TableFullEvents')
            $script:hostHealth = @(Test-ConntrackHealth | Where-Object { $_.Check -eq 'Namespaces' -and $_.Message -like '*Table-full messages name*' })
            $script:drops = @(Get-ConntrackDropEvent -Since $start | Where-Object NetworkNamespace -eq $inode)
            # B's own overflow, after it was made, still counts.
            [IO.File]::AppendAllText('/dev/kmsg', "<4>nf_conntrack: nf_conntrack: table full in netns $inode, dropping packet`n")
            Start-Sleep -Milliseconds 200
            $script:afterOwn = @(Get-ConntrackNamespace -WarningAction SilentlyContinue | Where-Object Name -eq $b)
            $script:ownDrops = @(Get-ConntrackDropEvent -Since $start | Where-Object NetworkNamespace -eq $inode)
        }
    }
    AfterAll {
        & ip netns delete $script:a 2>$null
        & ip netns delete $script:b 2>$null
    }

    It 'counted the lines for A while A existed' {
        $beforeDelete.Count | Should -Be 1
        $beforeDelete[0].TableFullMessages | Should -BeGreaterOrEqual 5
    }

    It 'counts none of A''s lines for B, and warns once that the number was reused' {
        if (-not $reused) { Set-ItResult -Skipped -Because "no new namespace got inode $inode back in 10 tries (another process took it)"; return }
        $listed.Count | Should -Be 1
        $listed[0].TableFullMessages | Should -Be 0
        $listed[0].LastTableFull | Should -BeNullOrEmpty
        $reuse = @($warnings | Where-Object { $_ -like '*inode numbers that belonged to network namespaces now gone*' })
        $reuse.Count | Should -Be 1
        [long]([regex]::Match($reuse[0], '^(\d+) table-full').Groups[1].Value) | Should -BeGreaterOrEqual 5
    }

    It 'gives B no Critical TableFullEvents, and says why the older lines were left out' {
        if (-not $reused) { Set-ItResult -Skipped -Because "no new namespace got inode $inode back"; return }
        $health.Count | Should -Be 1
        $health[0].Severity | Should -Be 'Ok'
        $health[0].Message | Should -BeLike '*older messages name its inode number*'
    }

    It 'does not give B''s name or owner to A''s drop events, on their own or in the host''s check' {
        if (-not $reused) { Set-ItResult -Skipped -Because "no new namespace got inode $inode back"; return }
        $drops.Count | Should -BeGreaterOrEqual 5
        $drops | ForEach-Object {
            $_.NamespaceName | Should -Be 'gone'
            $_.Owner | Should -Be 'gone'
        }
        $hostHealth.Count | Should -Be 1
        $hostHealth[0].Message | Should -BeLike "*$inode (gone)*"
        $hostHealth[0].Message | Should -Not -BeLike "*ip netns $b*"
    }

    It 'still counts and names B''s own lines, logged after it was made' {
        if (-not $reused) { Set-ItResult -Skipped -Because "no new namespace got inode $inode back"; return }
        $afterOwn[0].TableFullMessages | Should -Be 1
        $mine = @($ownDrops | Where-Object NamespaceName -eq $b)
        $mine.Count | Should -Be 1
        $mine[0].Owner | Should -Be "ip netns $b"
    }
}
