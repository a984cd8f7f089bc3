#!/usr/bin/env bash
# Why the unit says MemoryDenyWriteExecute=no: runs the packaged node under the kernel's
# memory-deny-write-execute (prctl PR_SET_MDWE, what systemd's setting enforces with seccomp),
# once as the unit runs it (expected: V8 aborts at its first JIT page) and once with --jitless
# (expected: the whole daemon, onnxruntime and sharp included, decides the footage).
#   deploy/test-mdwe.sh [PACKAGE_ROOT]   (default: build/deb/amd64/root from deploy/build-deb.sh amd64)
# Needs Linux >= 6.3 for PR_SET_MDWE; says so and exits 0 on older kernels.
set -euo pipefail
cd "$(dirname "$0")/.."
R=$(readlink -f "${1:-build/deb/amd64/root}")
NODE=$R/usr/lib/linesight/node/bin/node
MAIN=$R/usr/lib/linesight/dist/src/cli/main.js
[ -x "$NODE" ] || { echo "test-mdwe: no $NODE: run deploy/build-deb.sh amd64" >&2; exit 1; }

if ! python3 deploy/mdwe-exec.py /bin/true 2>/dev/null; then
  echo "test-mdwe: this kernel ($(uname -r)) has no PR_SET_MDWE: not tested"
  exit 0
fi

if python3 deploy/mdwe-exec.py "$NODE" -e 'console.log(1 + 1)' >/dev/null 2>&1; then
  echo "test-mdwe: node with its JIT ran under MDWE: MemoryDenyWriteExecute=yes may now be possible" >&2
  exit 1
fi
echo "test-mdwe: node with its JIT aborts under MDWE (as expected)"

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cat >"$T/config.yaml" <<EOF
device: {id: mdwe-check}
camera: {source: replay, replay: {path: $R/usr/share/linesight/footage/round-parts, fps: 25, loop: false}}
model: {path: $R/usr/share/linesight/models/round-parts}
storage: {path: $T/db/linesight.db}
mqtt: {embedded: {port: 18931}, health_interval_s: 2}
EOF
for mode in jit jitless; do
  rm -rf "$T/db"
  if [ $mode = jit ]; then
    cmd=("$NODE" --max-semi-space-size=2 "$MAIN" run --config "$T/config.yaml")
  else
    cmd=(python3 deploy/mdwe-exec.py "$NODE" --jitless --max-semi-space-size=2 "$MAIN" run --config "$T/config.yaml")
  fi
  echo -n "test-mdwe: $mode$([ $mode = jitless ] && echo ' under MDWE'): "
  python3 deploy/replay-check.py --socket "$T/notify" --min-decided 150 --timeout 120 -- "${cmd[@]}"
done
