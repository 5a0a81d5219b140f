#!/usr/bin/env bash
# Boots a root tree as a real machine: packs it into a raw ext4 image (mke2fs -d: no loop device, no mount),
# boots the tree's own kernel and initramfs under QEMU (TCG) with the virtio disk as root, and copies the serial
# console to <log>. The tree's report unit prints the values and powers off.
# Usage: boot.sh <tree> <memory> <log>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

tree=$1 mem=$2 log=$3
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
  vm_qemu -m "$mem" -kernel "$vmlinux" -initrd "$initrd" -drive "file=$disk,format=raw,if=virtio" \
    -append "root=/dev/vda rw rootfstype=ext4 console=ttyS0 panic=-1 no_timer_check quiet systemd.show_status=0" -serial "file:$log"
  grep -q CT-REPORT-END "$log" && exit 0
  # A stalled emulated boot (a loaded host starves its timers) gets one retry; the disk is rebuilt, since the
  # first attempt may have written to it.
  mkdir -p "$CT_VM_CACHE/failed" && cp "$log" "$CT_VM_CACHE/failed/"
  echo "the boot of $tree with $mem did not report (attempt $attempt): see $CT_VM_CACHE/failed/${log##*/}" >&2
  mke2fs -q -F -t ext4 -L root -d "$tree" "$disk"
done
exit 1
