#!/usr/bin/env bash
# The unit under a real systemd, as root on an x86-64 Debian host without systemd as PID 1:
# boots a Debian 12 amd64 container (debootstrap, kept in build/rootfs-amd64-systemd) with
# systemd-nspawn, installs the amd64 package with dpkg, and checks what the hardened unit must do:
# it starts at boot and reaches READY (Type=notify), reads a LoadCredential= secret and skips the
# missing ones, stops cleanly and fast, is restarted by the watchdog when no frame is decided,
# MemoryDenyWriteExecute=yes kills node unless it runs --jitless, and an upgrade to a later
# version restarts it and keeps its config, token and samples.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOTFS=${ROOTFS_SYSTEMD:-$PWD/build/rootfs-amd64-systemd}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEB=$(ls -t build/deb/linesight_*_amd64.deb 2>/dev/null | head -1)
[ -n "$DEB" ] || { echo "test-systemd: no build/deb/linesight_*_amd64.deb: run deploy/build-deb.sh amd64" >&2; exit 1; }
command -v systemd-nspawn >/dev/null || { echo "test-systemd: needs systemd-nspawn (apt-get install systemd-container)" >&2; exit 1; }
t0=$(date +%s)
say() { echo "test-systemd: $* [$(($(date +%s) - t0)) s]"; }
fail() { echo "test-systemd: FAILED: $*" >&2; [ -n "${E:-}" ] && $E journalctl -u linesight -o cat -n 30 --no-pager >&2; exit 1; }

# systemd, and the package's Depends that a minimal base lacks (libturbojpeg0: native/jpeg-tensor).
# A kept rootfs made with another list is made again.
PKGS=systemd,systemd-sysv,dbus,adduser,libstdc++6,init-system-helpers,libturbojpeg0
if [ "$(cat "$ROOTFS/.linesight-rootfs-ok" 2>/dev/null)" != "$PKGS" ]; then
  rm -rf "$ROOTFS"
  say "debootstrap bookworm amd64 with systemd"
  debootstrap --variant=minbase --include="$PKGS" \
    bookworm "$ROOTFS" "$MIRROR" >build/debootstrap-amd64.log 2>&1 || { tail -20 build/debootstrap-amd64.log >&2; exit 1; }
  echo "$PKGS" >"$ROOTFS/.linesight-rootfs-ok"
fi
chroot "$ROOTFS" dpkg --purge --force-remove-reinstreq linesight >/dev/null 2>&1 || true
rm -rf "$ROOTFS/etc/systemd/system/linesight.service.d"
cp "$DEB" "$ROOTFS/tmp/linesight.deb"
chroot "$ROOTFS" dpkg -i /tmp/linesight.deb >/dev/null
# Replay once, fast, with an MQTT password from the credential store.
sed -i 's/^    loop: true.*/    loop: false/; s/^    fps: 10 .*/    fps: 20/; s/^  password_credential: null.*/  password_credential: linesight.mqtt-password/' \
  "$ROOTFS/etc/linesight/config.yaml"
(umask 077 && echo "not-a-real-password" >"$ROOTFS/etc/credstore/linesight.mqtt-password")
# A short watchdog so the restart shows within seconds (the shipped unit says 30 s).
mkdir -p "$ROOTFS/etc/systemd/system/linesight.service.d"
printf '[Service]\nWatchdogSec=6\n' >"$ROOTFS/etc/systemd/system/linesight.service.d/test-watchdog.conf"

say "booting the container"
# Its own network namespace: the embedded broker's port 1883 cannot meet one on the host.
systemd-nspawn -D "$ROOTFS" --boot --register=no --keep-unit --private-network -q >build/nspawn.log 2>&1 &
NSPAWN=$!
stop_container() { kill -TERM "$NSPAWN" 2>/dev/null && wait "$NSPAWN" 2>/dev/null || true; }
trap stop_container EXIT
LEADER=
for _ in $(seq 100); do
  LEADER=$(pgrep -P "$NSPAWN" | head -1 || true)
  [ -n "$LEADER" ] && nsenter -t "$LEADER" -a systemctl is-system-running --wait >/dev/null 2>&1 && break
  sleep 0.3
done
[ -n "$LEADER" ] || fail "the container did not boot (build/nspawn.log)"
E="nsenter -t $LEADER -a"
show() { $E systemctl show linesight -P "$1"; }

# 1. Enabled by the package, started at boot, READY=1 reached (active means READY for Type=notify).
for _ in $(seq 60); do [ "$(show ActiveState)" = active ] && break; sleep 0.5; done
[ "$(show ActiveState)" = active ] || fail "not active after boot: $(show ActiveState) $(show Result)"
[ "$(show UnitFileState)" = enabled ] || fail "not enabled"
say "started at boot, READY: $(show StatusText)"
# journald takes the daemon's stdout asynchronously: give the line a moment to land.
in_journal() {
  for _ in $(seq 20); do
    # Read it whole first: grep -q closing the pipe early would fail the pipeline (pipefail).
    grep -q "$1" <<<"$($E journalctl -u linesight -o cat --no-pager)" && return 0
    sleep 0.5
  done
  return 1
}
in_journal '"ready: first frame decided"' || fail "no ready log line"
$E systemd-analyze security linesight --no-pager 2>/dev/null | tail -1

# 2. The credential arrived (the daemon reads it at start; a missing one would stop it) and the
#    two absent ones were skipped.
creds=$($E sh -c 'ls /run/credentials/linesight.service/')
grep -qx linesight.mqtt-password <<<"$creds" || fail "credential not passed"
say "credential passed, missing ones skipped: $(echo $creds)"

