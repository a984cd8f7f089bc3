#!/usr/bin/env bash
# Builds build/deb/linesight_<version>_<arch>.deb for arm64 or amd64 from this repo, on an
# x86-64 Debian machine: compiled JS, production node_modules for the target architecture
# (native addons cross-compiled for arm64), the Node.js the addons were built against, the unit,
# the example config as a conffile, and maintainer scripts.
#   deploy/build-deb.sh arm64|amd64
# Needs: npm, dpkg-deb, fakeroot; for arm64 also g++-aarch64-linux-gnu. Downloads only npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ARCH=${1:?usage: deploy/build-deb.sh arm64|amd64}
case "$ARCH" in
  arm64) NODE_CPU=arm64 ;;
  amd64) NODE_CPU=x64 ;;
  *) echo "build-deb: unknown architecture '$ARCH' (arm64 or amd64)" >&2; exit 2 ;;
esac
# The Node.js shipped in the package; better-sqlite3 is compiled against its headers.
NODE_VERSION=${LINESIGHT_NODE_VERSION:-20.20.2}
VERSION=$(node -p 'require("./package.json").version')
DEB_VERSION="$VERSION-1"
WORK=$ROOT/build/deb/$ARCH
CACHE=$ROOT/build/cache
STAGE=$WORK/root
APP=$STAGE/usr/lib/linesight
OUT=$ROOT/build/deb/linesight_${DEB_VERSION}_${ARCH}.deb
NODE_GYP=${NODE_GYP:-$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")/node_modules/node-gyp/bin/node-gyp.js}

step() { echo "build-deb[$ARCH]: $*"; }
# Debian's own npm package uses a separate node-gyp package instead of the copy inside npm.
[ -f "$NODE_GYP" ] || NODE_GYP=$(readlink -f "$(command -v node-gyp)" 2>/dev/null || true)
[ -f "$NODE_GYP" ] || { echo "build-deb: node-gyp not found (set NODE_GYP=path/to/node-gyp.js)" >&2; exit 1; }

[ -f dist/src/cli/main.js ] || { step "building TypeScript"; npm run --silent build; }

# 1. Node.js for the target, from the npm registry's official-binary package (cached in build/).
mkdir -p "$CACHE"
NODE_DIR=$CACHE/node-$NODE_VERSION-linux-$NODE_CPU
if [ ! -x "$NODE_DIR/bin/node" ]; then
  step "fetching node-linux-$NODE_CPU@$NODE_VERSION"
  rm -rf "$NODE_DIR" "$CACHE/pack-$NODE_CPU"
  mkdir -p "$CACHE/pack-$NODE_CPU"
  (cd "$CACHE/pack-$NODE_CPU" && npm pack --silent "node-linux-$NODE_CPU@$NODE_VERSION" >/dev/null)
  tar -xzf "$CACHE/pack-$NODE_CPU"/*.tgz -C "$CACHE/pack-$NODE_CPU"
  mv "$CACHE/pack-$NODE_CPU/package" "$NODE_DIR"
  rm -rf "$CACHE/pack-$NODE_CPU"
fi

# 2. Production dependencies for the target: npm picks the optional per-platform packages
#    (@img/sharp-linux-arm64, ...) by --cpu; no install scripts run (they would build for this host).
rm -rf "$WORK"
mkdir -p "$APP"
cp package.json package-lock.json .npmrc "$APP/"
step "npm ci --omit=dev for linux/$NODE_CPU"
(cd "$APP" && npm ci --silent --omit=dev --ignore-scripts --no-audit --no-fund --os=linux --cpu="$NODE_CPU" --libc=glibc)

# 3. Native addons compiled for the target against the shipped Node's headers.
if [ "$ARCH" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then
  export CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar
  GYP_ARCH=arm64
else
  GYP_ARCH=$NODE_CPU
fi
for mod in better-sqlite3 unix-dgram; do
  step "compiling $mod for $ARCH"
  log=$WORK/gyp-$mod.log
  if ! (cd "$APP/node_modules/$mod" &&
    node "$NODE_GYP" rebuild --release --arch="$GYP_ARCH" --nodedir="$NODE_DIR" -j 2 >"$log" 2>&1); then
    tail -40 "$log" >&2
    echo "build-deb: compiling $mod failed (whole log: $log)" >&2
    exit 1
  fi
  # Keep only the addon itself: sources and objects are tens of MB.
  find "$APP/node_modules/$mod/build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
  find "$APP/node_modules/$mod/build/Release" -mindepth 1 ! -name '*.node' -exec rm -rf {} +
  rm -f "$APP/node_modules/$mod/build/Release/test_extension.node"
  rm -rf "$APP/node_modules/$mod/deps" "$APP/node_modules/$mod/src" "$APP/node_modules/$mod/test"
done

# 3b. linesight's own addons: every native/<name>/binding.gyp, built for the target against the
#     shipped Node's headers, installed as <app>/native/<name>/build/Release/*.node (the layout a
#     checkout has, so src/ finds them the same way). Their libraries for arm64 come from Debian's
#     arm64 packages, unpacked into a sysroot with apt's own lists kept under build/cache (the
#     host's apt configuration is left alone).
NATIVE_ARM64_DEBS="libturbojpeg0 libturbojpeg0-dev"
native_env=()
if [ "$ARCH" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then
  SYSROOT=$CACHE/sysroot-arm64
  if [ ! -f "$SYSROOT/.ok-$(echo $NATIVE_ARM64_DEBS | tr ' ' '+')" ]; then
    step "arm64 sysroot: $NATIVE_ARM64_DEBS"
    APTDIR=$CACHE/apt-arm64
    rm -rf "$SYSROOT" && mkdir -p "$APTDIR/lists/partial" "$APTDIR/archives/partial" "$APTDIR/debs" "$SYSROOT"
    apt_arm64=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o "Dir::State::Lists=$APTDIR/lists"
      -o "Dir::Cache=$APTDIR" -o "Dir::Cache::archives=$APTDIR/archives" -o Debug::NoLocking=1)
    apt-get -q "${apt_arm64[@]}" update >"$WORK/apt-arm64.log" 2>&1 || { tail -20 "$WORK/apt-arm64.log" >&2; exit 1; }
    (cd "$APTDIR/debs" && rm -f ./*.deb && apt-get -q "${apt_arm64[@]}" download $(printf '%s:arm64 ' $NATIVE_ARM64_DEBS)) >>"$WORK/apt-arm64.log" 2>&1 ||
      { tail -20 "$WORK/apt-arm64.log" >&2; exit 1; }
    for d in "$APTDIR"/debs/*.deb; do dpkg-deb -x "$d" "$SYSROOT"; done
    touch "$SYSROOT/.ok-$(echo $NATIVE_ARM64_DEBS | tr ' ' '+')"
  fi
  native_env=(CFLAGS="-I$SYSROOT/usr/include" CXXFLAGS="-I$SYSROOT/usr/include"
    LDFLAGS="-L$SYSROOT/usr/lib/aarch64-linux-gnu -Wl,-rpath-link,$SYSROOT/usr/lib/aarch64-linux-gnu")
fi
for gyp in native/*/binding.gyp; do
  [ -f "$gyp" ] || continue
  name=$(basename "$(dirname "$gyp")")
  step "compiling native/$name for $ARCH"
  src=$WORK/native-build/$name
  rm -rf "$src" && mkdir -p "$src" && cp -r "$(dirname "$gyp")"/. "$src/" && rm -rf "$src/build"
  log=$WORK/gyp-native-$name.log
  if ! (cd "$src" && env "${native_env[@]}" node "$NODE_GYP" rebuild --release --arch="$GYP_ARCH" --nodedir="$NODE_DIR" -j 2 >"$log" 2>&1); then
    tail -40 "$log" >&2
    echo "build-deb: compiling native/$name failed (whole log: $log)" >&2
    exit 1
  fi
  mkdir -p "$APP/native/$name/build/Release"
  cp "$src"/build/Release/*.node "$APP/native/$name/build/Release/"
done

# 4. Drop what the target never loads: other platforms' onnxruntime builds, TypeScript sources,
#    source maps, docs. Then check every ELF file is for the target.
ORT=$APP/node_modules/onnxruntime-node/bin
find "$ORT" -mindepth 2 -maxdepth 2 ! -path "*/linux" -exec rm -rf {} +
find "$ORT"/*/linux -mindepth 1 -maxdepth 1 ! -name "$NODE_CPU" -exec rm -rf {} +
rm -rf "$APP/node_modules/onnxruntime-node/lib" "$APP/node_modules/onnxruntime-node/script"
find "$APP/node_modules" \( -name '*.map' -o -name '*.ts' ! -name '*.d.ts' -o -name '*.md' -o -name '.npmignore' \
  -o -name '.eslintrc*' -o -name '.travis.yml' -o -name '.github' -o -name 'Makefile' -o -name '*.gyp*' \
  -o -name '.git*' -o -name '*.html' -o -name '.husky' -o -name '*.sh' \) \
  -prune -exec rm -rf {} +
find "$APP/node_modules" -mindepth 2 -maxdepth 3 -type d \( -name test -o -name tests -o -name benchmarks \) -prune -exec rm -rf {} +
rm -rf "$APP/node_modules/nan/tools"
# modbus-serial's optional serial-port addon: linesight loads only its TCP server
# (src/line/modbus-server.ts) and never opens a serial port, so its prebuilt binaries stay out.
rm -rf "$APP/node_modules/@serialport/bindings-cpp/prebuilds"
rm -f "$APP/.npmrc" "$APP/node_modules/.package-lock.json"
case "$ARCH" in arm64) ELF_MACHINE=AArch64 ;; amd64) ELF_MACHINE=X86-64 ;; esac
while IFS= read -r f; do
  machine=$(readelf -h "$f" 2>/dev/null | sed -n 's/ *Machine: *//p')
  case "$machine" in
    *"$ELF_MACHINE"*) ;;
    *) echo "build-deb: $f is for '$machine', not $ARCH" >&2; exit 1 ;;
  esac
