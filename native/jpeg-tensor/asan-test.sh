#!/usr/bin/env bash
# Runs the jpeg-tensor tests (test/integration/jpeg-tensor.test.ts: bad JPEGs, odd sizes, ROIs,
# random byte mutations) against a debug build of the addon under AddressSanitizer. Node itself
# is not instrumented: libasan is preloaded so the addon's allocations and accesses are checked.
#   native/jpeg-tensor/asan-test.sh      (from anywhere; needs gcc's libasan, Debian's libasan8)
set -euo pipefail
ADDON=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$ADDON/../.." && pwd)
WORK=$ROOT/build/asan-jpeg-tensor
NODE_GYP=${NODE_GYP:-$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")/node_modules/node-gyp/bin/node-gyp.js}
LIBASAN=$(gcc -print-file-name=libasan.so)
[ -f "$LIBASAN" ] || { echo "asan-test: libasan not found (apt-get install libasan8)" >&2; exit 1; }

# A copy with the sanitizer flags, so the Release build in native/jpeg-tensor/build stays.
rm -rf "$WORK" && mkdir -p "$WORK"
cp -r "$ADDON/src" "$WORK/"
node -e '
  const fs = require("fs");
  const gyp = JSON.parse(fs.readFileSync(process.argv[1], "utf8").replace(/^\s*#.*$/gm, ""));
  const t = gyp.targets[0];
  t.cflags = [...t.cflags.filter((f) => !f.startsWith("-O")), "-O1", "-g", "-fsanitize=address", "-fno-omit-frame-pointer"];
  t.ldflags = ["-fsanitize=address"];
  fs.writeFileSync(process.argv[2], JSON.stringify(gyp, null, 2));
' "$ADDON/binding.gyp" "$WORK/binding.gyp"
prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
nodedir=()
[ -f "$prefix/include/node/node_api.h" ] && nodedir=(--nodedir="$prefix")
(cd "$WORK" && node "$NODE_GYP" rebuild --debug "${nodedir[@]}" -j 2 >"$WORK/gyp.log" 2>&1) ||
  { tail -30 "$WORK/gyp.log" >&2; exit 1; }
nm -D "$WORK/build/Debug/jpeg_tensor.node" | grep -q __asan_init || { echo "asan-test: build is not instrumented" >&2; exit 1; }

echo "asan-test: $WORK/build/Debug/jpeg_tensor.node with LD_PRELOAD=$LIBASAN"
cd "$ROOT"
# Leak checking off: node's own allocations are not ours to judge (and it frees little at exit).
LD_PRELOAD=$LIBASAN ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1 \
  LINESIGHT_JPEG_TENSOR_ADDON=$WORK/build/Debug/jpeg_tensor.node \
  npx vitest run test/integration/jpeg-tensor.test.ts
