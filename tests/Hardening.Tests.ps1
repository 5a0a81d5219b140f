# Issue 13's reproductions that show at the cmdlets: parameter bounds, a NUL in -Root, the manifest's links, and a
# capture that gets no run-time write. The file layer's own reproductions are xunit's HostileTreeTests.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    function Get-Err([scriptblock] $Command) {
        $ErrorActionPreference = 'Continue'
        @(& $Command 2>&1 | Where-Object { $_ -is [Management.Automation.ErrorRecord] })
    }
}

Describe 'Values past the kernel''s bound' {
    It '<Command> -<Parameter> <Value> is a parameter error that names the kernel''s bound' -ForEach @(
        @{ Command = 'Set-ConntrackLimit'; Parameter = 'Max'; Value = 2147483648; Bound = '2147483647' }
        @{ Command = 'Set-ConntrackLimit'; Parameter = 'Max'; Value = 9999999999999; Bound = '2147483647' }
        @{ Command = 'Set-ConntrackHashSize'; Parameter = 'HashSize'; Value = 2147483648; Bound = '268435455' }
        @{ Command = 'Set-ConntrackTimeout'; Parameter = 'Seconds'; Value = 2147483648; Bound = '2147483647' }
    ) {
        $root = Copy-Fixture linux-6.18-builtin
        $arguments = @{ Root = $root; $Parameter = $Value; PersistOnly = $true }
        if ($Command -eq 'Set-ConntrackTimeout') { $arguments += @{ Protocol = 'tcp'; State = 'established' } }
        $e = { & $Command @arguments } | Should -Throw -ErrorId "ParameterArgumentValidationError,ConntrackTuning.Commands.$($Command -replace '-', '')Command" -PassThru
        $e.Exception.Message | Should -Not -BeLike '*is not the same type*'
        $e.Exception.Message | Should -BeLike "*$Value is above $Bound, the most the kernel accepts*"
        Get-ChildItem "$root/etc/sysctl.d", "$root/etc/modprobe.d" -ErrorAction Ignore | Should -BeNullOrEmpty
    }
}

Describe 'A NUL in -Root' {
    It '<Cmdlet> says so with RootPathInvalid' -ForEach @(
        @{ Cmdlet = 'Get-ConntrackLimit' }, @{ Cmdlet = 'Get-ConntrackEntry' }, @{ Cmdlet = 'Get-ConntrackKernel' }
    ) {
        $err = Get-Err { & $Cmdlet -Root "/tmp/a`0b" }
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be "RootPathInvalid,ConntrackTuning.Commands.$($Cmdlet -replace '-', '')Command"
        $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err[0].Exception.Message | Should -BeLike '*NUL character*'
    }
}

Describe 'A capture is not the running system' {
    It 'Set-ConntrackHashSize on a sosreport whose hashsize file is writable changes nothing and says why' {
        # Not through Copy-Fixture: its copies stand in for a kernel; this one is a capture like any a user names.
        $root = Join-Path $TestDrive 'sosreport'
        Copy-Item -Recurse (Join-Path $FixtureRoot 'sosreport-rhel8-4.18') $root
        $file = "$root/sys/module/nf_conntrack/parameters/hashsize"
        [IO.File]::SetUnixFileMode($file, [IO.UnixFileMode]'UserRead, UserWrite, GroupRead, OtherRead')
        $before = Get-Content -Raw $file
        $err = Get-Err { Set-ConntrackHashSize -Root $root -HashSize 131072 -Force }
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be 'SettingReadOnly,ConntrackTuning.Commands.SetConntrackHashSizeCommand'
        $err[0].Exception.Message | Should -BeLike '*is not the running system*'
        Get-Content -Raw $file | Should -Be $before
        (Get-ConntrackKernel -Root $root).CanSetHashSize | Should -BeFalse
    }

    It 'Set-ConntrackTimeout on a capture names the timeout it was asked to change in its refusal' {
        $root = Join-Path $TestDrive 'capture-6.18'
        Copy-Item -Recurse (Join-Path $FixtureRoot 'linux-6.18-builtin') $root
        $err = Get-Err { Set-ConntrackTimeout -Root $root -Protocol tcp -State established -Seconds 86400 }
        $err.Count | Should -Be 1
        $err[0].Exception.Message | Should -BeLike "*$root/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established only records a value*"
        $err[0].Exception.Message | Should -Not -BeLike '*frag6*'
    }

    It 'a -Root that is a link to / is this machine' {
        # Never in TestDrive: Pester's clean-up walks the test drive recursively and would follow the link into /.
        $link = Join-Path ([IO.Path]::GetTempPath()) "ctt-slash-$([guid]::NewGuid().ToString('n'))"
        $null = [IO.File]::CreateSymbolicLink($link, '/')
        try {
            (Get-ConntrackKernel -Root $link).Root | Should -Be (Get-ConntrackKernel).Root
        }
        finally {
            [IO.File]::Delete($link)   # unlink: removes the link, never what it points at
        }
    }
}

