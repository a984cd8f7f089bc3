// The MQTT contract as zod schemas, the source of the contract: payloads.ts derives its types
// from them, topics.ts maps topics to them, the JSON Schemas in docs/mqtt-schemas/ are generated
// from them, and the contract test validates real messages against them. Objects are strict so an undocumented field fails the tests, not a dashboard.
import { z } from "zod";
import type { CameraState } from "../camera/frame.js";
import type { CameraStats } from "../camera/source.js";
import type { AlertName } from "../monitor/alerts.js";
import type { DriftReport } from "../monitor/drift-detector.js";
import type { DriftEvent } from "../monitor/drift-monitor.js";
import type { SystemReadings } from "../monitor/system-probe.js";
import type { PipelineState } from "../pipeline/pipeline.js";
import type { ShadowAccount } from "../shadow/shadow-tally.js";

/** Bumped when a change would break a reader (a field removed, renamed or retyped). */
const schemaVersion = z.literal(1).describe("payload schema version; bumped only for changes that break readers");
const isoTime = z.iso.datetime();
const count = z.number().int().nonnegative();
const nonNegative = z.number().nonnegative();
const fraction = z.number().min(0).max(1);
const ms = nonNegative.describe("milliseconds");
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

// --- status --------------------------------------------------------------------------------------

export const statusPayloadSchema = z
  .enum(["online", "offline"])
  .describe(
    "the bare string, not JSON and without a schema version, as Home Assistant availability expects; offline is also the Last Will",
  );

// --- state ---------------------------------------------------------------------------------------

export const cameraStateSchema = z.enum(["starting", "streaming", "stalled", "failed", "stopped"]);
export const pipelineStateSchema = z.enum(["starting", "running", "paused", "stopping"]);

export const statePayloadSchema = z.strictObject({
  schema: schemaVersion,
  version: z.string().describe("linesight version"),
  device: z.strictObject({ id: z.string(), site: z.string(), line: z.string() }),
  model: z.strictObject({ name: z.string(), version: z.string(), sha256 }).nullable(),
  camera: z.strictObject({
    source: z.string().describe("camera.source: replay, libcamera, gstreamer or ffmpeg"),
    state: cameraStateSchema,
  }),
  pipeline: pipelineStateSchema,
  threshold: fraction.nullable().describe("model score at or above which a part is rejected"),
  since: isoTime.describe("time of the last pipeline state change"),
});

// --- health --------------------------------------------------------------------------------------

export const latencyStatsSchema = z.strictObject({
  p50: ms,
  p95: ms,
  p99: ms,
  max: ms,
  count: count.describe("frames timed since start (percentiles cover the newest 2048)"),
});

export const cameraStatsSchema = z.strictObject({
  frames: count.describe("frames delivered by the capture since start"),
  restarts: count.describe("capture process restarts"),
  stalls: count.describe("times no frame came within camera.stall_timeout_s"),
  corrupt: count.describe("frames lost to truncation, oversize or malformed data"),
  skipped_bytes: count.describe("bytes outside any frame, skipped"),
});

export const throttledFlagsSchema = z.strictObject({
  raw: count.describe("the firmware's get_throttled value"),
  under_voltage: z.boolean(),
  freq_capped: z.boolean(),
  throttled: z.boolean(),
  soft_temp_limit: z.boolean(),
  under_voltage_occurred: z.boolean(),
  freq_capped_occurred: z.boolean(),
  throttled_occurred: z.boolean(),
  soft_temp_limit_occurred: z.boolean(),
});

export const systemReadingsSchema = z.strictObject({
  cpu_percent: nonNegative.describe("this process, % of one core, since the previous reading"),
  load_1m: nonNegative.describe("1-minute load average"),
  temperature_c: z.number().nullable().describe("hottest thermal zone, °C"),
  thermal_zones: z.record(z.string(), z.number()).describe("°C by thermal zone type"),
  throttled: throttledFlagsSchema.nullable().describe("Raspberry Pi firmware flags; null elsewhere"),
  disk_free_mb: nonNegative.nullable().describe("free space on the database's disk, MB"),
  disk_free_percent: z.number().min(0).max(100).nullable(),
});

