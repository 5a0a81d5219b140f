# What a change costs: Set-ConntrackLimit -PersistOnly on a copy of the 6.18 fixture (probe, plan, lock, kernel
# write, read-back, atomic sysctl.d rewrite, plan again under the lock), a rerun that changes nothing, and the
# sysctl.conf rewriter alone on a 10,000-line file. Figures only; nothing is asserted.
param([Parameter(Mandatory)] [string] $ModulePath, [int] $Runs = 200)
$ErrorActionPreference = 'Stop'
Import-Module $ModulePath
$work = Join-Path ([IO.Path]::GetTempPath()) ("ctt-bench-" + [guid]::NewGuid().ToString('n'))
Copy-Item (Join-Path $PSScriptRoot '../../tests/fixtures/linux-6.18-builtin') $work -Recurse
try {
    $null = Set-ConntrackLimit -Root $work -Max 100000 -PersistOnly   # warm up
    $changing = Measure-Command { for ($i = 1; $i -le $Runs; $i++) { Set-ConntrackLimit -Root $work -Max (200000 + $i) -PersistOnly } }
    $idle = Measure-Command { for ($i = 1; $i -le $Runs; $i++) { Set-ConntrackLimit -Root $work -Max (200000 + $Runs) -PersistOnly } }
    # A runspace without a host, so the "What if:" lines are not printed 200 times.
    $ps = [powershell]::Create()
    $null = $ps.AddScript("Import-Module '$ModulePath'; for (`$i = 1; `$i -le $Runs; `$i++) { Set-ConntrackLimit -Root '$work' -Max 300000 -PersistOnly -WhatIf }")
    $whatIf = Measure-Command { $null = $ps.Invoke() }
    $ps.Dispose()
    '{0,-44} {1,8:N2} ms' -f 'Set-ConntrackLimit -PersistOnly (changing)', ($changing.TotalMilliseconds / $Runs)
    '{0,-44} {1,8:N2} ms' -f 'Set-ConntrackLimit -PersistOnly (already set)', ($idle.TotalMilliseconds / $Runs)
    '{0,-44} {1,8:N2} ms' -f 'Set-ConntrackLimit -PersistOnly -WhatIf', ($whatIf.TotalMilliseconds / $Runs)

    $lines = foreach ($i in 1..10000) { if ($i % 10) { "net.ipv4.conf.if$i.rp_filter = 1" } else { "# comment $i" } }
    $big = Join-Path $work 'etc/sysctl.conf'
    Remove-Item (Join-Path $work 'etc/sysctl.d') -Recurse
    Set-Content $big $lines
    $before = [GC]::GetTotalAllocatedBytes($true)
    $rewrite = Measure-Command { for ($i = 1; $i -le 20; $i++) { Set-ConntrackLimit -Root $work -Max (400000 + $i) -PersistOnly } }
    $allocated = ([GC]::GetTotalAllocatedBytes($true) - $before) / 20
    '{0,-44} {1,8:N2} ms, {2:N1} MiB allocated per run' -f 'PersistOnly into a 10,000-line sysctl.conf', ($rewrite.TotalMilliseconds / 20), ($allocated / 1MB)
}
finally {
    Remove-Item $work -Recurse -Force -ErrorAction Ignore
}