# The running system's own configuration folders, each covered by a private tmpfs in a throwaway mount namespace
# (unshare -m): the real /etc is never touched, yet the module reads "/" as the live system it is.
Describe 'A configuration file of the running system that is a link to /etc/shadow' -Skip:(
    -not $IsLinux -or (& id -u) -ne '0' -or -not (Get-Command unshare -ErrorAction Ignore) -or -not (Test-Path /etc/shadow) -or -not (Test-Path /etc/sysctl.d -PathType Container)) {
    It 'is named in the warnings of <Command>, and none of its lines is quoted' -ForEach @(
        @{ Command = 'Get-ConntrackLimit' }, @{ Command = 'Test-ConntrackHealth' }, @{ Command = 'Get-ConntrackWriter' }, @{ Command = 'Get-ConntrackSetting' }
    ) {
        $work = Join-Path ([IO.Path]::GetTempPath()) ("ctt-shadow-" + [guid]::NewGuid().ToString('n'))
        $null = New-Item -ItemType Directory -Path $work
        try {
            $folders = @('/etc/sysctl.d', '/etc/modprobe.d', '/etc/modules-load.d' | Where-Object { Test-Path $_ -PathType Container })
            $script = @"
`$ErrorActionPreference = 'Continue'
Import-Module '$ModulePath'
& $Command 3>&1 2>&1 | ForEach-Object { "`$_" } | Set-Content -LiteralPath '$work/out.txt'
"@
            Set-Content -LiteralPath "$work/run.ps1" -Value $script
            # Fixed text: the folders are passed as arguments, never spliced into the shell line.
            $setup = 'n=$1; shift; while [ "$n" -gt 0 ]; do mount -t tmpfs tmpfs "$1" && ln -s /etc/shadow "$1/50-shadow.conf" || exit 1; shift; n=$((n - 1)); done; exec "$@"'
            $pwsh = Get-PwshCommand
            $env:NO_COLOR = '1'
            $output = & unshare -m --propagation private -- sh -c $setup sh $folders.Count @folders @pwsh -NoProfile -NonInteractive -File "$work/run.ps1" 2>&1
            $LASTEXITCODE | Should -Be 0 -Because ($output -join "`n")
            $text = Get-Content -Raw -LiteralPath "$work/out.txt"
            $text | Should -Match ([regex]::Escape('/etc/sysctl.d/50-shadow.conf'))
            # Compared without printing: a failure must not show the lines either.
            $lines = @([IO.File]::ReadAllLines('/etc/shadow') | Where-Object { $_.Length -gt 0 })
            $leaked = @($lines | Where-Object { $text.Contains($_.Split(':')[0] + ':') -and $text.Contains($_.Substring(0, [math]::Min(20, $_.Length))) })
            $leaked.Count | Should -Be 0 -Because 'no line of /etc/shadow may be copied into the output'
            Test-Path /etc/sysctl.d/50-shadow.conf | Should -BeFalse -Because 'the link lived in the throwaway mount namespace only'
        }
        finally {
            Remove-Item $work -Recurse -Force -ErrorAction Ignore
        }
    }
}

Describe 'The manifest points only at what exists' {
    It 'has no ProjectUri or LicenseUri, and its release notes and licence ship in the module' {
        $data = (Import-PowerShellDataFile (Join-Path $ModulePath 'ConntrackTuning.psd1')).PrivateData.PSData
        $data.Keys | Should -Not -Contain 'ProjectUri'
        $data.Keys | Should -Not -Contain 'LicenseUri'
        $data.ReleaseNotes | Should -BeLike '*CHANGELOG.md*'
        $data.ReleaseNotes | Should -Not -BeLike '*http*'
        Join-Path $ModulePath 'LICENSE' | Should -Exist
        if (Test-Path (Join-Path $RepoRoot 'CHANGELOG.md')) { Join-Path $ModulePath 'CHANGELOG.md' | Should -Exist }
    }
}