export const alertNameSchema = z.enum([
  "camera_stalled",
  "inference_stalled",
  "disk_low",
  "temperature_high",
  "throttled",
]);

const rateEstimateSchema = z.strictObject({
  value: fraction.nullable().describe("observed share; null with no samples"),
  low: fraction.nullable().describe("95% Wilson interval, low end"),
  high: fraction.nullable().describe("95% Wilson interval, high end"),
  n: count.describe("samples behind the estimate"),
});

export const auditAccuracySchema = z.strictObject({
  samples: count.describe("audit samples (a random share of all frames) labeled by people"),
  accuracy: rateEstimateSchema,
  false_reject_rate: rateEstimateSchema.describe("share of good parts the line rejected"),
  missed_defect_rate: rateEstimateSchema.describe("share of defective parts the line passed"),
  recall_by_kind: z
    .record(z.string(), rateEstimateSchema)
    .describe("share of each defect kind the line rejected, for the kinds labelers named on audit samples"),
});

const failSafeCausesSchema = z.strictObject({
  no_frame: count.describe("the part's frame never came"),
  no_decision: count.describe("no decision by the part's deadline"),
  failed: count.describe("the decision failed (corrupt frame, inference error)"),
  paused: count.describe("inspection paused (by command or the PLC's online coil)"),
});

const signedTimingSchema = z.strictObject({
  p50: z.number(),
  p99: z.number(),
  max: z.number(),
  count: count.describe("events timed since start (percentiles cover the newest 2048)"),
});

export const lineSimulationSchema = z.strictObject({
  parts: count.describe("parts the simulator put on the belt"),
  closed: count.describe("parts past their eject time, checked"),
  ejected: count,
  passed: count,
  model_rejects: count.describe("ejected by the model's decision"),
  fail_safe_rejects: count.describe("ejected by the fail-safe"),
  fail_safe_passes: count,
  unaccounted: count.describe("checked parts without a fate: must be 0"),
  duplicate_fates: count.describe("fates beyond a part's first: must be 0"),
  unknown_fates: count.describe("fates for no simulated part: must be 0"),
  pulses: count.describe("reject pulses the simulated ejector recorded"),
  ejected_without_pulse: count.describe("must be 0"),
  passed_with_pulse: count.describe("must be 0"),
  pulses_without_part: count.describe("must be 0"),
  pulse_start_error_max_ms: ms.describe("largest distance of a pulse start from its part's eject time"),
  late_pulses: count.describe("pulses that started more than 5 ms after their part's eject time"),
  truth: z
    .strictObject({
      defects_ejected: count,
      defects_passed: count,
      good_ejected: count,
      good_passed: count,
    })
    .describe("fates against the footage's true labels"),
  ok: z.boolean().describe("every checked part had one fate and the ejector agreed with each"),
});

export const lineHealthSchema = z.strictObject({
  backend: z.enum(["gpio", "simulated"]),
  trigger: z.enum(["none", "gpio", "modbus"]).describe("none: free-run, every decided frame is a part"),
  ready: z.boolean().describe("the ready output is on"),
  online: z.boolean().describe("the PLC's online coil (true without Modbus)"),
  outputs_alive: z.boolean().describe("the output thread sees the main thread alive (heartbeat toggling)"),
  output_priority: z.string().describe("the output thread's scheduling: realtime, high or normal"),
  triggers: count.describe("trigger edges seen, bounce included"),
  debounced: count,
  parts: count,
  missed: count.describe("parts without a frame"),
  in_flight: count.describe("parts between their trigger and the reject actuator now"),
  in_flight_max: count.describe("the most parts between trigger and actuator at once since the last health report"),
  ejected: count,
  passed: count,
  rejects_fired: count.describe("reject pulses the output thread started"),
  fail_safe: count.describe("parts whose fate the fail-safe decided"),
  fail_safe_rejects: count.describe("of which ejected"),
  fail_safe_by_cause: failSafeCausesSchema,
  late_decisions: count.describe("decisions that came after their part's deadline (ignored)"),
  write_errors: count.describe("failed output writes"),
  pulse_error_ms: signedTimingSchema.describe("reject pulse start against its scheduled time, ms"),
  edge_to_decision_ms: signedTimingSchema.describe("trigger edge to the decision reaching the output thread, ms"),
  modbus: z
    .strictObject({
      clients: count.describe("connected now"),
      refused: count.describe("connections refused (line.modbus.max_clients) since start"),
      dropped_idle: count.describe("clients disconnected for silence since start"),
    })
    .nullable()
    .describe("null when line.modbus.enabled is false"),
  simulation: lineSimulationSchema.optional().describe("the simulated line's account (--simulate-line)"),
});

