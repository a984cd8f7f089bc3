// The operator's live view and labeling page (src/http/). Its decision listener only updates
// memory; a page that cannot start is logged and inspection goes on without it.
import type { Logger } from "pino";
import type { FrameJpegEncoder } from "../camera/frame-jpeg.js";
import type { CameraSource } from "../camera/source.js";
import type { Config } from "../config/schema.js";
import type { OperatorServerStats } from "../http/operator-server.js";
import { type OperatorScreen, startOperatorScreen } from "../http/start.js";
import type { GateStatus, LineStatusInputs } from "../http/status-text.js";
import type { TokenSource } from "../http/token.js";
import { defectKinds } from "../model/manifest.js";
import type { AuditAccuracy } from "../monitor/audit-accuracy.js";
import type { Pipeline } from "../pipeline/pipeline.js";
import type { DriftWatch } from "./drift-watch.js";
import type { DaemonBus, Part } from "./part.js";
import type { ShadowControl } from "./shadow-control.js";

export interface OperatorScreenPart extends Part {
  /** The page's URL and where its token is, once started; null when it is off or failed. */
  readonly screen: OperatorScreen | null;
  /** The labeled-audit accuracy estimate, for the health report. */
  audit(): AuditAccuracy | null;
  /** Logins, refusals and the labeling worker, for the health report. */
  stats(): OperatorServerStats | null;
}

export function operatorScreen(o: {
  bus: DaemonBus;
  http: Config["http"];
  token: TokenSource;
  databasePath: string;
  deviceId: string;
  camera: CameraSource;
  pipeline: Pipeline;
  drift: DriftWatch;
  shadow: ShadowControl;
  publisher: { readonly connected: boolean; stats(): { queued: number } };
  jpegs: FrameJpegEncoder;
  line?: () => LineStatusInputs | null;
  gate?: () => GateStatus | null;
  logger: Logger;
}): OperatorScreenPart {
  const name = "operator-screen";
  let screen: OperatorScreen | null = null;
  const model = o.pipeline.model;
  return {
    name,
    get screen() {
      return screen;
    },
    audit: () => screen?.server.audit ?? null,
    stats: () => screen?.server.stats() ?? null,
    async start() {
      screen = await startOperatorScreen(o.http, o.token, {
        databasePath: o.databasePath,
        deviceId: o.deviceId,
        labels: {
          labels: model.manifest.labels,
          goodLabel: model.negativeLabel,
          defectKinds: defectKinds(model.manifest),
        },
        camera: o.camera,
        pipeline: o.pipeline,
        drift: o.drift,
        shadow: o.shadow,
        publisher: o.publisher,
        jpegs: o.jpegs,
        ...(o.line ? { line: o.line } : {}),
        ...(o.gate ? { gate: o.gate } : {}),
        logger: o.logger,
      });
      const started = screen;
      if (started) o.bus.on(name, "decided", (r) => started.observe(r, r.ood.length > 0));
    },
    async stop() {
      o.bus.off(name);
      await screen?.server.close();
    },
  };
}