done < <(find "$APP/node_modules" "$APP/native" -type f \( -name '*.node' -o -name '*.so*' \))

# 5. The application, Node.js, data, unit, config, docs.
mkdir -p "$APP/dist" && cp -r dist/src "$APP/dist/"
# The operator's pages (src/http serves them from <package root>/web).
cp -r web "$APP/"
mkdir -p "$APP/node/bin"
install -m 0755 "$NODE_DIR/bin/node" "$APP/node/bin/node"
mkdir -p "$STAGE/usr/share/linesight/models" "$STAGE/usr/share/linesight/footage"
cp -r models/round-parts "$STAGE/usr/share/linesight/models/"
cp -r footage/round-parts "$STAGE/usr/share/linesight/footage/"
# linesight finds its models and footage next to package.json (the built-in demo).
ln -s ../../share/linesight/models "$APP/models"
ln -s ../../share/linesight/footage "$APP/footage"
install -D -m 0755 deploy/debian/linesight.sh "$STAGE/usr/bin/linesight"
install -D -m 0644 systemd/linesight.service "$STAGE/lib/systemd/system/linesight.service"
# Line I/O's drop-in, installed by the integrator into /etc/systemd/system/linesight.service.d/ (docs/line-io.md).
install -D -m 0644 systemd/line-io.conf "$STAGE/usr/share/linesight/systemd/line-io.conf"
install -D -m 0644 config/linesight.example.yaml "$STAGE/etc/linesight/config.yaml"
DOC=$STAGE/usr/share/doc/linesight
install -D -m 0644 deploy/debian/copyright "$DOC/copyright"
install -m 0644 docs/deploy.md "$DOC/deploy.md"
install -m 0644 config/linesight.example.yaml "$DOC/config.example.yaml"
gzip -9n -c deploy/debian/changelog >"$DOC/changelog.Debian.gz"
install -D -m 0644 deploy/debian/linesight.1 "$STAGE/usr/share/man/man1/linesight.1"
gzip -9n "$STAGE/usr/share/man/man1/linesight.1"
install -D -m 0644 deploy/debian/lintian-overrides "$STAGE/usr/share/lintian/overrides/linesight"