export const levelSchema = z.enum(["ok", "warn", "alarm"]);

const modelIdentitySchema = z.strictObject({ name: z.string(), version: z.string(), sha256 });

export const shadowReportSchema = z
  .strictObject({
    candidate: modelIdentitySchema.describe("the candidate model deciding in the shadow"),
    since: isoTime.describe("when it started shadowing"),
    frames: count.describe("live frames the candidate decided beside the active model"),
    dropped: count.describe(
      "live frames the candidate skipped because it was still busy (its own drops; the active model's are frames.dropped)",
    ),
    agree: count.describe("frames where both models took the same action"),
    agreement: fraction.nullable().describe("agree / frames; null before the first frame"),
    disagreements: z.strictObject({
      candidate_rejects: count.describe("the candidate would reject, the active model passed"),
      candidate_passes: count.describe("the candidate would pass, the active model rejected"),
    }),
    latency_ms: z
      .strictObject({ p50: ms.nullable(), p99: ms.nullable() })
      .describe(
        "the candidate's own time per frame (newest 2048): inference and decision, plus preprocessing when its input spec differs from the active model's; null before the first",
      ),
    drift: levelSchema
      .nullable()
      .describe("the candidate's drift status against its own reference; null when drift is off"),
  })
  .describe("shadow mode: a candidate model deciding the same live frames, never acted on (docs/models.md)");

export const healthPayloadSchema = z.strictObject({
  schema: schemaVersion,
  time: isoTime.describe("when the report was made"),
  uptime_s: count.describe("seconds since the daemon started (monotonic clock)"),
  fps_in: nonNegative.describe("frames received per second since the previous report"),
  fps_out: nonNegative.describe("frames decided per second since the previous report"),
  frames: z.strictObject({
    received: count,
    decided: count,
    dropped: count.describe("replaced in the frame slot by a newer frame before inference took them"),
    corrupt: count.describe("could not be decoded"),
    ood: count.describe("outside the model's reference range"),
  }),
  camera: cameraStatsSchema.extend({ state: cameraStateSchema }),
  decisions: z.strictObject({ pass: count, reject: count, uncertain: count }),
  reject_rate: fraction
    .nullable()
    .describe("share of frames decided since the previous report that were rejected; null if none were decided"),
  latency_ms: z
    .record(z.string(), latencyStatsSchema)
    .describe("per stage: queue, preprocess, infer, decide, end_to_end"),
  memory: z.strictObject({ rss_mb: nonNegative, heap_mb: nonNegative }),
  storage: z
    .strictObject({
      db_bytes: count,
      samples: count.describe("rows in the samples table"),
      written: count.describe("samples written since start"),
      dropped: count.describe("samples dropped since start (writer queue full)"),
      queued: count.describe("samples waiting to be written"),
      lost: count.describe(
        "samples lost before reaching the writer since start: their raw frame could not be made a JPEG (encoder memory bound or failure)",
      ),
    })
    .nullable(),
  mqtt: z.strictObject({
    dropped: count.describe("messages that will never be sent"),
    queued: count.describe("QoS 1 messages in the outbox, waiting for the broker or its acknowledgement"),
    queued_bytes: count.describe("their payload bytes"),
    oversized: count.describe("incoming messages above mqtt.max_message_kb, skipped unread since start"),
  }),
  system: systemReadingsSchema.nullable().describe("null until the first device check"),
  alerts: z.array(alertNameSchema).describe("alerts active now"),
  operator: z
    .strictObject({
      auth_failures: count.describe("wrong tokens (login or bearer) since start"),
      auth_throttled: count.describe("requests refused since start because their client sent too many wrong tokens"),
      clients_blocked: count.describe("clients waiting out a login limit now"),
      host_refused: count.describe("requests refused since start for a Host header that is not this device"),
      sessions: count.describe("labeling sessions logged in now"),
      catalog: z
        .enum(["up", "restarting", "closed"])
        .describe("the labeling page's database worker; restarting while the page answers 503"),
      catalog_restarts: count.describe("times that worker died and was started again"),
    })
    .optional()
    .describe("the operator's page; present when the HTTP page is on"),
  line: lineHealthSchema.optional().describe("acting on the line; present when line.enabled"),
  audit: auditAccuracySchema
    .optional()
    .describe("the model's real accuracy from audit samples people labeled; present when the HTTP page is on"),
  model: z.strictObject({
    shadow: shadowReportSchema.nullable().describe("null while no candidate is shadowing"),
  }),
});

