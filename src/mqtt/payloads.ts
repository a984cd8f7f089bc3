// The bodies linesight publishes, as TypeScript types derived from their zod schemas
// (payload-schemas.ts), so the types, the JSON Schemas in docs/mqtt-schemas/ and the contract test
// cannot disagree. Consumers (SCADA tags, Home Assistant templates, scripts) parse these, so a
// change that breaks a reader bumps `schema`; adding a field does not. Documented in docs/mqtt.md.
import type { z } from "zod";
import type {
  cameraStateSchema,
  commandReplyPayloadSchema,
  decisionPayloadSchema,
  driftPayloadSchema,
  eventPayloadSchema,
  eventSeveritySchema,
  healthPayloadSchema,
  latencyStatsSchema,
  modelPayloadSchema,
  pipelineStateSchema,
  statePayloadSchema,
  statusPayloadSchema,
} from "./payload-schemas.js";

/** Drift of the line against the model's reference; retained, on every status change and with health. */
export type DriftPayload = z.infer<typeof driftPayloadSchema>;

/** Availability, as Home Assistant expects it: plain strings, `offline` also being the Last Will. */
export type StatusPayload = z.infer<typeof statusPayloadSchema>;

export type CameraStateName = z.infer<typeof cameraStateSchema>;
export type PipelineStateName = z.infer<typeof pipelineStateSchema>;

/** What the device is and what it is doing; retained, republished on every (re)connect. */
export type StatePayload = z.infer<typeof statePayloadSchema>;

export type LatencyStats = z.infer<typeof latencyStatsSchema>;

/** Periodic counters and rates; retained, so a new subscriber sees the latest at once. */
export type HealthPayload = z.infer<typeof healthPayloadSchema>;

export type EventSeverity = z.infer<typeof eventSeveritySchema>;

/** Something that happened, in plain language for an operator (e.g. model_loaded, camera_stalled). */
export type EventPayload = z.infer<typeof eventPayloadSchema>;

/** One per decided frame; not retained, QoS 0 (best effort, up to ~30/s). */
export type DecisionPayload = z.infer<typeof decisionPayloadSchema>;

/** Reply to a remote command, on <prefix>/cmd/<name>/reply; not retained, QoS 1. */
export type CommandReplyPayload = z.infer<typeof commandReplyPayloadSchema>;

/** The model store, probation and the last gate report; retained, on every change. */
export type ModelPayload = z.infer<typeof modelPayloadSchema>;
