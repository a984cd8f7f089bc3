#!/bin/sh
# PID 1 of the gpio-sim VM (deploy/gpio-sim/run-vm.sh): the host's filesystem is the root
# (read-only, 9p); the run's directory is shared read-write at its host path. Mounts the kernel's
# filesystems (and the repository again at its path), runs the job (LINESIGHT_VM_JOB, a shell
# script) with its output in the run directory, writes its exit code there and exits, which ends
# the VM (panic=-1, -no-reboot).
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t configfs configfs /sys/kernel/config
# The loopback, for the daemon's local servers (its embedded MQTT broker).
ip link set lo up
# The repository (and so the output directory) may live under /tmp, which the tmpfs above hides
# (a CI checkout often does): mount it again at its own path, then the output directory in it.
mkdir -p "$LINESIGHT_VM_CWD" 2>/dev/null
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro repo "$LINESIGHT_VM_CWD"
mkdir -p "$LINESIGHT_VM_OUT" 2>/dev/null
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out "$LINESIGHT_VM_OUT"
cd "$LINESIGHT_VM_CWD" || exit 1
echo "gpio-sim VM: $(uname -r), running $LINESIGHT_VM_JOB"
sh "$LINESIGHT_VM_JOB" >"$LINESIGHT_VM_OUT/job.log" 2>&1
echo $? >"$LINESIGHT_VM_OUT/exit-code"
sync
echo "gpio-sim VM: job exited $(cat "$LINESIGHT_VM_OUT/exit-code")"
