#!/usr/bin/env bash
# Builds the minimal x86-64 kernel the gpio-sim VM test boots (deploy/gpio-sim/run-vm.sh):
# Debian's linux-source-6.1, `make tinyconfig` plus deploy/gpio-sim/kernel.config. Prints the
# bzImage's path. The image is cached in build/gpio-sim/ under a key made of the source package's
# version, the options and this script, so a second run is instant.
#   deploy/gpio-sim/build-kernel.sh
# Needs: linux-source-6.1 gcc make bc flex bison libelf-dev (about 4 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TARBALL=/usr/src/linux-source-6.1.tar.xz
[ -f "$TARBALL" ] || { echo "build-kernel: $TARBALL missing: apt-get install linux-source-6.1" >&2; exit 1; }
for tool in gcc make bc flex bison; do
  command -v "$tool" >/dev/null || { echo "build-kernel: $tool missing: apt-get install gcc make bc flex bison libelf-dev" >&2; exit 1; }
done
SRC_VERSION=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || stat -c %Y "$TARBALL")
KEY=$( (echo "$SRC_VERSION"; cat deploy/gpio-sim/kernel.config deploy/gpio-sim/build-kernel.sh) | sha256sum | cut -c1-16)
OUT=$ROOT/build/gpio-sim
IMAGE=$OUT/bzImage-$KEY
if [ -f "$IMAGE" ]; then echo "$IMAGE"; exit 0; fi

mkdir -p "$OUT"
# One build at a time (two test runs at once would race on the source tree).
exec 9>"$OUT/.lock"
flock 9
if [ -f "$IMAGE" ]; then echo "$IMAGE"; exit 0; fi
SRC=$OUT/linux-source-6.1
if [ ! -f "$SRC/.extracted" ]; then
  echo "build-kernel: extracting $TARBALL" >&2
  rm -rf "$SRC"
  tar -xJf "$TARBALL" -C "$OUT"
  touch "$SRC/.extracted"
fi
LOG=$OUT/build-$KEY.log
echo "build-kernel: make tinyconfig + deploy/gpio-sim/kernel.config (log: $LOG)" >&2
{
  make -C "$SRC" ARCH=x86_64 tinyconfig
  # tinyconfig's options plus ours; olddefconfig settles the dependencies.
  cat deploy/gpio-sim/kernel.config >>"$SRC/.config"
  make -C "$SRC" ARCH=x86_64 olddefconfig
} >"$LOG" 2>&1
# Every option asked for must have survived olddefconfig (a missing dependency drops it silently).
missing=$(grep -E '^CONFIG_[A-Z0-9_]+=y' deploy/gpio-sim/kernel.config | while read -r opt; do
  grep -qx "$opt" "$SRC/.config" || echo "${opt%=y}"
done)
[ -z "$missing" ] || { echo "build-kernel: options not set after olddefconfig: $missing" >&2; exit 1; }
echo "build-kernel: make bzImage -j$(nproc)" >&2
if ! make -C "$SRC" ARCH=x86_64 -j"$(nproc)" bzImage >>"$LOG" 2>&1; then
  tail -30 "$LOG" >&2
  echo "build-kernel: the kernel build failed (whole log: $LOG)" >&2
  exit 1
fi
cp "$SRC/arch/x86/boot/bzImage" "$IMAGE.tmp"
mv "$IMAGE.tmp" "$IMAGE"
echo "$IMAGE"