# Nothing but the bundled node runs a script here (/usr/bin/linesight and the unit call it
# explicitly), so "#!/usr/bin/env node" lines go, and only node and the wrapper are executable.
grep -rlZ -e '^#! */usr/bin/env' "$APP/node_modules" "$APP/dist" | xargs -0 -r sed -i '1s|^#! */usr/bin/env .*|// (shebang removed: run with /usr/lib/linesight/node/bin/node)|'
find "$STAGE" -type d -exec chmod 0755 {} +
find "$STAGE" -type f -exec chmod 0644 {} +
chmod 0755 "$APP/node/bin/node" "$STAGE/usr/bin/linesight"

# 6. Control files.
mkdir -p "$STAGE/DEBIAN"
INSTALLED_KB=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s/@VERSION@/$DEB_VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@INSTALLED_SIZE@/$INSTALLED_KB/" \
  deploy/debian/control >"$STAGE/DEBIAN/control"
for s in postinst prerm postrm; do install -m 0755 "deploy/debian/$s" "$STAGE/DEBIAN/$s"; done
echo /etc/linesight/config.yaml >"$STAGE/DEBIAN/conffiles"
(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$STAGE/DEBIAN/md5sums"
chmod 0644 "$STAGE/DEBIAN/control" "$STAGE/DEBIAN/conffiles" "$STAGE/DEBIAN/md5sums"

step "dpkg-deb --build"
fakeroot dpkg-deb --build -Zxz --root-owner-group "$STAGE" "$OUT" >/dev/null
step "$(basename "$OUT"): $(du -h "$OUT" | cut -f1) (installed $((INSTALLED_KB / 1024)) MB)"
