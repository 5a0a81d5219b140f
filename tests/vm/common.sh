# Shared by the VM tier's scripts. Everything downloaded or built lives under one cache folder outside the clone.
CT_VM_CACHE=${CT_VM_CACHE:-/var/cache/conntracktuning-vm}
export CT_VM_CACHE
mkdir -p "$CT_VM_CACHE"

# The Debian mirror this machine's apt already uses (never written into the repository): the first URI of a
# "debian" archive (not security, not a third-party repository) in sources.list or a deb822 .sources file.
vm_mirror() {
  local uri
  uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk 'tolower($1)=="uris:" {for (i=2;i<=NF;i++) print $i}' |
    grep -E '/debian/?$' | head -n 1 || true)
  if [ -z "$uri" ]; then
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | grep -E '^deb ' |
      sed -E 's/\[[^]]*\]//' | awk '{print $2}' | grep -E '/debian/?$' | head -n 1 || true)
  fi
  [ -n "$uri" ] || { echo "the machine's apt configuration names no Debian mirror" >&2; return 1; }
  printf '%s\n' "${uri%/}"
}

# The archive keyring: trixie's keys come in debian-archive-keyring 2023.3+ (bookworm's own copy has them).
vm_keyring() {
  local k=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -r "$k" ] || { echo "install debian-archive-keyring: $k is missing" >&2; return 1; }
  printf '%s\n' "$k"
}

# apt-get / apt-cache with the tier's private configuration for one suite.
vm_apt() {
  local suite=$1 tool=$2; shift 2
  local base="$CT_VM_CACHE/apt/$suite"
  "apt-$tool" -q -o Dir::Etc::SourceList="$base/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::Etc::Preferences="$base/preferences" -o Dir::Etc::PreferencesParts=/dev/null \
    -o Dir::State="$base/state" -o Dir::Cache="$base/cache" -o Dir::State::status="$base/state/status" \
    -o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o Debug::NoLocking=1 "$@"
}

vm_apt_update() {
  local suite=$1 mirror=$2
  local base="$CT_VM_CACHE/apt/$suite"
  mkdir -p "$base/state/lists/partial" "$base/cache/archives/partial"
  touch "$base/state/status" "$base/preferences"
  printf 'deb [signed-by=%s] %s %s main\n' "$(vm_keyring)" "$mirror" "$suite" >"$base/sources.list"
  # Once a day is enough: the kernel packages of a released suite change only at point releases.
  if [ -z "$(find "$base/state/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]; then
    vm_apt "$suite" get update
  fi
}

vm_now() { date +%s.%N; }

# The uncompressed kernel inside a bzImage, for QEMU's PVH entry: TCG then skips the real-mode set-up and the
# in-guest decompression, several seconds of emulated work per boot. Cached beside the bzImage.
vm_vmlinux() {
  local bz=$1 out=$2
  [ -s "$out" ] && return 0
  python3 - "$bz" "$out.tmp" <<'PY'
import lzma, subprocess, sys
data = open(sys.argv[1], 'rb').read()
xz, zst = data.find(b'\xfd7zXZ\x00'), data.find(b'\x28\xb5\x2f\xfd')
if xz >= 0 and (zst < 0 or xz < zst):
    out = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[xz:])
elif zst >= 0:
    out = subprocess.run(['zstd', '-qdc'], input=data[zst:], capture_output=True).stdout
else:
    sys.exit('no xz or zstd payload in ' + sys.argv[1])
if out[:4] != b'\x7fELF':
    sys.exit('the payload of ' + sys.argv[1] + ' is not an ELF kernel')
open(sys.argv[2], 'wb').write(out)
PY
  mv "$out.tmp" "$out"
}

# One QEMU at a time on a shared machine: every boot of the tier takes this lock.
vm_qemu() {
  exec 9>"$CT_VM_CACHE/qemu.lock"
  flock 9
  timeout "${VM_TIMEOUT:-300}" qemu-system-x86_64 -machine pc -nodefaults -accel tcg -cpu max -smp 1 -no-reboot \
    -nographic -monitor none -display none "$@" </dev/null >/dev/null 2>&1 || true
  exec 9>&-
}

# Copies modules and everything they need (modules.dep, plus the soft dependencies: libcrc32c wants the crc32c
# algorithm, which nothing in an initramfs without modprobe would load) into <dest>, decompressed for busybox
# insmod, and prints their names in load order (dependencies first).
# Usage: vm_pack_modules <lib/modules/release folder> <dest> <module>...
vm_pack_modules() {
  local mods=$1 dest=$2; shift 2
  local order=()
  mkdir -p "$dest"
  _vm_add() {
    local name=$1 line path dep soft done_
    for done_ in "${order[@]:-}"; do [ "$done_" = "$name" ] && return 0; done
    # Module names treat '-' and '_' alike (crc32c_intel is crc32c-intel.ko).
    line=$(grep -E "(^|/)${name//_/[-_]}\.ko(\.[a-z]+)?:" "$mods/modules.dep" | head -n 1)
    [ -n "$line" ] || { echo "module $name is not in $mods/modules.dep" >&2; return 1; }
    soft=$(awk -v m="$name" '$1=="softdep" && $2==m {p=0; for (i=3;i<=NF;i++) { if ($i=="pre:") p=1; else if ($i=="post:") p=0; else if (p) print $i }}' "$mods/modules.softdep" 2>/dev/null || true)
    for dep in $soft; do
      # An alias may name several modules (crc32c: crc32c_intel, crc32c_generic): the generic one runs on any CPU.
      dep=$(awk -v a="$dep" '$1=="alias" && $2==a {print $3}' "$mods/modules.alias" 2>/dev/null | grep -m1 _generic || true)
      [ -n "$dep" ] && _vm_add "$dep"
    done
    for dep in ${line#*:}; do
      dep=${dep##*/}; dep=${dep%%.ko*}; dep=${dep//-/_}
      _vm_add "$dep"
    done
    path=${line%%:*}
    case "$path" in
      *.ko.xz) xz -dc "$mods/$path" >"$dest/$name.ko" ;;
      *.ko.zst) zstd -qdc "$mods/$path" >"$dest/$name.ko" ;;
      *.ko.gz) gzip -dc "$mods/$path" >"$dest/$name.ko" ;;
      *) cp "$mods/$path" "$dest/$name.ko" ;;
    esac
    order+=("$name")
  }
  local m
  for m in "$@"; do _vm_add "$m"; done
  printf '%s\n' "${order[@]}"
}

# "<kernel image package> <its version> <systemd version>" of a suite, resolved once per apt update (the answer
# is kept beside the lists and redone only when they are newer): apt-cache on a loaded machine takes seconds.
vm_resolve() {
  local suite=$1 base="$CT_VM_CACHE/apt/$1" pkg kver sver
  local kept="$base/resolved"
  if [ -s "$kept" ] && [ -z "$(find "$base/state/lists" -maxdepth 1 -newer "$kept" -name '*Packages*' | head -n 1)" ]; then
    cat "$kept"
    return 0
  fi
  # linux-image-amd64 is the suite's metapackage; its first Depends is the versioned image package.
  pkg=$(vm_apt "$suite" cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [ -n "$pkg" ] || { echo "no linux-image package found in $suite" >&2; return 1; }
  kver=$(vm_apt "$suite" cache show --no-all-versions "$pkg" | awk '/^Version:/ {print $2; exit}')
  sver=$(vm_apt "$suite" cache show --no-all-versions systemd | awk '/^Version:/ {print $2; exit}')
  printf '%s %s %s\n' "$pkg" "$kver" "$sver" | tee "$kept"
}
