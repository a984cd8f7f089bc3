// The operator's screen and the labeling page: a small node:http server (a dozen routes do not
// need a framework) serving the pages from memory, the live view over server-sent events, and
// the labeling API backed by the catalog worker. Nothing here runs on the hot path: the
// pipeline calls observe(), which only updates in-memory counters and marks the hub dirty.
import { spawn } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import { type AuditAccuracy, auditAccuracy } from "../monitor/audit-accuracy.js";
import { FilterError, parseFilter } from "../store/sample-filter.js";
import { HostPolicy } from "./allowed-hosts.js";
import { Auth, BadUserHeaderError, checkLabelerName, forgeryProblem, type Session, WrongTokenError } from "./auth.js";
import { Catalog, type CatalogStats, CatalogUnavailableError } from "./catalog.js";
import { whenDelivered } from "./delivery.js";
import { type BoardStatus, LiveBoard, type LiveDecision } from "./live-board.js";
import { LiveHub } from "./live-hub.js";
import { clientAddress, LoginLimiter, limitKey, normalizeAddress } from "./login-limiter.js";
import { loadStaticFiles, type StaticFile } from "./static-files.js";

export interface OperatorServerOptions {
  host: string;
  port: number;
  token: string;
  readOnlyOpen: boolean;
  liveMaxRateHz: number;
  databasePath: string;
  /** This device's id (device.id): written on every exported row. */
  deviceId: string;
  /** The model's labels (good first is not assumed) and which one is "good". */
  labels: readonly string[];
  goodLabel: string;
  /** Kinds a defect can be labeled with (the manifest's defect_kinds, then "other"). */
  defectKinds: readonly string[];
  webDir: string;
  status: () => BoardStatus;
  logger: Logger;
  /** Host names answered besides the device's own names and addresses (http.allowed_hosts). */
  allowedHosts?: readonly string[];
  /** Session cookie only over HTTPS (behind a TLS proxy). */
  secureCookie?: boolean;
  /** Reverse proxies whose X-Forwarded-For names the client (for the failed-login limit). */
  trustedProxies?: readonly string[];
}

/** What the server counts, for the health report. */
export interface OperatorServerStats {
  /** Wrong tokens (login or bearer) since start. */
  authFailures: number;
  /** Requests refused because their client sent too many wrong tokens. */
  authThrottled: number;
  /** Clients that must wait before their token is checked again. */
  clientsBlocked: number;
  /** Requests refused for a Host that is not this device (DNS rebinding). */
  hostRefused: number;
  sessions: number;
  /** The labeling page's database worker: "restarting" while the page answers 503. */
  catalog: CatalogStats;
}

