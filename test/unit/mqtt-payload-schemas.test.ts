// The payload schemas accept what the daemon sends and refuse what it must not: wrong types,
// missing fields, unknown fields in fixed shapes, and event data that does not fit its type.
import { describe, expect, it } from "vitest";
import type { DriftReport, FeatureDrift } from "../../src/monitor/drift-detector.js";
import { PAYLOAD_SCHEMAS, parseWirePayload } from "../../src/mqtt/payload-schemas.js";
import type {
  DecisionPayload,
  EventPayload,
  HealthPayload,
  ModelPayload,
  StatePayload,
} from "../../src/mqtt/payloads.js";
import type { TopicName } from "../../src/mqtt/topics.js";

const TIME = "2026-11-24T13:03:07.190Z";
const SHA = "ab".repeat(32);

const state: StatePayload = {
  schema: 1,
  version: "0.1.0",
  device: { id: "line-7", site: "plant-a", line: "7" },
  model: { name: "round-parts", version: "1.0.0", sha256: SHA },
  camera: { source: "replay", state: "streaming" },
  pipeline: "running",
  threshold: 0.88,
  since: TIME,
};

const latency = { p50: 5.3, p95: 9.5, p99: 16.1, max: 21.1, count: 600 };
const health: HealthPayload = {
  schema: 1,
  time: TIME,
  uptime_s: 20,
  fps_in: 30,
  fps_out: 29.5,
  frames: { received: 600, decided: 600, dropped: 0, corrupt: 0, ood: 73 },
  camera: { state: "streaming", frames: 600, restarts: 0, stalls: 0, corrupt: 0, skipped_bytes: 0 },
  decisions: { pass: 362, reject: 238, uncertain: 3 },
  reject_rate: 0.39,
  latency_ms: { infer: { ...latency }, end_to_end: { ...latency } },
  memory: { rss_mb: 180.2, heap_mb: 22.9 },
  storage: { db_bytes: 7388760, samples: 267, written: 267, dropped: 0, queued: 2, lost: 0 },
  mqtt: { dropped: 2, queued: 0, queued_bytes: 0, oversized: 0 },
  system: {
    cpu_percent: 31.1,
    load_1m: 4.01,
    temperature_c: 71.3,
    thermal_zones: { "cpu-thermal": 71.3 },
    throttled: {
      raw: 0x50001,
      under_voltage: true,
      freq_capped: false,
      throttled: false,
      soft_temp_limit: false,
      under_voltage_occurred: true,
      freq_capped_occurred: false,
      throttled_occurred: true,
      soft_temp_limit_occurred: false,
    },
    disk_free_mb: 77136,
    disk_free_percent: 29.9,
  },
  alerts: ["disk_low"],
  model: {
    shadow: {
      candidate: { name: "round-parts", version: "1.1.0", sha256: "cd".repeat(32) },
      since: TIME,
      frames: 590,
      dropped: 10,
      agree: 583,
      agreement: 0.9881,
      disagreements: { candidate_rejects: 5, candidate_passes: 2 },
      latency_ms: { p50: 3.1, p99: 7.9 },
      drift: "ok",
    },
  },
};

const feature: FeatureDrift = {
  status: "alarm",
  psi: 0.551,
  js: 0.3063,
  mean: 70.351,
  ref_mean: 76.73,
  change_pct: -8.3,
  shift_sd: -0.92,
  recent_change_pct: -20.6,
};
const drift: DriftReport = {
  schema: 1,
  status: "alarm",
  window: { size: 500, capacity: 500, ready: true },
  frames: 500,
  features: {
    brightness: { ...feature },
    contrast: { ...feature },
    sharpness: { ...feature },
    red: { ...feature },
    green: { ...feature },
    blue: { ...feature },
  },
  score: { status: "ok", psi: 0.03, js: 0.07, mean: 0.408, ref_mean: 0.401, change_pct: 1.6 },
  reject_rate: { status: "ok", observed: 0.4, expected: 0.3975, z: 0.07 },
  uncertain_rate: { status: "ok", observed: 0.004, expected: 0.0004, z: 2.11 },
  reasons: ["brightness down 21% (PSI 0.55): check the lighting and the camera's exposure"],
};

