#!/usr/bin/env bash
# Builds a minimal Debian system with mmdebstrap (systemd, kmod, udev and the distribution's kernel) into
# $CT_VM_CACHE/images/<suite>_<kernel package version>_<systemd version>/, once: the folder name is the cache
# key, so a new point release builds a new tree and an unchanged suite reuses the old one at once.
# The tree gets a report unit that loads nf_conntrack late, the way a firewall does (after systemd-sysctl has run),
# prints the values the boot applied on the serial console and powers the machine off.
# Prints "<suite> <folder> <kernel release>".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

suite=$1
mirror=$(vm_mirror)
vm_apt_update "$suite" "$mirror" >&2
read -r image_pkg kver sver < <(vm_resolve "$suite")
# Units a one-shot test boot has no use for; under TCG udev's coldplug alone costs many seconds. systemd-sysctl,
# systemd-modules-load and the rest of sysinit.target stay: they are what the tier tests.
masked="getty@tty1.service serial-getty@ttyS0.service apt-daily.timer apt-daily-upgrade.timer e2scrub_reap.service
  systemd-timesyncd.service systemd-udev-trigger.service systemd-udevd.service systemd-udevd-control.socket
  systemd-udevd-kernel.socket modprobe@.service systemd-logind.service"
masked=$(echo $masked)
# The key: the suite's kernel and systemd versions, and this script with the guest files it installs.
key=$(cat "$here/image.sh" "$here"/guest/ct-report "$here"/guest/ct-report.service "$here"/guest/initramfs-hook | sha256sum | cut -c1-8)
dest="$CT_VM_CACHE/images/${suite}_${kver}_${sver}_${key}"
if [ ! -e "$dest/.done" ]; then
  rm -rf "$dest.tmp" && mkdir -p "$CT_VM_CACHE/images"
  # MODULES=list keeps the initramfs to the few modules a virtio disk needs, which update-initramfs builds in
  # seconds instead of packing every driver (the tree is only ever booted by QEMU).
  mmdebstrap --variant=minbase --mode=root \
    --include=systemd,systemd-sysv,kmod,udev,"$image_pkg" \
    --keyring="$(vm_keyring)" \
    --aptopt='Acquire::Languages "none"' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --setup-hook='mkdir -p "$1/etc/initramfs-tools/conf.d"' \
    --setup-hook='printf "MODULES=list\nCOMPRESS=gzip\n" >"$1/etc/initramfs-tools/conf.d/vm.conf"' \
    --setup-hook='mkdir -p "$1/etc/initramfs-tools/hooks"' \
    --setup-hook="cp '$here/guest/initramfs-hook' \"\$1/etc/initramfs-tools/hooks/ct-vm\"" \
    --customize-hook="cp '$here/guest/ct-report' \"\$1/usr/local/sbin/ct-report\"" \
    --customize-hook='chmod 755 "$1/usr/local/sbin/ct-report"' \
    --customize-hook="cp '$here/guest/ct-report.service' \"\$1/etc/systemd/system/ct-report.service\"" \
    --customize-hook='chroot "$1" systemctl enable ct-report.service' \
    --customize-hook="chroot \"\$1\" systemctl mask $masked" \
    --customize-hook='echo ctvm >"$1/etc/hostname"' \
    --customize-hook='rm -rf "$1/var/cache/apt/archives/"*.deb "$1/var/lib/apt/lists/"*' \
    "$suite" "$dest.tmp" "$mirror" >&2
  touch "$dest.tmp/.done"
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
fi
release=$(ls "$dest/lib/modules" 2>/dev/null || ls "$dest/usr/lib/modules")
printf '%s %s %s\n' "$suite" "$dest" "$release"
