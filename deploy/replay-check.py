#!/usr/bin/python3
"""Runs a linesight daemon command the way systemd would and checks what the service relies on.

  deploy/replay-check.py --socket PATH [--min-decided N] [--timeout S] [--http-url URL] -- COMMAND...

Binds a NOTIFY_SOCKET (at PATH; a chrooted command sees it at the path given by --socket-inside)
with SO_PASSCRED, so every datagram carries its sender's pid, and starts COMMAND with
NOTIFY_SOCKET and WATCHDOG_USEC set. The command must replay footage with `loop: false`.
When the camera reports the end of the footage it sends SIGTERM, then checks: READY=1 and
WATCHDOG=1 arrived, all from the main process (what NotifyAccess=main accepts), STOPPING=1 on
SIGTERM, a clean exit 0, and at least N frames decided; with --http-url, that the operator page
answers there once READY=1 came (the package ships its web files). Prints one JSON summary line; exit 1 on
any failure. Python's standard library only: it runs on the CI host, not in the target.
"""
import argparse
import json
import resource
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--socket", required=True, help="notify socket path on this host")
    p.add_argument("--socket-inside", help="the same socket's path as the command sees it (chroot)")
    p.add_argument("--min-decided", type=int, default=100)
    p.add_argument("--timeout", type=float, default=600, help="seconds for the whole run")
    p.add_argument("--watchdog-usec", type=int, default=4_000_000)
    p.add_argument("--http-url", help="operator page to fetch once the daemon is ready")
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args()
    if a.command and a.command[0] == "--":
        a.command = a.command[1:]
    if not a.command:
        p.error("no command given after --")
    return a


class NotifyListener:
    """A unix datagram socket like systemd's notify socket, recording (pid, fields)."""

    def __init__(self, path):
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(path)
        os.chmod(path, 0o777)  # the daemon runs as the linesight user
        self.path = path
        self.messages = []
        self.lock = threading.Lock()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        creds_size = struct.calcsize("3i")
        while True:
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(creds_size))
            except OSError:
                return
            pid = None
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", payload[:creds_size])[0]
            with self.lock:
                self.messages.append((pid, data.decode(errors="replace").split("\n")))

    def has(self, field):
        with self.lock:
            return any(field in fields for _, fields in self.messages)

    def close(self):
        self.sock.close()
        os.unlink(self.path)


def main():
    a = parse_args()
    notify = NotifyListener(a.socket)
    env = dict(os.environ)
    env.update(NOTIFY_SOCKET=a.socket_inside or a.socket, WATCHDOG_USEC=str(a.watchdog_usec))
    env.pop("WATCHDOG_PID", None)
    started = time.monotonic()
    child = subprocess.Popen(a.command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    logs, stderr = [], []
    ended = threading.Event()

    def read_stdout():
        for line in child.stdout:
            try:
                entry = json.loads(line)
            except ValueError:
                entry = {"msg": line.rstrip()}
            logs.append(entry)
            if "end of footage" in json.dumps(entry):
                ended.set()

    threading.Thread(target=read_stdout, daemon=True).start()
    threading.Thread(target=lambda: stderr.extend(child.stderr), daemon=True).start()

    failures = []
    page = None
    if a.http_url:
        deadline = time.monotonic() + a.timeout
        while not notify.has("READY=1") and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.1)
        try:
            with urllib.request.urlopen(a.http_url, timeout=60) as r:
                body = r.read().decode(errors="replace")
                page = {"status": r.status, "bytes": len(body)}
                if r.status != 200 or "linesight" not in body:
                    failures.append(f"operator page at {a.http_url}: status {r.status}, no 'linesight' in it")
        except OSError as e:
            failures.append(f"operator page at {a.http_url} did not answer: {e}")
    if not ended.wait(a.timeout):
        failures.append(f"the footage did not end within {a.timeout:.0f} s")
    replay_s = time.monotonic() - started
    stop_at = time.monotonic()
    child.send_signal(signal.SIGTERM)
    try:
        code = child.wait(timeout=60)
    except subprocess.TimeoutExpired:
        child.kill()
        code = child.wait()
        failures.append("did not exit within 60 s of SIGTERM")
    stop_s = time.monotonic() - stop_at
    time.sleep(0.2)
    notify.close()

    stopped = next((e for e in logs if e.get("msg") == "stopped cleanly"), None)
    decided = stopped.get("decided", 0) if stopped else 0
    senders = sorted({pid for pid, _ in notify.messages})
    for field in ("READY=1", "WATCHDOG=1", "STOPPING=1"):
        if not notify.has(field):
            failures.append(f"no {field} on the notify socket")
    if senders != [child.pid]:
        failures.append(f"notifications came from pids {senders}, not only the main process {child.pid}")
    if code != 0:
        failures.append(f"exit code {code}")
    if not stopped:
        failures.append("no 'stopped cleanly' log line")
    if decided < a.min_decided:
        failures.append(f"{decided} frames decided, fewer than {a.min_decided}")
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    healths = [e["health"] for e in logs if isinstance(e.get("health"), dict)]
    e2e = healths[-1].get("latency_ms", {}).get("end_to_end") if healths else None
    errors = [e.get("msg") for e in logs if isinstance(e.get("level"), int) and e["level"] >= 50]
    summary = {
        "ok": not failures,
        "decided": decided,
        "replay_s": round(replay_s, 1),
        "stop_s": round(stop_s, 2),
        "exit_code": code,
        "cpu_ms_per_frame": round((cpu.ru_utime + cpu.ru_stime) * 1000 / decided, 1) if decided else None,
        "end_to_end_ms": e2e,
        "notify_from_main_pid": senders == [child.pid],
        "notify_messages": len(notify.messages),
        "operator_page": page,
        "error_logs": errors,
        "failures": failures,
    }
    print(json.dumps(summary))
    if failures:
        sys.stderr.write("".join(stderr)[-4000:])
        for e in logs[-30:]:
            sys.stderr.write(json.dumps(e)[:400] + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
