#!/usr/bin/env bash
# Fetches Debian's own kernel packages (bullseye 5.10, bookworm 6.1, trixie 6.12) through a private apt
# configuration: the tier's own sources list, state and cache under $CT_VM_CACHE/apt, so the machine's /etc/apt
# is read (for the mirror it already uses) but never changed. Each kernel is unpacked once into
# $CT_VM_CACHE/kernels/<package>_<version>/ (vmlinuz + lib/modules); a second run finds it and does nothing.
# Prints one line per kernel: "<suite> <release> <package version> <folder>".
set -euo pipefail
. "$(dirname "$0")/common.sh"

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(bullseye bookworm trixie)
mirror=$(vm_mirror)

for suite in "${suites[@]}"; do
  vm_apt_update "$suite" "$mirror" >&2
  read -r image_pkg version _ < <(vm_resolve "$suite")
  dest="$CT_VM_CACHE/kernels/${image_pkg}_${version}"
  if [ ! -e "$dest/.done" ]; then
    debs="$CT_VM_CACHE/debs/$suite"
    mkdir -p "$debs"
    ( cd "$debs" && vm_apt "$suite" get download "$image_pkg" >&2 )
    rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
    deb=$(ls "$debs"/"${image_pkg}"_*.deb | head -n 1)
    dpkg-deb -x "$deb" "$dest.tmp"
    # Debian keeps modules in lib/modules (5.10, 6.1) or usr/lib/modules (6.12, merged /usr): one place for the tier.
    if [ -d "$dest.tmp/usr/lib/modules" ] && [ ! -d "$dest.tmp/lib/modules" ]; then
      mkdir -p "$dest.tmp/lib" && mv "$dest.tmp/usr/lib/modules" "$dest.tmp/lib/modules"
    fi
    release=$(ls "$dest.tmp/lib/modules" | head -n 1)
    # The package ships no modules.dep (postinst runs depmod): build it the way the installed system would.
    depmod -b "$dest.tmp" "$release"
    printf '%s\n' "$release" >"$dest.tmp/release"
    printf '%s\n' "$version" >"$dest.tmp/version"
    touch "$dest.tmp/.done"
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
  fi
  printf '%s %s %s %s\n' "$suite" "$(cat "$dest/release")" "$version" "$dest"
done