// --- drift ---------------------------------------------------------------------------------------

export const distributionDriftSchema = z.strictObject({
  status: levelSchema,
  psi: nonNegative.describe("population stability index, window vs reference"),
  js: fraction.describe("Jensen-Shannon distance, window vs reference"),
  mean: z.number().describe("window mean"),
  ref_mean: z.number().describe("reference mean"),
  change_pct: z.number().describe("window mean vs reference mean, %"),
});

const featureDriftSchema = distributionDriftSchema.extend({
  shift_sd: z.number().describe("window mean vs reference mean, in reference standard deviations"),
  recent_change_pct: z
    .number()
    .describe("mean of the newest 4 evaluations' frames (100 by default) vs reference mean, %"),
});

export const rateDriftSchema = z.strictObject({
  status: levelSchema,
  observed: fraction.describe("rate in the window"),
  expected: fraction.describe("rate expected from the reference"),
  z: z.number().describe("binomial z score of observed vs expected"),
});

export const driftPayloadSchema = z.strictObject({
  schema: schemaVersion,
  status: levelSchema.describe("worst status of all checks"),
  window: z.strictObject({
    size: count.describe("frames in the window now"),
    capacity: count.describe("drift.window"),
    ready: z.boolean().describe("size has reached drift.min_window; before that status stays ok"),
  }),
  frames: count.describe("frames observed since start"),
  features: z.strictObject({
    brightness: featureDriftSchema,
    contrast: featureDriftSchema,
    sharpness: featureDriftSchema,
    red: featureDriftSchema,
    green: featureDriftSchema,
    blue: featureDriftSchema,
  }),
  score: distributionDriftSchema.describe("the model's score distribution"),
  reject_rate: rateDriftSchema,
  uncertain_rate: rateDriftSchema,
  reasons: z.array(z.string()).describe("one sentence per check that is not ok, worst first"),
});

// --- event ---------------------------------------------------------------------------------------

export const eventSeveritySchema = z.enum(["info", "warning", "alarm"]);

/** `data` of each event type linesight sends today; other types may be added later. */
export const EVENT_DATA_SCHEMAS = {
  model_loaded: z.strictObject({ name: z.string(), version: z.string(), sha256 }),
  drift: z.strictObject({
    from: levelSchema,
    to: levelSchema,
    reasons: z.array(z.string()),
    frames: count.describe("frames observed since start"),
    window: count.describe("frames in the drift window"),
  }),
  camera_stalled: alertData({ seconds_since_frame: count }),
  inference_stalled: alertData({ seconds_since_decision: count }),
  disk_low: alertData({ disk_free_mb: nonNegative }),
  temperature_high: alertData({ temperature_c: z.number() }),
  throttled: alertData({ problems: z.array(z.string()) }),
  line_fail_safe: z.strictObject({
    parts: count.describe("parts in this digest"),
    ejected: count,
    passed: count,
    by_cause: failSafeCausesSchema,
    seconds: count.describe("time the digest covers"),
  }),
  line_output: z.strictObject({
    problem: z.enum(["write_error", "worker_failed", "online", "offline"]),
    line: z.string().nullable().describe("the output concerned"),
  }),
  command: z.strictObject({
    command: z.string().describe("set_threshold, pause, resume or snapshot"),
    id: z.string().nullable().describe("the request's correlation id"),
    args: z.record(z.string(), z.unknown()).describe("the validated arguments"),
    result: z.record(z.string(), z.unknown()).describe("what the reply carried as result"),
  }),
} as const;

export type KnownEventType = keyof typeof EVENT_DATA_SCHEMAS;

