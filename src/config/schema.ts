// The configuration schema: the single source of truth for keys, types and defaults.
// Nested sections use prefault({}) so an omitted section still gets every default.
import { z } from "zod";

const path = z.string().min(1, "expected a path");
const nullablePath = path.nullable().default(null);

export const deviceSchema = z.strictObject({
  id: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/,
      "letters, digits, '-' and '_' only (it becomes an MQTT topic level), at most 64",
    ),
  site: z.string().default(""),
  line: z.string().default(""),
});

export const roiSchema = z.strictObject({
  x: z.number().int().min(0),
  y: z.number().int().min(0),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
});

export const cameraSchema = z.strictObject({
  // More sources (libcamera, gstreamer, ffmpeg) join this enum with their own sub-sections.
  source: z.enum(["replay"]).default("replay"),
  replay: z
    .strictObject({
      path: path.default("/var/lib/linesight/footage"),
      // Above a real camera's rate on purpose: dry runs of a model over recorded frames.
      fps: z.number().positive().max(1000).default(10),
      loop: z.boolean().default(true),
      drift: z
        .strictObject({
          kind: z.enum(["brightness", "cast", "blur", "shift"]),
          amount: z.number().min(-1).max(20),
          from_frame: z.number().int().min(0).default(0),
          ramp_frames: z.number().int().min(0).default(0),
        })
        .nullable()
        .default(null),
    })
    .prefault({}),
  roi: roiSchema.nullable().default(null),
  stall_timeout_s: z.number().positive().default(5),
});

export const modelSchema = z.strictObject({
  path: path.default("/usr/share/linesight/models/round-parts"),
  threads: z.number().int().min(1).max(8).default(1),
});

export const decisionSchema = z.strictObject({
  threshold: z.number().min(0).max(1).nullable().default(null),
  uncertain_band: z.number().min(0).max(0.5).nullable().default(null),
  uncertain_action: z.enum(["reject", "pass"]).default("reject"),
});

export const storageSchema = z.strictObject({
  path: path.default("/var/lib/linesight/linesight.db"),
  max_mb: z.number().min(10).default(1024),
  audit_fraction: z.number().min(0).max(1).default(0.02),
  store_rejects: z.boolean().default(true),
  store_uncertain: z.boolean().default(true),
});

export const mqttSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^(mqtts?|wss?):\/\/[^\s]+$/, "expected a broker URL such as mqtt://broker.local:1883 or mqtts://...")
      .nullable()
      .default(null),
    embedded: z
      .strictObject({
        host: z.string().min(1).default("127.0.0.1"),
        port: z.number().int().min(1).max(65535).default(1883),
      })
      .prefault({}),
    prefix: z
      .string()
      .regex(/^[^+#$][^+#]*[^/+#]$|^[^+#$/]$/, "no '+' or '#', must not start with '$' or end with '/'")
      .nullable()
      .default(null),
    client_id: z.string().min(1).nullable().default(null),
    username: z.string().min(1).nullable().default(null),
    password_file: nullablePath,
    password_credential: z.string().min(1).nullable().default(null),
    health_interval_s: z.number().min(1).default(10),
    publish_decisions: z.boolean().default(true),
    keepalive_s: z.number().int().min(5).max(3600).default(30),
  })
  .superRefine((m, ctx) => {
    if (m.password_file && m.password_credential) {
      ctx.addIssue({
        code: "custom",
        path: ["password_credential"],
        message: "set either password_file or password_credential, not both",
      });
    }
  });

export const driftSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    // Share of defective parts this line really has; null = the model manifest's assumption.
    defect_prevalence: z.number().min(0).max(1).nullable().default(null),
    window: z.number().int().min(50).max(100000).default(500),
    min_window: z.number().int().min(10).default(200),
    evaluate_every: z.number().int().min(1).default(25),
    psi_warn: z.number().positive().default(0.1),
    psi_alarm: z.number().positive().default(0.25),
    rate_z_warn: z.number().positive().default(3),
    rate_z_alarm: z.number().positive().default(5),
    escalate_after: z.number().int().min(1).default(3),
    clear_after: z.number().int().min(1).default(8),
    // Frames outside the reference range are stored for labeling (reason "ood"), at most this many per minute.
    ood_samples_per_minute: z.number().int().min(0).default(30),
  })
  .superRefine((d, ctx) => {
    if (d.psi_alarm <= d.psi_warn)
      ctx.addIssue({ code: "custom", path: ["psi_alarm"], message: "must be greater than psi_warn" });
    if (d.rate_z_alarm <= d.rate_z_warn)
      ctx.addIssue({ code: "custom", path: ["rate_z_alarm"], message: "must be greater than rate_z_warn" });
    if (d.min_window > d.window)
      ctx.addIssue({ code: "custom", path: ["min_window"], message: "must not exceed window" });
  });

// Device alerts, checked every check_interval_s; camera stalls use camera.stall_timeout_s.
export const alertsSchema = z.strictObject({
  check_interval_s: z.number().min(0.2).max(60).default(2),
  inference_stall_s: z.number().positive().default(10),
  disk_low_mb: z.number().min(0).default(500),
  // Raspberry Pi firmware starts soft throttling at 80 °C (60 °C on some Pi 3 boards), hard at 85 °C.
  temperature_high_c: z.number().min(30).max(125).default(80),
  raise_after: z.number().int().min(1).default(2),
  clear_after: z.number().int().min(1).default(5),
});

export const logSchema = z.strictObject({
  level: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
});

export const configSchema = z.strictObject({
  device: deviceSchema,
  camera: cameraSchema.prefault({}),
  model: modelSchema.prefault({}),
  decision: decisionSchema.prefault({}),
  storage: storageSchema.prefault({}),
  mqtt: mqttSchema.prefault({}),
  drift: driftSchema.prefault({}),
  alerts: alertsSchema.prefault({}),
  log: logSchema.prefault({}),
});

export type Config = z.infer<typeof configSchema>;

/** Keys that hold file paths, resolved against the config file's directory. */
export const PATH_KEYS = [
  ["camera", "replay", "path"],
  ["model", "path"],
  ["storage", "path"],
  ["mqtt", "password_file"],
] as const;