/** Longest JSON body accepted: a batch of label ids fits many times over. */
const MAX_BODY = 64 * 1024;
/** Status (latency percentiles sort 2048 values) is recomputed at most this often. */
const STATUS_EVERY_MS = 1000;
/** Each live view costs a socket and a write per update: a limit keeps a misbehaving kiosk loop bounded. */
const MAX_LIVE_CLIENTS = 32;
/** Exports at once: each is a process reading the whole database. */
const MAX_EXPORTS = 2;
/** After the last byte of an export, how long the client has to close the connection in order. */
const DELIVERY_WAIT_MS = 60_000;
/** Audit estimate refresh: after labels, and at most this often otherwise. */
const AUDIT_EVERY_MS = 30_000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export class OperatorServer {
  readonly board = new LiveBoard();
  private readonly hub: LiveHub;
  private readonly auth: Auth;
  private readonly files: Map<string, StaticFile>;
  private readonly log: Logger;
  private status: { at: number; value: BoardStatus } | null = null;
  private auditTimer: NodeJS.Timeout | null = null;
  /** The estimate's recomputation after the latest label change: /api/audit waits for it, so the
   * page that just labeled never reads the estimate from before its own label. */
  private auditAfterLabels: Promise<void> = Promise.resolve();
  private readonly exports = new Set<ReturnType<typeof spawn>>();
  private readonly hosts: HostPolicy;
  private readonly limiter = new LoginLimiter();
  private readonly trustedProxies: ReadonlySet<string>;
  private readonly counts = { authFailures: 0, authThrottled: 0, hostRefused: 0 };

  private constructor(
    private readonly opts: OperatorServerOptions,
    private readonly server: Server,
    private readonly catalog: Catalog,
  ) {
    this.log = opts.logger.child({ component: "http" });
    this.auth = new Auth(opts.token, { secureCookie: opts.secureCookie ?? false });
    // The address it listens on is one of its names too (unless it is a wildcard).
    const own = ["0.0.0.0", "::", ""].includes(opts.host) ? [] : [opts.host];
    this.hosts = new HostPolicy([...(opts.allowedHosts ?? []), ...own]);
    this.trustedProxies = new Set((opts.trustedProxies ?? []).map(normalizeAddress));
    this.files = loadStaticFiles(opts.webDir);
    this.hub = new LiveHub(opts.liveMaxRateHz, () => JSON.stringify(this.snapshot()));
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((err: unknown) => this.fail(res, err));
    });
  }

  static async start(opts: OperatorServerOptions): Promise<OperatorServer> {
    const catalog = await Catalog.open(opts.databasePath, opts.goodLabel, opts.logger);
    const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 });
    // Keep-alive sockets must not hold a stopping daemon.
    server.keepAliveTimeout = 5000;
    const op = new OperatorServer(opts, server, catalog);
    const listening = new Promise<void>((resolve, reject) => {
      server.once("error", (err: NodeJS.ErrnoException) =>
        reject(
          new Error(
            err.code === "EADDRINUSE"
              ? `http: ${opts.host}:${opts.port} is already in use; set http.port to a free port or stop the other program`
              : `http: cannot listen on ${opts.host}:${opts.port}: ${err.message}`,
          ),
        ),
      );
      server.listen(opts.port, opts.host, () => resolve());
    });
    try {
      await listening;
    } catch (err) {
      op.hub.close();
      await catalog.close();
      throw err;
    }
    await op.refreshAudit();
    op.auditTimer = setInterval(() => void op.refreshAudit(), AUDIT_EVERY_MS);
    op.auditTimer.unref();
    return op;
  }

  get url(): string {
    const a = this.server.address() as AddressInfo;
    const host = a.family === "IPv6" ? `[${a.address}]` : a.address;
    return `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${a.port}/`;
  }

  stats(): OperatorServerStats {
    return {
      ...this.counts,
      clientsBlocked: this.limiter.blocked(Date.now()),
      sessions: this.auth.sessionCount,
      catalog: this.catalog.stats(),
    };
  }

  get audit(): AuditAccuracy | null {
    return this.board.audit;
  }

  /** From the decision sink: O(1), never waits. */
  observe(d: LiveDecision): void {
    this.board.observe(d);
    this.hub.markDirty();
  }

  async close(): Promise<void> {
    if (this.auditTimer) clearInterval(this.auditTimer);
    this.hub.close();
    for (const child of this.exports) child.kill("SIGTERM");
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.catalog.close();
  }

  private snapshot() {
    const now = Date.now();
    if (!this.status || now - this.status.at > STATUS_EVERY_MS) this.status = { at: now, value: this.opts.status() };
    return this.board.snapshot(now, this.status.value);
  }

  private async refreshAudit(): Promise<void> {
    try {
      this.board.audit = auditAccuracy(await this.catalog.call("audit", {}));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "audit accuracy estimate failed");
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://local");
    const path = url.pathname;
    res.setHeader("x-content-type-options", "nosniff");
    res.setHeader("referrer-policy", "no-referrer");
    const misdirected = this.hosts.problem(req.headers.host);
    if (misdirected) {
      this.counts.hostRefused++;
      throw new HttpError(421, misdirected);
    }
    if (req.method === "GET" || req.method === "HEAD") {
      if (path === "/" || path === "/index.html") return this.page(req, res, "index.html");
      if (path === "/label" || path === "/label.html") return this.page(req, res, "label.html");
      if (path.startsWith("/assets/")) return this.page(req, res, path.slice("/assets/".length));
      if (path === "/api/session") return this.sessionInfo(req, res);
      this.readGate(req);
      if (path === "/api/live/events") {
        if (this.hub.stats().clients >= MAX_LIVE_CLIENTS)
          throw new HttpError(503, `already ${MAX_LIVE_CLIENTS} live views open on this device; close one`);
        return this.hub.add(res);
      }
      if (path === "/api/live") return json(res, 200, this.snapshot());
      let m = /^\/api\/live\/frame\/(\d+)\.jpg$/.exec(path);
      if (m) return jpeg(res, await this.board.jpeg(Number(m[1])), "no-store");
      if (path === "/api/samples") return this.listSamples(url, res);
      m = /^\/api\/samples\/(\d+)\/image\.jpg$/.exec(path);
      if (m) return jpeg(res, await this.catalog.call("image", { sampleId: Number(m[1]) }), "private, max-age=3600");
      if (path === "/api/audit") {
        await this.auditAfterLabels;
        return json(res, 200, this.board.audit);
      }
      if (path === "/api/export.tar") return this.exportTar(req, url, res);
      throw new HttpError(404, `no such page: ${path}`);
    }
    if (req.method === "POST") {
      const forged = forgeryProblem(req.headers);
      if (forged) throw new HttpError(403, forged);
      const body = await readJson(req);
      if (path === "/api/session") return this.login(req, res, body);
      if (path === "/api/logout") {
        this.auth.end(req.headers);
        res.setHeader("set-cookie", this.auth.clearCookie());
        return json(res, 200, { ok: true });
      }
      const session = this.sessionOf(req);
      if (!session) throw new HttpError(401, "log in with the device's token to change anything");
      if (path === "/api/labels") return this.label(res, body, session);
      if (path === "/api/labels/undo") return this.undo(res, body);
      throw new HttpError(404, `no such action: ${path}`);
    }
    res.setHeader("allow", "GET, HEAD, POST");
    throw new HttpError(405, `method ${req.method} not allowed`);
  }

  private page(req: IncomingMessage, res: ServerResponse, name: string): void {
    const f = this.files.get(name);
    if (!f) throw new HttpError(404, `no such file: ${name}`);
    res.setHeader("content-security-policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    res.setHeader("etag", f.etag);
    res.setHeader("cache-control", "no-cache");
    res.setHeader("vary", "accept-encoding");
    if (req.headers["if-none-match"] === f.etag) {
      res.writeHead(304).end();
      return;
    }
    const gz = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
    const body = gz ? f.gzip : f.body;
    res.writeHead(200, {
      "content-type": f.type,
      "content-length": body.length,
      ...(gz ? { "content-encoding": "gzip" } : {}),
    });
    res.end(req.method === "HEAD" ? undefined : body);
  }

  private sessionInfo(req: IncomingMessage, res: ServerResponse): void {
    const s = this.sessionOf(req);
    json(res, 200, {
      name: s?.name ?? null,
      read_open: this.opts.readOnlyOpen,
      labels: this.opts.labels,
      good_label: this.opts.goodLabel,
      defect_kinds: this.opts.defectKinds,
    });
  }

  private readGate(req: IncomingMessage): void {
    if (this.opts.readOnlyOpen) return;
    if (!this.sessionOf(req)) throw new HttpError(401, "log in with the device's token to view this");
  }

  private client(req: IncomingMessage): string {
    return limitKey(clientAddress(req.socket.remoteAddress, req.headers["x-forwarded-for"], this.trustedProxies));
  }

  /** A client that sent too many wrong tokens waits before any token of it is checked again. */
  private throttle(client: string): void {
    const wait = this.limiter.waitMs(client, Date.now());
    if (wait <= 0) return;
    this.counts.authThrottled++;
    const s = Math.ceil(wait / 1000);
    throw new HttpError(429, `too many wrong tokens from this address: try again in ${s} s`, {
      "retry-after": String(s),
    });
  }

  private wrongToken(client: string, how: string): HttpError {
    this.counts.authFailures++;
    const wait = this.limiter.failed(client, Date.now());
    // Bounded by the limiter itself (a waiting client is refused before its token is checked): no log flood.
    this.log.warn({ client, how, waitS: Math.ceil(wait / 1000) }, "HTTP wrong token");
    return new HttpError(401, "wrong token");
  }

  /** The request's session (cookie or bearer token), counting and limiting wrong tokens. */
  private sessionOf(req: IncomingMessage): Session | null {
    const client = this.client(req);
    if (Auth.hasBearer(req.headers)) this.throttle(client);
    try {
      const s = this.auth.sessionOf(req.headers);
      if (s && Auth.hasBearer(req.headers)) this.limiter.succeeded(client);
      return s;
    } catch (err) {
      if (err instanceof WrongTokenError) throw this.wrongToken(client, "bearer");
      if (err instanceof BadUserHeaderError) throw new HttpError(400, err.message);
      throw err;
    }
  }

  private login(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): void {
    const client = this.client(req);
    this.throttle(client);
    if (typeof body.token !== "string" || !this.auth.tokenMatches(body.token)) throw this.wrongToken(client, "login");
    this.limiter.succeeded(client);
    let name: string;
    try {
      name = checkLabelerName(body.name);
    } catch (err) {
      throw new HttpError(400, (err as Error).message);
    }
    const { cookie } = this.auth.issue(name);
    res.setHeader("set-cookie", cookie);
    this.log.info({ name }, "HTTP login");
    json(res, 200, { name });
  }

  private async listSamples(url: URL, res: ServerResponse): Promise<void> {
    const q = url.searchParams;
    let filter: ReturnType<typeof parseFilter>;
    try {
      filter = parseFilter((k) => q.get(k));
    } catch (err) {
      if (err instanceof FilterError) throw new HttpError(400, err.message);
      throw err;
    }
    const limit = Math.min(500, Math.max(1, Number(q.get("limit") ?? 50) || 50));
    const before = q.get("before") ? Number(q.get("before")) : null;
    const result = await this.catalog.call("list", { filter, limit, before, withTotal: before === null });
    json(res, 200, result);
  }

  private async label(res: ServerResponse, body: Record<string, unknown>, session: Session): Promise<void> {
    const ids = body.sample_ids;
    const label = body.label;
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > 500 || !ids.every((i) => Number.isInteger(i)))
      throw new HttpError(400, "sample_ids: expected a list of 1 to 500 sample ids");
    if (typeof label !== "string" || !this.opts.labels.includes(label))
      throw new HttpError(400, `label: expected one of ${this.opts.labels.join(", ")}`);
    const kind = body.kind ?? null;
    if (kind !== null && (label === this.opts.goodLabel || !this.opts.defectKinds.includes(kind as string)))
      throw new HttpError(
        400,
        label === this.opts.goodLabel
          ? `kind: only a ${this.opts.labels.find((l) => l !== this.opts.goodLabel)} label has a kind`
          : `kind: expected one of ${this.opts.defectKinds.join(", ")}, or none`,
      );
    let labelIds: number[];
    try {
      labelIds = await this.catalog.call("label", {
        sampleIds: ids as number[],
        label,
        kind: kind as string | null,
        by: session.name,
      });
    } catch (err) {
      if (err instanceof CatalogUnavailableError) throw err;
      throw new HttpError(409, (err as Error).message);
    }
    this.labelsChanged();
    json(res, 200, { label_ids: labelIds });
  }

  private async undo(res: ServerResponse, body: Record<string, unknown>): Promise<void> {
    const ids = body.label_ids;
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > 500 || !ids.every((i) => Number.isInteger(i)))
      throw new HttpError(400, "label_ids: expected a list of 1 to 500 label ids");
    const removed = await this.catalog.call("undo", { labelIds: ids as number[] });
    this.labelsChanged();
    json(res, 200, { removed });
  }

  /** Recomputes the audit estimate (queued behind the label write in the catalog worker). */
  private labelsChanged(): void {
    this.auditAfterLabels = this.refreshAudit().then(() => this.hub.markDirty());
  }

  /**
   * Streams a tar of the labeled samples (one folder per label, manifests, Label Studio file)
   * from a `linesight samples export` child process: the export's SQLite reads and tar writing
   * happen in another process, and the pipe's backpressure keeps memory flat however big.
   * The 200 goes out only once the archive's first bytes exist (a failure before that is an
   * error answer); a failure after it aborts the chunked response, so the client sees a broken
   * download, never a short tar that looks complete; the samples are marked exported only once
   * the client has read the whole archive.
   */
  private async exportTar(req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
    // A HEAD would run the export and mark samples no one received.
    if (req.method !== "GET") {
      res.setHeader("allow", "GET");
      throw new HttpError(405, "the export is fetched with GET");
    }
    const session = this.sessionOf(req);
    if (!session) throw new HttpError(401, "log in to export (exporting marks samples)");
    try {
      parseFilter((k) => url.searchParams.get(k));
    } catch (err) {
      if (err instanceof FilterError) throw new HttpError(400, err.message);
      throw err;
    }
    if (this.exports.size >= MAX_EXPORTS)
      throw new HttpError(503, `${MAX_EXPORTS} exports are already running on this device; wait for one to finish`, {
        "retry-after": "10",
      });
    // The child only reports what it exported (fd 3); marking waits for the delivery.
    const args = [CLI, "samples", "export", "--db", this.opts.databasePath, "--device", this.opts.deviceId];
    args.push("--format", "tar", "--out", "-");
    args.push("--no-mark", "--ids-out", "/dev/fd/3");
    for (const key of ["reason", "decision", "label", "from", "to", "not_exported"]) {
      const v = url.searchParams.get(key);
      if (v) args.push(`--${key.replace("_", "-")}`, v);
    }
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe", "pipe"] });
    this.exports.add(child);
    const out = child.stdout as Readable;
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      if (stderr.length < 4000) stderr += d.toString();
    });
    let idsText = "";
    (child.stdio[3] as Readable).on("data", (d: Buffer) => {
      idsText += d.toString();
    });
    const ended = new Promise<number | null>((resolve) => {
      child.once("error", (err) => {
        stderr += err.message;
        resolve(-1);
      });
      child.once("close", (code) => resolve(code));
    });
    void ended.then(() => this.exports.delete(child));
    const stopChild = () => {
      if (child.exitCode === null) child.kill("SIGTERM");
    };
    res.once("close", stopChild);
    // The CLI's one-line message ("linesight: ..."), not a stack trace's last line.
    const reason = () =>
      (stderr.split("\n").find((l) => l.startsWith("linesight: ")) ?? stderr.trim().split("\n")[0] ?? "")
        .replace(/^linesight: /, "")
        .trim() || "no reason given";

    const first = await new Promise<Buffer | null>((resolve) => {
      const onData = (c: Buffer) => {
        out.pause();
        out.off("end", onEnd);
        resolve(c);
      };
      const onEnd = () => {
        out.off("data", onData);
        resolve(null);
      };
      out.once("data", onData);
      out.once("end", onEnd);
    });
    if (first === null) {
      const code = await ended;
      this.log.error({ code, stderr }, "export failed before it started");
      throw new HttpError(500, `export failed: ${reason()}`);
    }
    if (res.destroyed) return;
    const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
    const delivered = whenDelivered(res, req.socket, DELIVERY_WAIT_MS);
    res.writeHead(200, {
      "content-type": "application/x-tar",
      "content-disposition": `attachment; filename="linesight-samples-${stamp}.tar"`,
      "cache-control": "no-store",
    });
    res.write(first);
    out.pipe(res, { end: false });
    out.resume();
    const code = await ended;
    const ids = idsText.split("\n").filter(Boolean).map(Number);
    if (code !== 0 || !ids.every(Number.isInteger)) {
      if (!res.destroyed) this.log.error({ code, stderr }, "export failed; the download was aborted");
      // No final chunk: the browser shows a failed download, curl exits 18.
      res.destroy();
      return;
    }
    res.end();
    if (!(await delivered)) {
      this.log.warn({ samples: ids.length }, "export not delivered completely; its samples stay not exported");
      return;
    }
    try {
      await this.catalog.call("markExported", { sampleIds: ids });
      this.log.info({ samples: ids.length, by: session.name }, "samples exported");
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "export delivered but its samples could not be marked exported");
    }
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (err instanceof CatalogUnavailableError)
      err = new HttpError(503, err.message, { "retry-after": String(err.retryAfterS) });
    const status = err instanceof HttpError ? err.status : 500;
    if (status === 500) this.log.error({ err }, "HTTP request failed");
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof HttpError) for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
    json(res, status, { error: err instanceof Error ? err.message : String(err) });
  }
}

const CLI = fileURLToPath(new URL("../cli/main.js", import.meta.url));

/** web/ in the package root: two levels above dist/src/http or src/http. */
export function defaultWebDir(packageRoot: string): string {
  return join(packageRoot, "web");
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

function jpeg(res: ServerResponse, bytes: Uint8Array | null, cache: string): void {
  if (!bytes) throw new HttpError(404, "no such image (no longer kept)");
  res.writeHead(200, { "content-type": "image/jpeg", "content-length": bytes.byteLength, "cache-control": cache });
  res.end(bytes);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = String(req.headers["content-type"] ?? "");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  if (!type.startsWith("application/json")) throw new HttpError(415, "expected Content-Type: application/json");
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
    return v as Record<string, unknown>;
  } catch {
    throw new HttpError(400, "malformed JSON body: expected an object");
  }
}