function alertData<T extends z.ZodRawShape>(shape: T) {
  return z.strictObject({ active: z.boolean().describe("true when raised, false when cleared"), ...shape });
}

// `object`, not Record<string, unknown>: publishers pass typed objects, which lack an index signature.
const jsonObject: z.ZodType<object> = z.record(z.string(), z.unknown());

export const eventPayloadSchema = z
  .strictObject({
    schema: schemaVersion,
    time: isoTime,
    type: z
      .string()
      .min(1)
      .describe(`e.g. ${Object.keys(EVENT_DATA_SCHEMAS).join(", ")}`),
    severity: eventSeveritySchema,
    message: z.string().describe("plain language, for an operator"),
    data: jsonObject.optional().describe("machine-readable details; their shape depends on type"),
  })
  .superRefine((event, ctx) => {
    if (!Object.hasOwn(EVENT_DATA_SCHEMAS, event.type)) return;
    const checked = EVENT_DATA_SCHEMAS[event.type as KnownEventType].safeParse(event.data);
    for (const issue of checked.error?.issues ?? []) {
      ctx.addIssue({ ...issue, path: ["data", ...issue.path] } as z.core.$ZodRawIssue);
    }
  });

// --- decision ------------------------------------------------------------------------------------

export const decisionPayloadSchema = z.strictObject({
  schema: schemaVersion,
  seq: count.describe("frame number from the camera"),
  time: isoTime.describe("when the frame left the camera"),
  label: z.string(),
  score: fraction.describe("model score, rounded to 4 decimals"),
  action: z.enum(["pass", "reject"]),
  uncertain: z.boolean().describe("score inside the uncertain band"),
  ood: z.boolean().describe("image statistics outside the model's reference range"),
  threshold: fraction,
  model_version: z.string(),
  latency_ms: ms.describe("camera to decision, ms"),
  part_id: count.optional().describe("line trigger mode: the part this frame is the picture of (from 1 since start)"),
  trigger_at: isoTime.optional().describe("line trigger mode: when that part's trigger edge happened"),
});

// --- command replies (<prefix>/cmd/<name>/reply) --------------------------------------------------

export const commandErrorCodeSchema = z.enum([
  "bad_json",
  "invalid_args",
  "unknown_command",
  "too_large",
  "rate_limited",
  "paused",
  "timeout",
  "unavailable",
  "internal",
  // model commands (docs/models.md): a bundle refused, and why
  "truncated",
  "corrupt",
  "invalid_index",
  "unsigned",
  "unknown_key",
  "bad_signature",
  "hash_mismatch",
  "invalid_manifest",
  "downgrade",
  "conflict",
  "incompatible",
  "session",
  "golden",
  "latency",
  // model commands: the store's state or the gate says no
  "no_store",
  "no_candidate",
  "no_previous",
  "busy",
  "gate_refused",
  "store_error",
]);

const replyBase = {
  schema: schemaVersion,
  id: z.string().nullable().describe("the request's id, echoed; null when it had none (or could not be read)"),
  command: z.string().describe("the command name, from the topic"),
};

export const commandReplyPayloadSchema = z
  .discriminatedUnion("ok", [
    z.strictObject({
      ...replyBase,
      ok: z.literal(true),
      result: z.record(z.string(), z.unknown()).describe("the command's result; its shape depends on the command"),
    }),
    z.strictObject({
      ...replyBase,
      ok: z.literal(false),
      error: z.strictObject({ code: commandErrorCodeSchema, message: z.string().describe("plain language") }),
    }),
  ])
  .describe("reply to a request on <prefix>/cmd/<name> (or the group topic); not retained, QoS 1");

// --- model (the model store on the device: docs/models.md) ------------------------------------------

const modelErrorsSchema = z.looseObject({
  threshold: z.number(),
  missed_defects: count,
  false_rejects: count,
  missed_defect_rate: rateEstimateSchema,
  false_reject_rate: rateEstimateSchema,
});

