// A camera behind a capture program (rpicam-vid, gst-launch-1.0, ffmpeg) that writes frames to
// its stdout. One long-lived process, supervised: restarted with backoff when it exits or when no
// frame arrives for the stall timeout; a missing program is reported with the package to install
// and retried, so the daemon stays up (and says so in its state) until the camera is fixed.
import { type ChildProcess, spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { diagnoseStderr, spawnFailure } from "./capture-diagnosis.js";
import { type CaptureCommand, describeCommand } from "./commands.js";
import type { CameraState } from "./frame.js";
import type { FrameSlot } from "./frame-slot.js";
import type { FrameSplitter } from "./frame-splitter.js";
import { LineTail } from "./line-tail.js";
import { type BackoffOptions, DEFAULT_BACKOFF, RestartBackoff } from "./restart-backoff.js";
import type { CameraSource, CameraStats } from "./source.js";
import type { RawLayout } from "./yuv420.js";

/** Default time a new capture process has for its first frame. */
export const FIRST_FRAME_TIMEOUT_MS = 15_000;

export interface ProcessSourceOptions {
  /** Reported as the camera source, e.g. "ffmpeg". */
  kind: string;
  /** Built at every start, so a program installed while the daemon runs is found on the next try. */
  command: () => CaptureCommand;
  /** A fresh splitter for each process (a restarted stream starts clean). */
  splitter: () => FrameSplitter;
  /** Set when the process writes raw frames of this layout; absent for JPEG. */
  raw?: RawLayout;
  stallTimeoutMs: number;
  /** A new process's first frame may take this long (at least stallTimeoutMs): cameras take
   * seconds to start (a Jetson's Argus daemon, rpicam's tuning, a loaded machine). */
  firstFrameTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** After SIGTERM, wait this long before SIGKILL. */
  killTimeoutMs?: number;
  /** Environment of the capture process (default: the daemon's). */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

interface Running {
  child: ChildProcess;
  command: CaptureCommand;
  splitter: FrameSplitter;
  spawnedAt: number;
  streamingSince: number | null;
  killedForStall: boolean;
  closed: Promise<void>;
}

export class ProcessSource extends EventEmitter<{ state: [CameraState, string]; end: [] }> implements CameraSource {
  readonly kind: string;
  state: CameraState = "stopped";
  /** The last failure in words (missing program, exit with stderr's gist), for check and the log. */
  lastError: string | null = null;
  private slot: FrameSlot | null = null;
  private running: Running | null = null;
  private stopping = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private stallTimer: NodeJS.Timeout | null = null;
  private lastFrameAt = 0;
  private readonly backoff: RestartBackoff;
  private readonly tail = new LineTail(20);
  private frames = 0;
  private restarts = 0;
  private stalls = 0;
  /** Counts of splitters of processes that have ended. */
  private pastCorrupt = 0;
  private pastSkipped = 0;

  constructor(private readonly opts: ProcessSourceOptions) {
    super();
    this.kind = opts.kind;
    this.backoff = new RestartBackoff(opts.backoff ?? DEFAULT_BACKOFF);
  }

  /** The capture process's pid while one runs. */
  get pid(): number | undefined {
    return this.running?.child.pid;
  }

  /** The capture program's last stderr lines. */
  stderrTail(): string[] {
    return this.tail.get();
  }

  async start(slot: FrameSlot): Promise<void> {
    this.slot = slot;
    this.stopping = false;
    const every = Math.max(20, Math.min(250, this.opts.stallTimeoutMs / 4));
    this.stallTimer = setInterval(() => this.checkStall(), every);
    this.launch();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.stallTimer) clearInterval(this.stallTimer);
    this.retryTimer = null;
    this.stallTimer = null;
    const r = this.running;
    if (r) await this.terminate(r);
    this.setState("stopped", "stopped");
  }

  stats(): CameraStats {
    const s = this.running?.splitter;
    return {
      frames: this.frames,
      restarts: this.restarts,
      stalls: this.stalls,
      corrupt: this.pastCorrupt + (s?.corrupt ?? 0),
      skipped_bytes: this.pastSkipped + (s?.skippedBytes ?? 0),
    };
  }

  private launch(): void {
    if (this.stopping) return;
    let command: CaptureCommand;
    try {
      command = this.opts.command();
    } catch (err) {
      this.fail(`cannot build the ${this.kind} command: ${(err as Error).message}`);
      return;
    }
    this.tail.clear();
    this.setState("starting", `starting ${command.bin}`);
    let child: ChildProcess;
    try {
      child = spawn(command.bin, command.args, {
        stdio: ["ignore", "pipe", "pipe"],
        env: this.opts.env ?? process.env,
      });
    } catch (err) {
      // Arguments spawn() refuses outright (e.g. a NUL byte in extra_args): a config mistake.
      this.fail(`${command.bin} could not be started: ${(err as Error).message}`);
      return;
    }
    if (child.pid !== undefined) {
      this.opts.logger?.info(
        { camera: this.kind, pid: child.pid, command: describeCommand(command) },
        "capture process started",
      );
    }
    let settle: () => void = () => {};
    const r: Running = {
      child,
      command,
      splitter: this.opts.splitter(),
      spawnedAt: performance.now(),
      streamingSince: null,
      killedForStall: false,
      closed: new Promise<void>((resolve) => {
        settle = resolve;
      }),
    };
    this.running = r;
    this.lastFrameAt = r.spawnedAt;

    let ended = false;
    const end = (how: { error?: NodeJS.ErrnoException; code?: number | null; signal?: NodeJS.Signals | null }) => {
      if (ended) return;
      ended = true;
      settle();
      this.onEnded(r, how);
    };
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (child.pid === undefined) end({ error }); // could not be started at all
    });
    child.on("close", (code, signal) => end({ code, signal }));
    // A grandchild holding the pipes open must not keep a dead process "running".
    child.on("exit", () => {
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, 1000).unref();
    });
    child.stdout?.on("data", (chunk: Buffer) => this.onData(r, chunk));
    child.stderr?.on("data", (chunk: Buffer) => this.tail.push(chunk));
    // A broken pipe ends with the process's close like any exit; unhandled, it would end the daemon.
    child.stdout?.on("error", () => {});
    child.stderr?.on("error", () => {});
  }

  private onData(r: Running, chunk: Buffer): void {
    if (this.running !== r || !this.slot) return;
    // The moment the frame's last byte reached us: all frames completed by this chunk share it.
    const capturedAt = Date.now();
    const capturedMono = performance.now();
    const frames = r.splitter.feed(chunk);
    if (frames.length === 0) return;
    const raw = this.opts.raw;
    for (const data of frames) {
      this.slot.put(
        raw
          ? { seq: this.frames++, data, raw, capturedAt, capturedMono }
          : { seq: this.frames++, data, capturedAt, capturedMono },
      );
    }
    this.lastFrameAt = capturedMono;
    if (r.streamingSince === null) r.streamingSince = capturedMono;
    this.backoff.streamedFor(capturedMono - r.streamingSince);
    if (this.state !== "streaming") this.setState("streaming", `frames arriving from ${r.command.bin}`);
  }

  private checkStall(): void {
    const r = this.running;
    if (!r || r.killedForStall || this.stopping) return;
    const silentMs = performance.now() - this.lastFrameAt;
    const limit =
      r.streamingSince === null
        ? Math.max(this.opts.stallTimeoutMs, this.opts.firstFrameTimeoutMs ?? FIRST_FRAME_TIMEOUT_MS)
        : this.opts.stallTimeoutMs;
    if (silentMs <= limit) return;
    this.stalls++;
    r.killedForStall = true;
    const why = `no frame from ${r.command.bin} for ${(silentMs / 1000).toFixed(1)} s; restarting it`;
    this.lastError = why;
    this.opts.logger?.warn({ camera: this.kind, stderr: this.tail.get() }, `camera stalled: ${why}`);
    this.setState("stalled", why);
    void this.terminate(r);
  }

  private onEnded(
    r: Running,
    how: { error?: NodeJS.ErrnoException; code?: number | null; signal?: NodeJS.Signals | null },
  ): void {
    if (this.running === r) this.running = null;
    r.splitter.reset(); // a frame cut off by the exit is lost
    this.pastCorrupt += r.splitter.corrupt;
    this.pastSkipped += r.splitter.skippedBytes;
    if (this.stopping) return;
    if (r.killedForStall) {
      this.scheduleRestart();
      return;
    }
    const bin = r.command.bin;
    if (how.error) {
      this.fail(spawnFailure(bin, how.error.code, how.error.message));
      return;
    }
    const stderr = this.tail.get();
    const exit = how.signal ? `was killed by ${how.signal}` : `exited with code ${how.code}`;
    const hint = diagnoseStderr(stderr);
    const last = stderr[stderr.length - 1];
    const why = `${bin} ${exit}${last ? `: ${last}` : ""}${hint ? ` (${hint})` : ""}`;
    this.opts.logger?.error(
      { camera: this.kind, command: describeCommand(r.command), stderr },
      `capture process ended: ${why}`,
    );
    this.fail(why, false);
  }

  /** Reports the failure, then tries again after the backoff. */
  private fail(why: string, log = true): void {
    this.lastError = why;
    if (log) this.opts.logger?.error({ camera: this.kind }, `camera failed: ${why}`);
    this.setState("failed", why);
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.stopping) return;
    const delay = this.backoff.next();
    this.opts.logger?.info({ camera: this.kind, delayMs: delay }, "restarting the capture process after a pause");
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.restarts++;
      this.launch();
    }, delay);
  }

  /** SIGTERM, SIGKILL if it has not exited within the kill timeout; resolves once it has. */
  private async terminate(r: Running): Promise<void> {
    const { child } = r;
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), this.opts.killTimeoutMs ?? 3000);
    await r.closed;
    clearTimeout(timer);
  }

  private setState(state: CameraState, why: string): void {
    if (state === this.state) return;
    this.state = state;
    this.emit("state", state, why);
  }
}