const event: EventPayload = {
  schema: 1,
  time: TIME,
  type: "disk_low",
  severity: "warning",
  message: "disk low: 77157 MB free for the database (limit 1000 MB)",
  data: { active: true, disk_free_mb: 77157 },
};

const decision: DecisionPayload = {
  schema: 1,
  seq: 115,
  time: TIME,
  label: "good",
  score: 0.838,
  action: "reject",
  uncertain: true,
  ood: false,
  threshold: 0.88,
  model_version: "1.0.0",
  latency_ms: 6.02,
};

const model: ModelPayload = {
  schema: 1,
  store: {
    active: "round-parts@1.1.0",
    previous: "round-parts@1.0.0",
    candidate: null,
    installed: ["round-parts@1.0.0", "round-parts@1.1.0"],
    dir: "/var/lib/linesight/models",
  },
  running: "round-parts@1.1.0",
  probation: {
    id: "round-parts@1.1.0",
    previous: "round-parts@1.0.0",
    started_at: TIME,
    until: TIME,
    starts: 0,
    frames: 120,
    rejects: 3,
    ood: 0,
    status: "watching",
  },
  gate: null,
};

const GOOD: Record<Exclude<TopicName, "status">, unknown> = { state, health, drift, event, decision, model };

const DELETE = Symbol("delete");

/** A deep copy of `value` with the field at the dotted `path` set to `to` (or deleted). */
function edit(value: unknown, path: string, to: unknown): unknown {
  const copy = structuredClone(value) as Record<string, unknown>;
  const keys = path.split(".");
  const last = keys.pop() as string;
  let node = copy;
  for (const k of keys) node = node[k] as Record<string, unknown>;
  if (to === DELETE) delete node[last];
  else node[last] = to;
  return copy;
}

function errorOf(name: TopicName, value: unknown): string {
  const r = PAYLOAD_SCHEMAS[name].safeParse(value);
  return r.success ? "accepted" : r.error.issues.map((i) => `${i.path.join(".")}: ${i.code}`).join("; ");
}

describe("payload schemas", () => {
  it.each(Object.entries(GOOD))("accept a good %s payload", (name, value) => {
    expect(errorOf(name as TopicName, value)).toBe("accepted");
  });

  it("accept what the platform lacks as null", () => {
    expect(errorOf("health", { ...health, storage: null, system: null, alerts: [] })).toBe("accepted");
    const bare = { ...health.system, temperature_c: null, thermal_zones: {}, throttled: null, disk_free_mb: null };
    expect(errorOf("health", { ...health, system: { ...bare, disk_free_percent: null } })).toBe("accepted");
    expect(errorOf("state", { ...state, model: null, threshold: null })).toBe("accepted");
  });

  it.each([
    ["state", "threshold: invalid_type", edit(state, "threshold", "0.88")],
    ["state", "camera.state: invalid_value", edit(state, "camera.state", "broken")],
    ["state", "model.sha256: invalid_format", edit(state, "model.sha256", "not-a-hash")],
    ["health", "frames.decided: too_small", edit(health, "frames.decided", -1)],
    ["health", "frames.decided: invalid_type", edit(health, "frames.decided", 1.5)],
    ["health", "alerts.0: invalid_value", edit(health, "alerts", ["on_fire"])],
    ["health", "latency_ms.infer.p50: invalid_type", edit(health, "latency_ms.infer.p50", "fast")],
    ["drift", "status: invalid_value", edit(drift, "status", "bad")],
    ["drift", "features.blue.psi: too_small", edit(drift, "features.blue.psi", -0.1)],
    ["event", "severity: invalid_value", edit(event, "severity", "critical")],
    ["event", "time: invalid_format", edit(event, "time", "yesterday")],
    ["decision", "score: too_big", edit(decision, "score", 1.2)],
    ["decision", "action: invalid_value", edit(decision, "action", "uncertain")],
  ] as const)("refuse a wrong type or value in %s (%s)", (name, error, value) => {
    expect(errorOf(name, value)).toBe(error);
  });

  it.each([
    ["state", "since: invalid_type", edit(state, "since", DELETE)],
    ["health", "mqtt: invalid_type", edit(health, "mqtt", DELETE)],
    ["health", "system.throttled.raw: invalid_type", edit(health, "system.throttled.raw", DELETE)],
    ["drift", "features.sharpness: invalid_type", edit(drift, "features.sharpness", DELETE)],
    ["event", "message: invalid_type", edit(event, "message", DELETE)],
    ["decision", "schema: invalid_value", edit(decision, "schema", DELETE)],
  ] as const)("refuse a missing field in %s (%s)", (name, error, value) => {
    expect(errorOf(name, value)).toBe(error);
  });

  it.each([
    ["state", "device: unrecognized_keys", edit(state, "device.room", "A")],
    ["health", ": unrecognized_keys", edit(health, "cpu", 3)],
    ["health", "system: unrecognized_keys", edit(health, "system.gpu_percent", 3)],
    ["health", "latency_ms.infer: unrecognized_keys", edit(health, "latency_ms.infer.p90", 3)],
    ["drift", "features: unrecognized_keys", edit(drift, "features.hue", feature)],
    ["event", ": unrecognized_keys", edit(event, "source", "x")],
    ["decision", ": unrecognized_keys", edit(decision, "image", "...")],
  ] as const)("refuse an unknown field in %s (%s)", (name, error, value) => {
    expect(errorOf(name, value)).toBe(error);
  });

  it("accept a newer schema version nowhere: readers of schema 1 must not guess", () => {
    expect(errorOf("decision", { ...decision, schema: 2 })).toBe("schema: invalid_value");
  });
});

