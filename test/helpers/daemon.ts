// Runs the built daemon as a separate process, as systemd would: a config file, NOTIFY_SOCKET
// bound by the test, JSON logs on stdout collected for assertions.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";

export const ROOT = resolve(import.meta.dirname, "../..");
export const CLI = join(ROOT, "dist/src/cli/main.js");
export const MODEL = join(ROOT, "models/round-parts");
export const FOOTAGE = join(ROOT, "footage/round-parts");
/** The shipped model's calibrated threshold (the recipe sets it: tests must not hard-code it). */
export const SHIPPED_THRESHOLD = (
  JSON.parse(readFileSync(join(MODEL, "manifest.json"), "utf8")) as { decision: { threshold: number } }
).decision.threshold;

const require = createRequire(import.meta.url);

export function tempDir(prefix = "linesight-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A unix datagram socket that records sd_notify messages, like systemd's. */
export class NotifySocket {
  readonly messages: string[] = [];
  private socket: { bind(p: string): void; close(): void; on(e: string, f: (b: Buffer) => void): void };

  constructor(readonly path: string) {
    const dgram = require("unix-dgram") as { createSocket(t: string, l: (b: Buffer) => void): NotifySocket["socket"] };
    this.socket = dgram.createSocket("unix_dgram", (buf) => this.messages.push(buf.toString()));
    this.socket.bind(path);
  }

  has(field: string): boolean {
    return this.messages.some((m) => m.split("\n").includes(field));
  }

  async waitFor(field: string, timeoutMs = 15_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!this.has(field)) {
      if (Date.now() > end)
        throw new Error(`no ${field} on NOTIFY_SOCKET within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.socket.close();
  }
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export class DaemonProcess {
  readonly logs: LogLine[] = [];
  stderr = "";
  readonly exited: Promise<number | null>;
  private child: ChildProcess;

  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let buf = "";
    this.child.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          this.logs.push({ level: 30, msg: line });
        }
        nl = buf.indexOf("\n");
      }
    });
    this.child.stderr?.on("data", (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid as number;
  }

  async waitForLog(match: (l: LogLine) => boolean, timeoutMs = 15_000, what = "a log line"): Promise<LogLine> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logs.find(match);
      if (found) return found;
      if (Date.now() > end) {
        throw new Error(
          `no ${what} within ${timeoutMs} ms. stderr: ${this.stderr}\nlogs: ${this.logs.map((l) => l.msg).join(" | ")}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    this.child.kill(signal);
  }
}

/** Writes a config file into `dir` and returns its path. */
export function writeConfig(dir: string, config: Record<string, unknown>): string {
  const path = join(dir, "config.yaml");
  writeFileSync(path, stringify(config));
  return path;
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Whether a process (e.g. a capture program the daemon started) still exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
