// A real Mosquitto broker for integration tests, and a subscriber that records what it carries.
//
//   const broker = await Mosquitto.start();            // free port on 127.0.0.1, anonymous, no persistence
//   const seen = await TopicRecorder.start(broker.url, "linesight/#");
//   ... run the thing under test against broker.url ...
//   await seen.waitFor((m) => m.topic.endsWith("/status") && m.payload === "online");
//   await broker.kill();        // SIGKILL: the broker vanishes (clients see a dead connection)
//   await broker.restart();     // same port again; retained messages are gone (persistence off)
//   await seen.close(); await broker.stop();
//
// Needs Debian's `mosquitto` package. A missing broker fails the test that needs it (never skips):
// Mosquitto.start() throws, saying how to install it.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { delimiter, join } from "node:path";
import { connect, type IClientOptions, type MqttClient } from "mqtt";
import { findProgram } from "../../src/camera/find-program.js";
import { freePort } from "./ports.js";

/**
 * The mosquitto program, looked for where `npm test`'s setup looks (scripts/setup.mjs): $MOSQUITTO_BIN,
 * then Debian's /usr/sbin (not on a normal user's PATH), then PATH. Null when there is none.
 */
export function mosquittoBinary(env: NodeJS.ProcessEnv = process.env, sbin = ["/usr/sbin"]): string | null {
  if (env.MOSQUITTO_BIN) return findProgram(env.MOSQUITTO_BIN);
  return findProgram("mosquitto", [...sbin, env.PATH ?? ""].join(delimiter));
}

/** The mosquitto program, or an error that says how to install it. */
export function requireMosquitto(env: NodeJS.ProcessEnv = process.env, sbin = ["/usr/sbin"]): string {
  const bin = mosquittoBinary(env, sbin);
  if (bin) return bin;
  throw new Error(
    "these tests need a real MQTT broker, and no mosquitto was found (checked $MOSQUITTO_BIN, /usr/sbin and PATH). " +
      "Install it: sudo apt-get install -y mosquitto mosquitto-clients (npm test's setup does this when run as root)",
  );
}

export interface MosquittoOptions {
  /** Port to listen on (127.0.0.1 only). Default: a free one. */
  port?: number;
  /** Extra mosquitto.conf lines, e.g. ["max_queued_messages 10"]. */
  config?: string[];
  /** How long to wait for the broker to accept connections. Default 10 s. */
  readyTimeoutMs?: number;
}

// Brokers still running when the test process exits (a failed or timed-out test skipped its
// cleanup) are killed rather than left behind holding ports.
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export class Mosquitto {
  private child: ChildProcess | null = null;
  private output = "";

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly confPath: string,
    private readonly readyTimeoutMs: number,
  ) {}

  /** Starts a broker and resolves once it accepts TCP connections. */
  static async start(opts: MosquittoOptions = {}): Promise<Mosquitto> {
    const port = opts.port ?? (await freePort());
    const dir = mkdtempSync(join(tmpdir(), "linesight-mosquitto-"));
    const confPath = join(dir, "mosquitto.conf");
    const conf = [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous true",
      "persistence false",
      "log_dest stderr",
      "log_type error",
      "log_type warning",
      "log_type notice",
      // Run as root, mosquitto switches to user "mosquitto" (which cannot read our temp dir); naming
      // the current user keeps it as is, and is ignored when not root.
      `user ${userInfo().username}`,
      ...(opts.config ?? []),
    ];
    writeFileSync(confPath, `${conf.join("\n")}\n`);
    const broker = new Mosquitto(port, dir, confPath, opts.readyTimeoutMs ?? 10_000);
    await broker.launch();
    return broker;
  }

  /** mqtt://127.0.0.1:<port> */
  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** What the broker wrote to stderr so far: useful in assertion messages. */
  get log(): string {
    return this.output;
  }

  /** Graceful stop (SIGTERM): clients' connections are closed. Safe to call when not running. */
  stop(): Promise<void> {
    return this.signal("SIGTERM");
  }

  /** Abrupt stop (SIGKILL), like a crashed or powered-off broker. Safe to call when not running. */
  kill(): Promise<void> {
    return this.signal("SIGKILL");
  }

  /** Stops (SIGTERM) if running, then starts again on the same port. Retained messages are not kept. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  /** Freezes the broker (SIGSTOP): connections stay open but nothing is read or acknowledged. */
  pause(): void {
    this.child?.kill("SIGSTOP");
  }

  /** Undoes pause() (SIGCONT). */
  resume(): void {
    this.child?.kill("SIGCONT");
  }

  /** Stops the broker and removes its temporary directory. */
  async dispose(): Promise<void> {
    this.resume();
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    if (this.child) throw new Error(`mosquitto is already running on port ${this.port}`);
    const child = spawn(requireMosquitto(), ["-c", this.confPath], { stdio: ["ignore", "ignore", "pipe"] });
    this.child = child;
    live.add(child);
    child.stderr?.on("data", (d: Buffer) => {
      this.output += d.toString();
    });
    let exited: string | null = null;
    child.once("exit", (code, signal) => {
      live.delete(child);
      exited = `${code ?? signal}`;
      if (this.child === child) this.child = null;
    });
    child.once("error", (err) => {
      exited = err.message;
      if (this.child === child) this.child = null;
    });
    const deadline = Date.now() + this.readyTimeoutMs;
    while (!(await canConnect(this.port))) {
      if (exited !== null)
        throw new Error(`mosquitto exited (${exited}) before accepting connections:\n${this.output}`);
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(
          `mosquitto did not accept connections on port ${this.port} within ${this.readyTimeoutMs} ms:\n${this.output}`,
        );
      }
      await sleep(25);
    }
    // Someone else may own the port (then ours exits on bind failure): make sure it is ours.
    await sleep(100);
    if (exited !== null) throw new Error(`mosquitto exited (${exited}); is port ${this.port} taken?\n${this.output}`);
  }

  private signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child) return Promise.resolve();
    return new Promise((resolve) => {
      child.once("exit", () => resolve());
      if (sig !== "SIGKILL") child.kill("SIGCONT"); // a paused broker cannot act on SIGTERM
      child.kill(sig);
    });
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `cond` every 10 ms until it holds; throws, naming `what`, after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

