#!/usr/bin/env bash
# Boots the gpio-sim kernel (build-kernel.sh) under QEMU with this machine's filesystem as the
# VM's root, runs one command inside, and returns its exit code. The command's output is in
# OUT_DIR/job.log, the VM's console in OUT_DIR/console.log; OUT_DIR is writable from inside.
#   deploy/gpio-sim/run-vm.sh OUT_DIR 'command line run by sh inside the VM, in this repo'
# TCG (no -enable-kvm: the boot hung with KVM here), -cpu max (sharp's libvips needs more than
# qemu64's instructions), one CPU (the tiny kernel has no ACPI/MP table parsing). Needs qemu-system-x86 and root (9p as root).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$(realpath -m "${1:?usage: run-vm.sh OUT_DIR COMMAND}")
JOB=${2:?usage: run-vm.sh OUT_DIR COMMAND}
TIMEOUT_S=${LINESIGHT_VM_TIMEOUT_S:-600}
command -v qemu-system-x86_64 >/dev/null || { echo "run-vm: qemu-system-x86_64 missing: apt-get install qemu-system-x86" >&2; exit 1; }
KERNEL=$(deploy/gpio-sim/build-kernel.sh)
mkdir -p "$OUT"
rm -f "$OUT/exit-code" "$OUT/job.log"
# Kernel parameters with '=' that the kernel does not know become init's environment; no spaces.
JOB_FILE=$OUT/job.sh
printf '%s\n' "$JOB" >"$JOB_FILE"
set +e
timeout --kill-after=10 "$TIMEOUT_S" qemu-system-x86_64 \
  -accel tcg -cpu max -smp 1 -m 1536 -nographic -no-reboot \
  -kernel "$KERNEL" \
  -append "console=ttyS0 root=hostroot rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=262144 ro noapic init=$ROOT/deploy/gpio-sim/init.sh panic=-1 LINESIGHT_VM_OUT=$OUT LINESIGHT_VM_CWD=$ROOT LINESIGHT_VM_JOB=$JOB_FILE" \
  -fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
  -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
  -fsdev local,id=repo,path="$ROOT",security_model=none,readonly=on,multidevs=remap \
  -device virtio-9p-pci,fsdev=repo,mount_tag=repo \
  -fsdev local,id=out,path="$OUT",security_model=none \
  -device virtio-9p-pci,fsdev=out,mount_tag=out \
  </dev/null >"$OUT/console.log" 2>&1
qemu_rc=$?
set -e
[ "$qemu_rc" = 124 ] && { echo "run-vm: the VM did not finish in ${TIMEOUT_S}s (console: $OUT/console.log)" >&2; exit 1; }
[ -f "$OUT/exit-code" ] || { tail -20 "$OUT/console.log" >&2; echo "run-vm: the job did not run (console: $OUT/console.log)" >&2; exit 1; }
exit "$(cat "$OUT/exit-code")"
