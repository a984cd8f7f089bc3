// The daemon is a list of parts. Each is started with what it needs, hears the pipeline through
// the event bus, and is stopped in the reverse order of starting (daemon.ts holds the list).
import type { CameraState } from "../camera/frame.js";
import type { DriftReport } from "../monitor/drift-detector.js";
import type { HealthPayload } from "../mqtt/payloads.js";
import type { EventBus } from "../pipeline/event-bus.js";
import type { PipelineEvents } from "../pipeline/pipeline.js";
import type { ShadowDecided } from "./model-shadow.js";

/** Something worth telling the fleet (an MQTT `event`) and the journal. */
export interface Notice {
  type: string;
  severity: "info" | "warning" | "alarm";
  message: string;
  data?: object;
}

export interface DaemonEvents extends PipelineEvents {
  "camera-state": { state: CameraState; why: string };
  notice: Notice;
  /** A drift report to publish (on a status change and with each health report). */
  drift: DriftReport;
  health: HealthPayload;
  /** The shadow candidate decided a frame the active model decided (never acted on). */
  "shadow-decided": ShadowDecided;
}

export type DaemonBus = EventBus<DaemonEvents>;

export interface Part {
  readonly name: string;
  start?(): void | Promise<void>;
  stop?(): void | Promise<void>;
}

/**
 * Starts the parts in order. If one fails, it and those already started are stopped (in
 * reverse) and the error is thrown, so a failed start leaves nothing running behind; a part's
 * stop must therefore cope with a start that went only half way.
 */
export async function startParts(parts: readonly Part[]): Promise<() => Promise<void>> {
  const started: Part[] = [];
  const stopAll = async () => {
    for (const p of started.reverse()) await p.stop?.();
  };
  for (const p of parts) {
    started.push(p);
    try {
      await p.start?.();
    } catch (err) {
      await stopAll();
      throw err;
    }
  }
  return stopAll;
}

/**
 * Calls `fn` every `ms` while the daemon inspects: the interval ends as soon as the pipeline
 * says it is stopping (so no report or check runs during the shutdown), or when the returned
 * function is called.
 */
export function whileInspecting(bus: DaemonBus, owner: string, ms: number, fn: () => void): () => void {
  let timer: NodeJS.Timeout | null = setInterval(fn, ms);
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = null;
  };
  bus.on(owner, "pipeline-state", ({ state }) => {
    if (state === "stopping") stop();
  });
  return stop;
}