describe("event data by type", () => {
  const ev = (type: string, data?: object) => ({ ...event, type, ...(data ? { data } : {}) });

  it("accepts the data each known type carries", () => {
    expect(errorOf("event", ev("model_loaded", { name: "round-parts", version: "1.0.0", sha256: SHA }))).toBe(
      "accepted",
    );
    const driftData = { from: "ok", to: "warn", reasons: ["brightness down 21%"], frames: 425, window: 425 };
    expect(errorOf("event", ev("drift", driftData))).toBe("accepted");
    expect(errorOf("event", ev("camera_stalled", { active: false, seconds_since_frame: 0 }))).toBe("accepted");
    expect(errorOf("event", ev("throttled", { active: true, problems: ["under-voltage now"] }))).toBe("accepted");
  });

  it("refuses data that does not fit a known type, naming the field under data", () => {
    expect(errorOf("event", ev("disk_low", { disk_free_mb: 10 }))).toBe("data.active: invalid_type");
    expect(errorOf("event", ev("disk_low", { active: "yes", disk_free_mb: 10 }))).toBe("data.active: invalid_type");
    expect(errorOf("event", ev("disk_low", { active: true, disk_free_mb: 10, extra: 1 }))).toBe(
      "data: unrecognized_keys",
    );
    expect(errorOf("event", ev("drift", { from: "ok", to: "bad", reasons: [], frames: 1, window: 1 }))).toBe(
      "data.to: invalid_value",
    );
    expect(errorOf("event", { ...event, data: undefined })).toBe("data: invalid_type");
  });

  it("lets other event types carry any JSON object, so new types do not break old readers", () => {
    expect(errorOf("event", ev("model_refused", { reason: "sha256 mismatch" }))).toBe("accepted");
    expect(errorOf("event", ev("model_refused"))).toBe("accepted");
    expect(errorOf("event", ev("model_refused", ["not", "an", "object"]))).toBe("data: invalid_type");
  });
});

describe("parseWirePayload", () => {
  it("reads status as the bare string Home Assistant expects, not JSON", () => {
    expect(parseWirePayload("status", "online")).toEqual({ success: true, data: "online" });
    expect(parseWirePayload("status", "offline")).toEqual({ success: true, data: "offline" });
    expect(parseWirePayload("status", '"online"').success).toBe(false);
    expect(parseWirePayload("status", "Online").success).toBe(false);
  });

  it("decodes JSON topics and says what is wrong in words", () => {
    expect(parseWirePayload("decision", JSON.stringify(decision))).toEqual({ success: true, data: decision });
    expect(parseWirePayload("decision", "{not json")).toMatchObject({ success: false, error: /^not JSON/ });
    const bad = parseWirePayload("decision", JSON.stringify({ ...decision, score: "high" }));
    expect(bad).toMatchObject({ success: false, error: expect.stringContaining("score") });
  });
});
