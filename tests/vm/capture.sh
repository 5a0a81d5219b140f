#!/usr/bin/env bash
# Builds (once, cached by kernel package version) a busybox initramfs for one extracted kernel, then boots it in
# QEMU (TCG) with the given memory sizes and writes each boot's serial output to <out>/<release>_<mem>.log.
# Usage: capture.sh <kernel folder> <out folder> <hashsize> <mem>...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

kdir=$1 out=$2 hashsize=$3; shift 3
release=$(cat "$kdir/release")
mods="$kdir/lib/modules/$release"
# Keyed by the scripts that build it, so a change to either builds a new one.
key=$(cat "$here/guest/capture-init" "$0" | sha256sum | cut -c1-12)
initrd="$kdir/capture-initrd-$key.cpio.gz"
bb=/bin/busybox
[ -x "$bb" ] && "$bb" --list | grep -qx insmod || { echo "busybox-static is not installed" >&2; exit 1; }

if [ ! -e "$initrd" ]; then
  rm -f "$kdir"/capture-initrd-*.cpio.gz
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/bin" "$work/proc" "$work/sys" "$work/modules" "$work/dev"
  cp "$bb" "$work/bin/busybox"
  cp "$here/guest/capture-init" "$work/init"
  vm_pack_modules "$mods" "$work/modules" nf_conntrack >"$work/modules.order"
  ( cd "$work" && find . | cpio -o -H newc --quiet | gzip -1 >"$initrd.tmp" )
  mv "$initrd.tmp" "$initrd"
fi

mkdir -p "$out"
vmlinux="$kdir/vmlinux-$release"
vm_vmlinux "$kdir/boot/vmlinuz-$release" "$vmlinux"
for mem in "$@"; do
  log="$out/${release}_${mem}.log"
  start=$(vm_now)
  # TCG (no KVM assumed); -no-reboot turns a panic into an exit instead of a loop. On a loaded host an emulated
  # boot now and then stalls (its timers starve): one retry, and a kept log when that fails too.
  for attempt in 1 2; do
    vm_qemu -m "$mem" -kernel "$vmlinux" -initrd "$initrd" \
      -append "console=ttyS0 panic=-1 no_timer_check quiet ct_hashsize=$hashsize" -serial "file:$log"
    grep -q CT-DONE "$log" && break
    mkdir -p "$CT_VM_CACHE/failed" && cp "$log" "$CT_VM_CACHE/failed/"
    echo "boot of $release with $mem did not finish (attempt $attempt): see $CT_VM_CACHE/failed/${log##*/}" >&2
  done
  grep -q CT-DONE "$log" || exit 1
  printf 'captured %s with %s in %.1f s\n' "$release" "$mem" "$(echo "$(vm_now) - $start" | bc)" >&2
done
