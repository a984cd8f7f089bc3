// The JSON bodies linesight publishes. Consumers (SCADA tags, Home Assistant templates, scripts)
// parse these, so a change that breaks a reader bumps `schema`; adding a field does not.
import type { CameraStats } from "../camera/source.js";
import type { AlertName } from "../monitor/alerts.js";
import type { DriftReport } from "../monitor/drift-detector.js";
import type { SystemReadings } from "../monitor/system-probe.js";

/** Drift of the line against the model's reference; retained, on every status change and with health. */
export type DriftPayload = DriftReport;

/** Availability, as Home Assistant expects it: plain strings, `offline` also being the Last Will. */
export type StatusPayload = "online" | "offline";

export type CameraStateName = "starting" | "streaming" | "stalled" | "failed" | "stopped";
export type PipelineStateName = "starting" | "running" | "paused" | "stopping";

/** What the device is and what it is doing; retained, republished on every (re)connect. */
export interface StatePayload {
  schema: 1;
  /** linesight version. */
  version: string;
  device: { id: string; site: string; line: string };
  model: { name: string; version: string; sha256: string } | null;
  camera: { source: string; state: CameraStateName };
  pipeline: PipelineStateName;
  threshold: number | null;
  /** ISO time of the last pipeline state change. */
  since: string;
}

export interface LatencyStats {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  count: number;
}

/** Periodic counters and rates; retained, so a new subscriber sees the latest at once. */
export interface HealthPayload {
  schema: 1;
  /** ISO time the report was made. */
  time: string;
  uptime_s: number;
  fps_in: number;
  fps_out: number;
  frames: { received: number; decided: number; dropped: number; corrupt: number; ood: number };
  /** The capture's own counts: corrupt frames and skipped bytes come from the stream splitter. */
  camera: { state: CameraStateName } & CameraStats;
  decisions: { pass: number; reject: number; uncertain: number };
  /** Per stage, e.g. preprocess, infer, decide, end_to_end. */
  latency_ms: Record<string, LatencyStats>;
  memory: { rss_mb: number; heap_mb: number };
  storage: { db_bytes: number; samples: number; written: number; dropped: number; queued: number } | null;
  /** queued: the outbox depth (messages waiting for the broker). */
  mqtt: { dropped: number; queued: number };
  /** Temperature, throttling and disk where the platform exposes them (null otherwise). */
  system: SystemReadings | null;
  /** Alerts active now (each was announced on `event` when raised and when cleared). */
  alerts: AlertName[];
}

export type EventSeverity = "info" | "warning" | "alarm";

/** Something that happened, in plain language for an operator (e.g. model_loaded, camera_stalled). */
export interface EventPayload {
  schema: 1;
  time: string;
  type: string;
  severity: EventSeverity;
  message: string;
  /** Machine-readable details (JSON object). */
  data?: object;
}

/** One per decided frame; not retained, QoS 0 (best effort, up to ~30/s). */
export interface DecisionPayload {
  schema: 1;
  seq: number;
  /** ISO time the frame left the camera. */
  time: string;
  label: string;
  score: number;
  action: "pass" | "reject";
  uncertain: boolean;
  /** Image statistics outside the model's reference range: the decision is a guess. */
  ood: boolean;
  threshold: number;
  model_version: string;
  latency_ms: number;
}