# 3. The footage ends after 10 s: no more decisions, so no more pings, so the watchdog restarts it.
for _ in $(seq 60); do [ "$(show NRestarts)" -ge 1 ] && break; sleep 0.5; done
[ "$(show NRestarts)" -ge 1 ] || fail "the watchdog did not restart the service"
in_journal 'Watchdog timeout' || fail "restart was not the watchdog's"
for _ in $(seq 60); do [ "$(show ActiveState)" = active ] && break; sleep 0.5; done
say "watchdog timeout, restarted ($(show NRestarts)), active again"

# 4. A clean stop well within TimeoutStopSec.
ts=$(date +%s%N)
$E systemctl stop linesight
stop_ms=$((($(date +%s%N) - ts) / 1000000))
in_journal "\"decided\":[0-9]*,\"msg\":\"stopped cleanly\"" || fail "no clean stop"
[ "$(show Result)" = success ] || fail "stop result $(show Result)"
say "stopped cleanly in $stop_ms ms"

# 5. MemoryDenyWriteExecute=yes: node with its JIT dies; with --jitless it runs.
sed -i 's/^    loop: false/    loop: true/' "$ROOTFS/etc/linesight/config.yaml"
printf '[Service]\nMemoryDenyWriteExecute=yes\n' >"$ROOTFS/etc/systemd/system/linesight.service.d/test-mdwe.conf"
$E systemctl daemon-reload
$E systemctl start linesight 2>/dev/null && fail "started with MemoryDenyWriteExecute=yes and the JIT"
say "MemoryDenyWriteExecute=yes with the JIT: $(show Result) (as expected)"
cat >>"$ROOTFS/etc/systemd/system/linesight.service.d/test-mdwe.conf" <<'EOF'
ExecStart=
ExecStart=/usr/lib/linesight/node/bin/node --jitless --max-semi-space-size=2 /usr/lib/linesight/dist/src/cli/main.js run --config /etc/linesight/config.yaml
EOF
$E systemctl daemon-reload
$E systemctl reset-failed linesight
$E systemctl start linesight || fail "did not start with MemoryDenyWriteExecute=yes and --jitless"
say "MemoryDenyWriteExecute=yes with --jitless: $(show ActiveState), $(show StatusText)"
$E systemctl stop linesight
rm -rf "$ROOTFS/etc/systemd/system/linesight.service.d"
$E systemctl daemon-reload

# 6. Upgrade in place to a later version (this package repacked with the patch number bumped):
#    the running service is restarted on the new files, and the edited config (a conffile), the
#    operator token, the samples and the enabled state are kept.
samples_at_open() {
  $E journalctl -u linesight -o cat --no-pager | grep '"msg":"sample store open' | tail -1 |
    python3 -c 'import json, sys; print(json.loads(sys.stdin.read())["samples"])'
}
$E systemctl reset-failed linesight
$E systemctl start linesight
for _ in $(seq 60); do [ "$(show ActiveState)" = active ] && break; sleep 0.5; done
[ "$(show ActiveState)" = active ] || fail "not active before the upgrade"
before_samples=$(samples_at_open)
before_pid=$(show MainPID)
token_sum=$(md5sum <"$ROOTFS/var/lib/linesight/http-token")
old_version=$(dpkg-deb -f "$DEB" Version)
upstream=${old_version%-*} # 0.1.0-1 -> 0.1.1-1
new_version="${upstream%.*}.$((${upstream##*.} + 1))${old_version#"$upstream"}"
work=$(mktemp -d)
dpkg-deb -R "$DEB" "$work/pkg"
sed -i "s/^Version: .*/Version: $new_version/" "$work/pkg/DEBIAN/control"
# Not /tmp: the booted container mounts its own tmpfs there.
dpkg-deb -Znone -b "$work/pkg" "$ROOTFS/root/linesight-next.deb" >/dev/null # uncompressed: quick
rm -rf "$work"
sleep 3 # a few more samples stored before the upgrade stops this daemon
# --force-unsafe-io: no fsync per file, only to keep the test short.
$E dpkg -i --force-confold --force-unsafe-io /root/linesight-next.deb >/dev/null || fail "upgrade to $new_version failed"
[ "$($E dpkg-query -W -f '${Version}' linesight)" = "$new_version" ] || fail "not upgraded to $new_version"
for _ in $(seq 60); do
  [ "$(show ActiveState)" = active ] && [ "$(show MainPID)" != "$before_pid" ] && break
  sleep 0.5
done
[ "$(show MainPID)" != "$before_pid" ] || fail "the service was not restarted by the upgrade"
[ "$(show ActiveState)" = active ] || fail "not active after the upgrade: $(show Result)"
[ "$(show UnitFileState)" = enabled ] || fail "not enabled after the upgrade"
grep -q '^  password_credential: linesight.mqtt-password' "$ROOTFS/etc/linesight/config.yaml" ||
  fail "the edited config was replaced"
[ "$(md5sum <"$ROOTFS/var/lib/linesight/http-token")" = "$token_sum" ] || fail "the operator token changed"
after_samples=$(samples_at_open)
[ "$after_samples" -ge "$before_samples" ] && [ "$after_samples" -gt 0 ] ||
  fail "samples lost in the upgrade: $before_samples before, $after_samples after"
say "upgraded $old_version -> $new_version: restarted, config, token and samples kept ($before_samples -> $after_samples)"
$E systemctl stop linesight
say "passed"
