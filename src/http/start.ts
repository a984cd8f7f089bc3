// Starts the operator's screen from the `http` config section and the daemon's parts. The
// daemon hands over the parts; this module reads from them only when a browser is watching.
import type { Logger } from "pino";
import { type FrameJpegEncoder, lazyJpeg } from "../camera/frame-jpeg.js";
import type { Config } from "../config/schema.js";
import type { DriftReport } from "../monitor/drift-detector.js";
import type { LatencySummary } from "../monitor/latency.js";
import { packageRoot } from "../package-info.js";
import type { DecidedFrame } from "../pipeline/pipeline.js";
import type { BoardStatus } from "./live-board.js";
import { defaultWebDir, OperatorServer } from "./operator-server.js";
import type { GateStatus, LineStatusInputs, ShadowStatus } from "./status-text.js";
import type { TokenSource } from "./token.js";

export { httpToken } from "./token.js";

export interface OperatorParts {
  databasePath: string;
  deviceId: string;
  /** What the labeling page offers; the live view follows the model now deciding (pipeline.model). */
  labels: { labels: readonly string[]; goodLabel: string; defectKinds: readonly string[] };
  camera: { readonly state: string; readonly kind: string };
  pipeline: {
    readonly model: { readonly identity: { name: string; version: string } };
    readonly threshold: number;
    readonly state: string;
    timings: { summary(): Record<string, LatencySummary> };
  };
  drift: { report(): DriftReport | null };
  /** Shadow mode's report (a candidate model on trial); absent or null when none. */
  shadow?: { report(): ShadowStatus | null };
  publisher: { readonly connected: boolean; stats(): { queued: number } };
  /** The line I/O's state when line.enabled. */
  line?: () => LineStatusInputs | null;
  /** The last model gate's verdict (with a model store). */
  gate?: () => GateStatus | null;
  /** Makes JPEGs of raw frames when a browser asks for one. */
  jpegs: FrameJpegEncoder;
  logger: Logger;
}

export interface OperatorScreen {
  server: OperatorServer;
  /** Where the token is (a path or credential name), for the banner; never the token. */
  tokenFrom: string;
  /** A decision sink: O(1). */
  observe(r: DecidedFrame, ood: boolean): void;
}

/**
 * Null (with the reason logged) when the page cannot start, e.g. its port is taken: the line
 * must go on being inspected without its screen, as it does without its MQTT broker.
 */
export async function startOperatorScreen(
  http: Config["http"],
  token: TokenSource,
  parts: OperatorParts,
): Promise<OperatorScreen | null> {
  try {
    return await start(http, parts, token);
  } catch (err) {
    parts.logger.error(
      { err: (err as Error).message },
      "operator page not started; inspection goes on without it (fix the http section and restart)",
    );
    return null;
  }
}

async function start(http: Config["http"], parts: OperatorParts, token: TokenSource): Promise<OperatorScreen> {
  const status = (): BoardStatus => {
    const drift = parts.drift.report();
    const e2e = parts.pipeline.timings.summary().end_to_end;
    return {
      camera: { state: parts.camera.state, source: parts.camera.kind },
      pipeline: parts.pipeline.state,
      model: {
        name: parts.pipeline.model.identity.name,
        version: parts.pipeline.model.identity.version,
        threshold: parts.pipeline.threshold,
      },
      drift: drift ? { status: drift.status, reasons: drift.reasons, ready: drift.window.ready } : null,
      broker: { connected: parts.publisher.connected, queued: parts.publisher.stats().queued },
      line: parts.line?.() ?? null,
      shadow: parts.shadow?.report() ?? null,
      gate: parts.gate?.() ?? null,
      expectedRejectRate: drift ? drift.reject_rate.expected : null,
      latency: e2e && e2e.count > 0 ? { p50: e2e.p50, p95: e2e.p95 } : null,
    };
  };
  const server = await OperatorServer.start({
    host: http.host,
    port: http.port,
    token: token.token,
    readOnlyOpen: http.read_only_open,
    liveMaxRateHz: http.live_max_rate_hz,
    allowedHosts: http.allowed_hosts,
    secureCookie: http.secure_cookie,
    trustedProxies: http.trusted_proxies,
    databasePath: parts.databasePath,
    deviceId: parts.deviceId,
    labels: parts.labels.labels,
    goodLabel: parts.labels.goodLabel,
    defectKinds: parts.labels.defectKinds,
    webDir: defaultWebDir(packageRoot),
    status,
    logger: parts.logger,
  });
  parts.logger.info(
    { url: server.url, token: token.from, generatedToken: token.generated, readOnlyOpen: http.read_only_open },
    "operator page up",
  );
  return {
    server,
    tokenFrom: token.from,
    observe: (r, ood) =>
      server.observe({
        seq: r.frame.seq,
        capturedAt: r.frame.capturedAt,
        decidedAt: r.decidedAt,
        label: r.decision.label,
        score: Math.round(r.score * 1e4) / 1e4,
        threshold: r.threshold,
        action: r.decision.action,
        uncertain: r.decision.uncertain,
        ood,
        latencyMs: Math.round(r.latencyMs * 10) / 10,
        jpeg: lazyJpeg(r.frame, parts.jpegs),
      }),
  };
}
