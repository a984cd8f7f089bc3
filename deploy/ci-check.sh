#!/usr/bin/env bash
# Deployment checks for CI (.ci/run calls this after the tests), as root on x86-64 Debian 12:
# builds the arm64 and amd64 packages, verifies the unit and its exposure score, lints the
# packages, runs the amd64 package's daemon, tests MemoryDenyWriteExecute, runs the installed
# unit under a real systemd (nspawn container; also an upgrade in place), and proves the arm64
# package under QEMU. Prints how long each step took.
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_EXPOSURE=2.0
declare -a TIMES=()
timed() {
  local name=$1
  shift
  local t
  t=$(date +%s)
  echo "::: deploy: $name"
  "$@"
  TIMES+=("$(printf '%-28s %4d s' "$name" $(($(date +%s) - t)))")
}

verify_unit() {
  # Against the amd64 package's own files: verify checks that ExecStart's program exists, under
  # --root. Any message (an unknown key is only a warning) fails the check.
  local root=build/verify-root
  rm -rf "$root"
  mkdir -p "$root/lib/systemd" "$root/etc/systemd/system"
  cp -a /lib/systemd/system "$root/lib/systemd/"
  dpkg-deb -x build/deb/linesight_*_amd64.deb "$root"
  local out
  out=$(systemd-analyze verify --root="$PWD/$root" linesight.service 2>&1) || true
  rm -rf "$root"
  if [ -n "$out" ]; then
    echo "$out" >&2
    echo "deploy: systemd-analyze verify reported problems" >&2
    return 1
  fi
  echo "systemd-analyze verify: clean"
}

security_score() {
  local out score
  out=$(systemd-analyze security --offline=true --no-pager systemd/linesight.service 2>&1)
  echo "$out" | grep -E '^✗' || true
  score=$(echo "$out" | sed -n 's/.*Overall exposure level for linesight.service: \([0-9.]*\).*/\1/p')
  echo "exposure: ${score:-none} (at most $MAX_EXPOSURE)"
  [ -n "$score" ] && python3 -c "import sys; sys.exit(0 if float('$score') <= $MAX_EXPOSURE else 1)"
}

lint_packages() {
  local deb
  for deb in build/deb/linesight_*_arm64.deb build/deb/linesight_*_amd64.deb; do
    echo "lintian $(basename "$deb")"
    local out rc=0
    out=$(lintian --fail-on error "$deb" 2>&1) || rc=$?
    echo "$out" | grep -v 'running with root privileges' || true
    [ "$rc" = 0 ] || { echo "deploy: lintian errors in $deb" >&2; return 1; }
  done
}

run_amd64_package() {
  local root=build/deb/amd64/root t
  t=$(mktemp -d)
  cat >"$t/config.yaml" <<EOF
device: {id: amd64-package}
camera: {source: replay, replay: {path: $PWD/$root/usr/share/linesight/footage/round-parts, fps: 25, loop: false}}
model: {path: $PWD/$root/usr/share/linesight/models/round-parts}
storage: {path: $t/db/linesight.db}
mqtt: {embedded: {port: 18932}}
http: {port: 18933}
EOF
  "$root/usr/lib/linesight/node/bin/node" "$root/usr/lib/linesight/dist/src/cli/main.js" check --config "$t/config.yaml"
  python3 deploy/replay-check.py --socket "$t/notify" --min-decided 150 --timeout 120 --http-url http://127.0.0.1:18933/ -- \
    "$root/usr/lib/linesight/node/bin/node" --max-semi-space-size=2 "$root/usr/lib/linesight/dist/src/cli/main.js" \
    run --config "$t/config.yaml"
  rm -rf "$t"
}

timed "build arm64 package" deploy/build-deb.sh arm64
timed "build amd64 package" deploy/build-deb.sh amd64
ls -l build/deb/*.deb
timed "systemd-analyze verify" verify_unit
timed "systemd-analyze security" security_score
timed "lintian" lint_packages
timed "amd64 package runs" run_amd64_package
timed "MemoryDenyWriteExecute test" deploy/test-mdwe.sh
timed "unit under real systemd" deploy/test-systemd.sh
timed "arm64 under QEMU" deploy/test-arm64.sh
echo "::: deploy: step times"
printf '  %s\n' "${TIMES[@]}"
