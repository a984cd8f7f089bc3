#!/usr/bin/env bash
# ARM64 proof under QEMU user-mode emulation, on an x86-64 Debian host, as root:
# installs build/deb/linesight_*_arm64.deb into an arm64 Debian 12 rootfs (debootstrap, kept in
# build/rootfs-arm64), runs `linesight check` with the installed config, then replays the bundled
# footage through the daemon as the linesight user and checks decisions, stored samples and the
# notify protocol (deploy/replay-check.py). Timings under emulation mean nothing; results do.
#
# Path taken, printed at the end:
#   chroot    binfmt_misc runs arm64 programs: real `dpkg -i` in a chroot.
#   qemu -L   no binfmt_misc: the package is unpacked with `dpkg -x`, the maintainer script's
#             effects are scripted, and the arm64 node runs as `qemu-aarch64-static -L ROOTFS`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$PWD
ROOTFS=${ROOTFS:-$ROOT_DIR/build/rootfs-arm64}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEB=$(ls -t build/deb/linesight_*_arm64.deb 2>/dev/null | head -1)
[ -n "$DEB" ] || { echo "test-arm64: no build/deb/linesight_*_arm64.deb: run deploy/build-deb.sh arm64" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "test-arm64: needs root (debootstrap, chroot)" >&2; exit 1; }

t0=$(date +%s)
say() { echo "test-arm64: $* [$(($(date +%s) - t0)) s]"; }

