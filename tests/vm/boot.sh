#!/usr/bin/env bash
# Boots a root tree as a real machine: packs it into a raw ext4 image (mke2fs -d: no loop device, no mount),
# boots the tree's own kernel and initramfs under QEMU (TCG) with the virtio disk as root, and copies the serial
# console to <log>. The tree's report unit prints the values and powers off. Each further log is another boot of
# the same disk, a power cycle: the next boot finds what the previous one wrote (a guest's reboot, with QEMU's
# -no-reboot turning it into a fresh start). Prints "boot <n> <seconds>" per boot.
# Usage: boot.sh <tree> <memory> <log> [<log>...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

tree=$1 mem=$2; shift 2
logs=("$@")
[ ${#logs[@]} -gt 0 ] || { echo "usage: boot.sh <tree> <memory> <log> [<log>...]" >&2; exit 2; }
kernel=$(ls "$tree"/boot/vmlinuz-* | sort -V | tail -n 1)
release=${kernel##*/vmlinuz-}
mods=$(ls -d "$tree/lib/modules/$release" "$tree/usr/lib/modules/$release" 2>/dev/null | head -n 1)
[ -n "$mods" ] || { echo "no modules for $release in $tree" >&2; exit 1; }

# The tier's own initramfs for this kernel (cached by kernel and script): busybox mounts the virtio disk.
key=$( (sha256sum "$kernel" | cut -c1-16; cat "$here/guest/boot-init" "$here/common.sh") | sha256sum | cut -c1-16)
initrd="$CT_VM_CACHE/initrd/boot-$release-$key.cpio.gz"
if [ ! -e "$initrd" ]; then
  mkdir -p "$CT_VM_CACHE/initrd"
  work=$(mktemp -d)
  mkdir -p "$work/bin" "$work/proc" "$work/sys" "$work/dev"
  cp /bin/busybox "$work/bin/busybox"
  cp "$here/guest/boot-init" "$work/init"
  vm_pack_modules "$mods" "$work/modules" virtio_pci virtio_blk ext4 >"$work/modules.order"
  ( cd "$work" && find . | cpio -o -H newc --quiet | gzip -1 >"$initrd.tmp" )
  rm -rf "$work"
  mv "$initrd.tmp" "$initrd"
fi

disk=$(mktemp --suffix=.ext4 -p "${TMPDIR:-/tmp}")
trap 'rm -f "$disk"' EXIT
size_mb=$(( $(du -sm "$tree" | cut -f1) + 256 ))
truncate -s "${size_mb}M" "$disk"
mke2fs -q -F -t ext4 -L root -d "$tree" "$disk"

vmlinux="$CT_VM_CACHE/vmlinux/$(sha256sum "$kernel" | cut -c1-16)"
mkdir -p "$CT_VM_CACHE/vmlinux"
vm_vmlinux "$kernel" "$vmlinux"
for attempt in 1 2; do
  n=0 ok=1
  for log in "${logs[@]}"; do
    n=$((n + 1))
    start=$(vm_now)
    vm_qemu -m "$mem" -kernel "$vmlinux" -initrd "$initrd" -drive "file=$disk,format=raw,if=virtio" \
      -append "root=/dev/vda rw rootfstype=ext4 console=ttyS0 panic=-1 no_timer_check quiet systemd.show_status=0" -serial "file:$log"
    printf 'boot %d %.1f\n' "$n" "$(echo "$(vm_now) - $start" | bc)"
    grep -q CT-REPORT-END "$log" && continue
    # A stalled emulated boot (a loaded host starves its timers) gets one retry of the whole sequence; the disk
    # is rebuilt, since the earlier boots wrote to it.
    mkdir -p "$CT_VM_CACHE/failed" && cp "$log" "$CT_VM_CACHE/failed/"
    echo "boot $n of $tree with $mem did not report (attempt $attempt): see $CT_VM_CACHE/failed/${log##*/}" >&2
    ok=0
    break
  done
  [ $ok = 1 ] && exit 0
  mke2fs -q -F -t ext4 -L root -d "$tree" "$disk"
done
exit 1