export interface RecordedMessage {
  topic: string;
  payload: string;
  retain: boolean;
  qos: number;
  /** Date.now() when it arrived. */
  at: number;
}

/** A real mqtt.js subscriber that keeps every message it receives, in order. */
export class TopicRecorder {
  readonly messages: RecordedMessage[] = [];
  private waiters = new Set<() => void>();

  private constructor(readonly client: MqttClient) {
    client.on("message", (topic, payload, packet) => {
      this.messages.push({
        topic,
        payload: payload.toString(),
        retain: packet.retain,
        qos: packet.qos,
        at: Date.now(),
      });
      for (const wake of this.waiters) wake();
    });
  }

  /**
   * Connects to `url`, subscribes to `filter` (QoS 1) and resolves once subscribed. It reconnects
   * and resubscribes by itself if the broker restarts.
   */
  static async start(url: string, filter = "#", options: IClientOptions = {}): Promise<TopicRecorder> {
    const client = connect(url, {
      clientId: `recorder-${process.pid}-${Math.random().toString(16).slice(2, 10)}`,
      reconnectPeriod: 200,
      ...options,
    });
    client.on("error", () => {}); // connection errors during broker restarts are expected
    const recorder = new TopicRecorder(client);
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      setTimeout(() => reject(new Error(`recorder could not connect to ${url}`)), 10_000).unref();
    });
    await client.subscribeAsync(filter, { qos: 1 });
    return recorder;
  }

  /** Messages received on topics ending with `suffix` (e.g. "/status"), oldest first. */
  on(suffix: string): RecordedMessage[] {
    return this.messages.filter((m) => m.topic.endsWith(suffix));
  }

  /** Payloads received on topics ending with `suffix`, oldest first. */
  payloads(suffix: string): string[] {
    return this.on(suffix).map((m) => m.payload);
  }

  /** Forgets what was received so far (waitFor then looks at later messages only). */
  clear(): void {
    this.messages.length = 0;
  }

  /** The first message (already received or still to come) that matches, or an error after timeoutMs. */
  waitFor(
    match: (m: RecordedMessage) => boolean,
    timeoutMs = 10_000,
    what = "a matching message",
  ): Promise<RecordedMessage> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.messages.find(match);
        if (!found) return false;
        cleanup();
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        const seen = this.messages.map((m) => `${m.topic} ${m.payload.slice(0, 80)}`).join("\n  ");
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received:\n  ${seen}`));
      }, timeoutMs);
      const wake = () => void check();
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
      };
      this.waiters.add(wake);
      check();
    });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
