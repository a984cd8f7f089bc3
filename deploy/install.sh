#!/usr/bin/env bash
# Installs linesight as a systemd service on this device (Raspberry Pi OS, Debian, Ubuntu/Jetson),
# from a clone of the repo or from a downloaded package. Safe to run again: it rebuilds and
# reinstalls, keeps /etc/linesight/config.yaml (if you changed it) and the database.
#
#   sudo deploy/install.sh                  build the package for this machine, then install it
#   sudo deploy/install.sh --deb FILE.deb   install a package built elsewhere (deploy/build-deb.sh)
#
# Building needs Node.js >= 18 and npm, g++, make and python3 (installed from apt if missing);
# the package itself bundles Node.js 20 and needs none of them.
set -euo pipefail

usage() { sed -n '2,10s/^# \{0,1\}//p' "$0"; }
DEB=
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) DEB=${2:?--deb needs a file}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "install.sh: run it as root: sudo $0 $*" >&2; exit 1; }
command -v dpkg >/dev/null || { echo "install.sh: needs a Debian-based system (dpkg)" >&2; exit 1; }
ARCH=$(dpkg --print-architecture)
case "$ARCH" in arm64 | amd64) ;; *) echo "install.sh: $ARCH is not supported (arm64 or amd64; a 32-bit Raspberry Pi OS cannot run it)" >&2; exit 1 ;; esac
export DEBIAN_FRONTEND=noninteractive

apt_install() {
  # apt-get update once, only if something is missing.
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -q; APT_UPDATED=1; fi
  apt-get install -y -q --no-install-recommends "$@"
}

if [ -z "$DEB" ]; then
  REPO=$(cd "$(dirname "$0")/.." && pwd)
  [ -f "$REPO/package.json" ] || { echo "install.sh: no package.json in $REPO: run it from the linesight repo, or use --deb" >&2; exit 1; }
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  missing=()
  [ "$node_major" -ge 18 ] || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  for tool in g++ make python3 fakeroot dpkg-deb; do
    command -v $tool >/dev/null || missing+=("$tool")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    pkgs=()
    for m in "${missing[@]}"; do
      case "$m" in g++) pkgs+=(g++) ;; dpkg-deb) pkgs+=(dpkg-dev) ;; *) pkgs+=("$m") ;; esac
    done
    echo "install.sh: installing build tools: ${pkgs[*]}"
    apt_install "${pkgs[@]}"
  fi
  cd "$REPO"
  echo "install.sh: building (npm ci, TypeScript, package for $ARCH): several minutes on a Raspberry Pi"
  npm ci --no-audit --no-fund
  npm run --silent build
  deploy/build-deb.sh "$ARCH"
  DEB=$(ls -t build/deb/linesight_*_"$ARCH".deb | head -1)
fi
[ -f "$DEB" ] || { echo "install.sh: $DEB does not exist" >&2; exit 1; }
DEB=$(readlink -f "$DEB")

was=$(dpkg-query -W -f '${Status} ${Version}' linesight 2>/dev/null || true)
echo "install.sh: installing $(basename "$DEB")${was:+ (installed before: ${was##* })}"
# dpkg keeps a changed /etc/linesight/config.yaml (a conffile) and never touches /var/lib/linesight.
if ! dpkg -i --force-confold "$DEB"; then
  echo "install.sh: fetching missing dependencies"
  APT_UPDATED=
  apt-get update -q
  apt-get install -f -y -q -o Dpkg::Options::=--force-confold
fi
dpkg-query -W -f '${Status}\n' linesight | grep -q 'install ok installed' ||
  { echo "install.sh: linesight is not installed correctly (dpkg -l linesight)" >&2; exit 1; }

echo
echo "linesight $(dpkg-query -W -f '${Version}' linesight) is installed."
if [ -d /run/systemd/system ]; then
  systemctl is-enabled --quiet linesight || systemctl enable linesight
  systemctl is-active --quiet linesight || systemctl restart linesight || true
  systemctl --no-pager --lines=0 status linesight || true
fi
cat <<'EOF'
Next:
  sudo nano /etc/linesight/config.yaml       device id, camera, MQTT broker
  sudo -u linesight linesight check --config /etc/linesight/config.yaml
  sudo systemctl restart linesight
  journalctl -u linesight -f
EOF