export const gateReportSchema = z
  .looseObject({
    schema: schemaVersion,
    at: isoTime,
    verdict: z.enum(["pass", "refuse"]),
    reasons: z.array(z.string()).describe("why refused, one sentence each with the numbers; empty on pass"),
    notes: z.array(z.string()),
    active_model: z.string().describe("name@version"),
    candidate_model: z.string().describe("name@version"),
    samples: z.looseObject({
      used: count.describe("labeled samples both models were run on"),
      unreadable: count,
      by_reason: z.record(z.string(), count),
    }),
    labels: z.looseObject({ defects: count, good: count, missing_defects: count, missing_good: count }),
    active: modelErrorsSchema,
    candidate: modelErrorsSchema,
    missed_defects: z
      .looseObject({ p_worse: fraction, p_two_sided: fraction })
      .describe("paired comparison on defects"),
    false_rejects: z
      .looseObject({ p_worse: fraction, p_two_sided: fraction })
      .describe("paired comparison on good parts"),
  })
  .describe("the gate's report (the same as linesight model gate --json, plus what was compared)");

export const modelPayloadSchema = z
  .strictObject({
    schema: schemaVersion,
    store: z.strictObject({
      active: z.string().nullable().describe("name@version the daemon starts on; null: model.path"),
      previous: z.string().nullable().describe("where a rollback goes"),
      candidate: z.string().nullable().describe("installed, waiting for the gate and promotion"),
      installed: z.array(z.string()),
      dir: z.string(),
    }),
    running: z.string().describe("name@version deciding frames now"),
    probation: z
      .strictObject({
        id: z.string(),
        previous: z.string().nullable(),
        started_at: isoTime,
        until: isoTime,
        starts: count.describe("daemon starts since the promotion (model.probation.max_restarts)"),
        frames: count,
        rejects: count,
        ood: count,
        status: z.enum(["watching", "passed", "failed"]),
      })
      .nullable()
      .describe("the promoted model under watch; null when none"),
    gate: gateReportSchema.nullable().describe("the last gate report; null before the first"),
  })
  .describe("the model store, probation and the last gate report; retained, on every change");

// --- the map -------------------------------------------------------------------------------------

export const PAYLOAD_SCHEMAS = {
  status: statusPayloadSchema,
  state: statePayloadSchema,
  health: healthPayloadSchema,
  drift: driftPayloadSchema,
  event: eventPayloadSchema,
  decision: decisionPayloadSchema,
  model: modelPayloadSchema,
} as const;

/** The published topic names; topics.ts checks that its map has exactly these. */
export type PayloadTopic = keyof typeof PAYLOAD_SCHEMAS;

/** Decodes a message as received (status is a bare string, the rest JSON) and validates it. */
export function parseWirePayload<K extends PayloadTopic>(
  name: K,
  wire: string,
): { success: true; data: z.infer<(typeof PAYLOAD_SCHEMAS)[K]> } | { success: false; error: string } {
  let value: unknown = wire;
  if (name !== "status") {
    try {
      value = JSON.parse(wire);
    } catch (err) {
      return { success: false, error: `not JSON: ${(err as Error).message}` };
    }
  }
  const result = PAYLOAD_SCHEMAS[name].safeParse(value);
  return result.success
    ? { success: true, data: result.data as z.infer<(typeof PAYLOAD_SCHEMAS)[K]> }
    : { success: false, error: z.prettifyError(result.error) };
}

// --- compile-time checks: types owned by other modules must match their schemas exactly ----------

export type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
export type Assert<T extends true> = T;

export type _SchemasMatchSourceTypes = [
  Assert<Same<z.infer<typeof driftPayloadSchema>, DriftReport>>,
  Assert<Same<z.infer<typeof systemReadingsSchema>, SystemReadings>>,
  Assert<Same<z.infer<typeof cameraStatsSchema>, CameraStats>>,
  Assert<Same<z.infer<typeof alertNameSchema>, AlertName>>,
  Assert<Same<z.infer<typeof cameraStateSchema>, CameraState>>,
  Assert<Same<z.infer<typeof pipelineStateSchema>, PipelineState>>,
  Assert<Same<z.infer<(typeof EVENT_DATA_SCHEMAS)["drift"]>, DriftEvent["data"]>>,
  Assert<Same<z.infer<typeof shadowReportSchema>, ShadowAccount>>,
  // Every alert has its event data described.
  Assert<AlertName extends KnownEventType ? true : false>,
];