# 1. binfmt_misc: mount it if the host has not, and enable the qemu-aarch64 handler.
binfmt_ok=no
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount binfmt_misc -t binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
fi
if [ -e /proc/sys/fs/binfmt_misc/register ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
fi
if grep -qs enabled /proc/sys/fs/binfmt_misc/qemu-aarch64; then binfmt_ok=yes; fi

# 2. The arm64 rootfs (kept between runs; delete build/rootfs-arm64 to start afresh).
# The package's Depends that a minimal base lacks (libturbojpeg0: native/jpeg-tensor).
PKGS=adduser,libstdc++6,libgcc-s1,init-system-helpers,libturbojpeg0
# A rootfs made for another package list is made again.
if [ "$(cat "$ROOTFS/.linesight-rootfs-ok" 2>/dev/null)" != "$PKGS" ]; then
  rm -rf "$ROOTFS"
  if [ "$binfmt_ok" = yes ]; then
    say "debootstrap --arch arm64 bookworm (both stages through binfmt_misc)"
    debootstrap --arch=arm64 --variant=minbase --include="$PKGS" bookworm "$ROOTFS" "$MIRROR" >"$ROOT_DIR/build/debootstrap-arm64.log" 2>&1 ||
      { tail -20 "$ROOT_DIR/build/debootstrap-arm64.log" >&2; exit 1; }
  else
    say "debootstrap --foreign --arch arm64 bookworm (unpack only: no binfmt_misc)"
    debootstrap --foreign --arch=arm64 --variant=minbase --include="$PKGS" bookworm "$ROOTFS" "$MIRROR" >"$ROOT_DIR/build/debootstrap-arm64.log" 2>&1 ||
      { tail -20 "$ROOT_DIR/build/debootstrap-arm64.log" >&2; exit 1; }
    # Unpack every downloaded package's files (no maintainer scripts can run without binfmt).
    for d in "$ROOTFS"/var/cache/apt/archives/*.deb; do dpkg-deb -x "$d" "$ROOTFS"; done
  fi
  echo "$PKGS" >"$ROOTFS/.linesight-rootfs-ok"
  say "rootfs ready"
else
  say "reusing $ROOTFS"
fi

# A rootfs from a clean install each run: the package's files, user and state from the last run go.
cleanup_mounts() {
  for m in dev/pts dev sys proc; do
    mountpoint -q "$ROOTFS/$m" && umount -l "$ROOTFS/$m" || true
  done
}
trap cleanup_mounts EXIT

TEST_CONFIG=/tmp/linesight-qemu.yaml
write_test_config() {
  # The bundled footage, once (loop: false), at a rate emulation keeps up with; samples stored
  # for every reject and uncertain frame plus a 10% audit share.
  cat >"$ROOTFS$TEST_CONFIG" <<'EOF'
device: {id: qemu-arm64}
camera:
  source: replay
  replay: {path: /usr/share/linesight/footage/round-parts, fps: 4, loop: false}
storage: {path: /var/lib/linesight/linesight.db, audit_fraction: 0.1}
mqtt: {embedded: {port: 18830}, health_interval_s: 5}
drift: {defect_prevalence: 0.4}
http: {port: 18831}
EOF
  chmod 0644 "$ROOTFS$TEST_CONFIG"
}

if [ "$binfmt_ok" = yes ]; then
  PATH_TAKEN="chroot (binfmt_misc + qemu-aarch64-static, real dpkg -i)"
  mount -t proc proc "$ROOTFS/proc"
  # No /sys: the host's x86 CPU topology there makes onnxruntime's arm64 cpuinfo crash under
  # qemu (an emulation artifact; without /sys it falls back and says so). The daemon's
  # temperature and throttling readings are then null, as on any board without them.
  mount --bind /dev "$ROOTFS/dev"
  mount --bind /dev/pts "$ROOTFS/dev/pts"
  in_root() { chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

  if in_root dpkg -s linesight >/dev/null 2>&1; then
    say "purging the previous run's package"
    in_root dpkg --purge --force-remove-reinstreq linesight >/dev/null
  fi
  cp "$DEB" "$ROOTFS/tmp/linesight.deb"
  say "dpkg -i $(basename "$DEB")"
  in_root dpkg -i /tmp/linesight.deb
  in_root dpkg -s linesight | grep -E '^(Status|Version|Architecture):'
  in_root getent passwd linesight >/dev/null || { echo "test-arm64: postinst made no linesight user" >&2; exit 1; }
  in_root id linesight
  [ -f "$ROOTFS/etc/linesight/config.yaml" ] || { echo "test-arm64: no /etc/linesight/config.yaml" >&2; exit 1; }
  in_root /usr/lib/linesight/node/bin/node --version
  RUN_AS=(setpriv --reuid=linesight --regid=linesight --init-groups --)
else
  PATH_TAKEN="qemu-aarch64-static -L rootfs (no binfmt_misc: dpkg -x, scripted postinst)"
  rm -rf "$ROOTFS/usr/lib/linesight" "$ROOTFS/var/lib/linesight"
  say "dpkg -x $(basename "$DEB") (no chroot possible)"
  dpkg -x "$DEB" "$ROOTFS"
  # What base-passwd's and the package's postinst do: the user tables, the user, its directory.
  for f in passwd group; do
    [ -f "$ROOTFS/etc/$f" ] || cp "$ROOTFS/usr/share/base-passwd/$f.master" "$ROOTFS/etc/$f"
  done
  grep -q '^linesight:' "$ROOTFS/etc/passwd" || {
    echo 'linesight:x:999:999:linesight:/var/lib/linesight:/usr/sbin/nologin' >>"$ROOTFS/etc/passwd"
    echo 'linesight:x:999:' >>"$ROOTFS/etc/group"
  }
  install -d -o 999 -g 999 -m 0750 "$ROOTFS/var/lib/linesight"
  in_root() {
    # Absolute paths inside the rootfs are translated by qemu's -L for the ELF interpreter and
    # libraries only, so the program's own paths are given with the rootfs prefix.
    local prog=$1
    shift
    no_sys qemu-aarch64-static -L "$ROOTFS" "$ROOTFS$prog" "$@"
  }
  # Without a chroot the host's /sys shows through (see the chroot path): hide it in a private
  # mount namespace. unshare and sh exec, so the command keeps the caller's pid.
  no_sys() { unshare --mount --propagation private -- sh -c 'mount -t tmpfs none /sys && exec "$0" "$@"' "$@"; }
  RUN_AS=(setpriv --reuid=999 --regid=999 --clear-groups --)
fi
write_test_config

NODE=/usr/lib/linesight/node/bin/node
MAIN=/usr/lib/linesight/dist/src/cli/main.js

# The GPIO addon (arm64, in the package) loads and lists the chips; this machine has none, so
# looking up the Pi 5's chip must give the clear error, not a crash.
if [ "$binfmt_ok" = yes ]; then GPIO_APP=/usr/lib/linesight; else GPIO_APP=$ROOTFS/usr/lib/linesight; fi
GPIO_JS="const m = await import('$GPIO_APP/dist/src/line/gpio-chardev.js');
console.log('gpio addon functions: ' + Object.keys(m.gpioChardev()).join(' '));
console.log('gpio chips: ' + JSON.stringify(m.listChips().chips));
try { m.findChip('pinctrl-rp1'); console.log('found a chip labelled pinctrl-rp1?'); process.exit(1); }
catch (e) { console.log(e.name + ': ' + e.message); }"
say "GPIO addon: load and list chips"
gpio_out=$(in_root "$NODE" --input-type=module -e "$GPIO_JS")
echo "$gpio_out"
grep -q '^gpio addon functions: chipInfo lineInfos request' <<<"$gpio_out" ||
  { echo "test-arm64: the GPIO addon did not load" >&2; exit 1; }
grep -q '^LineSetupError: line.gpio_chip: no GPIO chip on this machine' <<<"$gpio_out" ||
  { echo "test-arm64: no clear 'no GPIO chip' error from the arm64 GPIO backend" >&2; exit 1; }
# The native preprocessing (native/jpeg-tensor) built for arm64: one footage frame, whole and with
# an ROI, against this machine's build of the same code.
say "one frame through the arm64 jpeg-tensor addon"
cp "$(ls footage/round-parts/*.jpg | head -1)" "$ROOTFS/tmp/jpeg-tensor-frame.jpg"
cp deploy/jpeg-tensor-check.mjs "$ROOTFS/tmp/"
node deploy/jpeg-tensor-check.mjs "$ROOT_DIR" "$ROOTFS/tmp/jpeg-tensor-frame.jpg" "$ROOTFS/tmp/jpeg-tensor-ref.bin" --write
if [ "$binfmt_ok" = yes ]; then
  in_root $NODE /tmp/jpeg-tensor-check.mjs /usr/lib/linesight /tmp/jpeg-tensor-frame.jpg /tmp/jpeg-tensor-ref.bin
else
  in_root $NODE "$ROOTFS/tmp/jpeg-tensor-check.mjs" "$ROOTFS/usr/lib/linesight" "$ROOTFS/tmp/jpeg-tensor-frame.jpg" "$ROOTFS/tmp/jpeg-tensor-ref.bin"
fi
if [ "$binfmt_ok" = yes ]; then
  say "linesight check (installed /etc/linesight/config.yaml, as the linesight user)"
  in_root "${RUN_AS[@]}" /usr/bin/linesight check --config /etc/linesight/config.yaml
  say "replaying the bundled footage through the daemon (ExecStart's command, as linesight)"
  SOCK_IN=/run/linesight-notify
  python3 deploy/replay-check.py --socket "$ROOTFS$SOCK_IN" --socket-inside "$SOCK_IN" --min-decided 100 --timeout 900 --watchdog-usec 4000000 --http-url http://127.0.0.1:18831/ -- \
    chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/bin:/bin MALLOC_ARENA_MAX=2 NOTIFY_SOCKET=$SOCK_IN WATCHDOG_USEC=4000000 "${RUN_AS[@]}" \
    $NODE --max-semi-space-size=2 $MAIN run --config $TEST_CONFIG | tee build/arm64-replay.json
  COUNT_JS="const D=require('/usr/lib/linesight/node_modules/better-sqlite3');const d=new D('/var/lib/linesight/linesight.db',{readonly:true});console.log(JSON.stringify(d.prepare('select reason, count(*) n from samples group by reason').all()))"
  samples=$(in_root "${RUN_AS[@]}" $NODE -e "$COUNT_JS")
else
  # Paths in the config and in node's arguments are rootfs-prefixed on this path.
  sed -i "s|/usr/share/linesight|$ROOTFS/usr/share/linesight|; s|/var/lib/linesight|$ROOTFS/var/lib/linesight|" "$ROOTFS$TEST_CONFIG"
  sed "s|/usr/share/linesight|$ROOTFS/usr/share/linesight|; s|/var/lib/linesight|$ROOTFS/var/lib/linesight|" \
    "$ROOTFS/etc/linesight/config.yaml" >"$ROOTFS/tmp/check.yaml"
  say "linesight check (installed config, paths under the rootfs)"
  no_sys qemu-aarch64-static -L "$ROOTFS" "$ROOTFS$NODE" "$ROOTFS$MAIN" check --config "$ROOTFS/tmp/check.yaml"
  say "replaying the bundled footage through the daemon"
  python3 deploy/replay-check.py --socket "$ROOT_DIR/build/linesight-notify" --min-decided 100 --timeout 900 --http-url http://127.0.0.1:18831/ -- \
    unshare --mount --propagation private -- sh -c 'mount -t tmpfs none /sys && exec "$0" "$@"' \
    "${RUN_AS[@]}" qemu-aarch64-static -L "$ROOTFS" "$ROOTFS$NODE" --max-semi-space-size=2 "$ROOTFS$MAIN" \
    run --config "$ROOTFS$TEST_CONFIG" | tee build/arm64-replay.json
  COUNT_JS="const D=require('$ROOTFS/usr/lib/linesight/node_modules/better-sqlite3');const d=new D('$ROOTFS/var/lib/linesight/linesight.db',{readonly:true});console.log(JSON.stringify(d.prepare('select reason, count(*) n from samples group by reason').all()))"
  samples=$(no_sys qemu-aarch64-static -L "$ROOTFS" "$ROOTFS$NODE" -e "$COUNT_JS")
fi
echo "test-arm64: samples stored by the arm64 daemon (read back with arm64 better-sqlite3): $samples"
total=$(python3 -c 'import json,sys; print(sum(r["n"] for r in json.loads(sys.argv[1])))' "$samples")
[ "$total" -gt 0 ] || { echo "test-arm64: no samples stored" >&2; exit 1; }
if [ "$binfmt_ok" = yes ]; then
  # Upgrades (here: reinstalling the same version, which runs the upgrade maintainer-script
  # path) through deploy/install.sh, twice: a changed config and the database must survive.
  say "deploy/install.sh --deb, twice, over the installed package"
  echo "# changed by test-arm64" >>"$ROOTFS/etc/linesight/config.yaml"
  db_before=$(md5sum <"$ROOTFS/var/lib/linesight/linesight.db")
  cp deploy/install.sh "$ROOTFS/tmp/install.sh"
  in_root bash /tmp/install.sh --deb /tmp/linesight.deb >build/install-arm64.log
  in_root bash /tmp/install.sh --deb /tmp/linesight.deb >>build/install-arm64.log
  grep '^install.sh:\|is installed' build/install-arm64.log
  grep -q '^# changed by test-arm64' "$ROOTFS/etc/linesight/config.yaml" ||
    { echo "test-arm64: the changed config was not kept" >&2; exit 1; }
  [ "$(md5sum <"$ROOTFS/var/lib/linesight/linesight.db")" = "$db_before" ] ||
    { echo "test-arm64: the database changed or went on reinstall" >&2; exit 1; }
  [ "$(grep -c '^linesight:' "$ROOTFS/etc/passwd")" = 1 ] || { echo "test-arm64: linesight user duplicated" >&2; exit 1; }
  [ "$(in_root stat -c %U /var/lib/linesight)" = linesight ] || { echo "test-arm64: /var/lib/linesight not owned by linesight" >&2; exit 1; }
  echo "test-arm64: config change, database and user kept"
fi
say "passed; path taken: $PATH_TAKEN"
