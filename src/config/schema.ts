// The configuration schema: the single source of truth for keys, types and defaults.
// Nested sections use prefault({}) so an omitted section still gets every default.
import { isIP } from "node:net";
import { z } from "zod";
import { splitPipeline } from "../camera/pipeline-tokens.js";

const path = z.string().min(1, "expected a path");
const nullablePath = path.nullable().default(null);

/** A secret comes from a file or a systemd credential, never both: flags `<name>_credential` if both are set. */
function oneSecretSource(o: Record<string, unknown>, name: string, ctx: z.RefinementCtx, under: string[] = []): void {
  if (o[`${name}_file`] && o[`${name}_credential`]) {
    ctx.addIssue({
      code: "custom",
      path: [...under, `${name}_credential`],
      message: `set either ${name}_file or ${name}_credential, not both`,
    });
  }
}

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

// Capture size and rate asked of a real camera; the model's input size is separate (frames are
// resized to it), so this sets the field of view's detail and the ROI's coordinates.
const frameSize = {
  width: z.number().int().min(16).max(8192).default(640),
  height: z.number().int().min(16).max(8192).default(480),
  fps: z.number().positive().max(240).default(30),
};

// What the capture program writes to stdout: JPEG after JPEG, or raw I420 frames of the
// configured size (no encode in the camera program, no decode in linesight). Raw frames are read
// as tightly packed, so the width must be one the program does not pad: a multiple of `rowMultiple`.
const format = z.enum(["mjpeg", "yuv420"]);

function rawSizeCheck(program: string, rowMultiple: number) {
  return (c: { format: string; width: number; height: number }, ctx: z.RefinementCtx) => {
    if (c.format !== "yuv420") return;
    if (c.width % rowMultiple !== 0) {
      const lower = Math.floor(c.width / rowMultiple) * rowMultiple;
      const near = lower > 0 ? `${lower} or ${lower + rowMultiple}` : `${rowMultiple}`;
      ctx.addIssue({
        code: "custom",
        path: ["width"],
        message:
          `width ${c.width} cannot be read as raw yuv420: ${program} pads each row to a multiple of ${rowMultiple} pixels; ` +
          `use a width that is one (e.g. ${near}) or format: mjpeg`,
      });
    }
    if (c.height % 2 !== 0) {
      ctx.addIssue({
        code: "custom",
        path: ["height"],
        message: `format: yuv420 needs an even height (${c.height} is odd)`,
      });
    }
  };
}

// Names that go into a capture command line: plain words only (no spaces, quotes or options).
const word = (what: string) =>
  z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:,/-]*$/, `expected a ${what} (letters, digits, _ . : , / -)`);

export const libcameraSchema = z
  .strictObject({
    camera: z.number().int().min(0).default(0),
    ...frameSize,
    // Raw by default: rpicam-vid encodes JPEG in software on every Pi, and skipping that encode
    // (and linesight's decode) measured cheaper end to end (docs/performance.md).
    format: format.default("yuv420"),
    quality: z.number().int().min(1).max(100).default(90),
    // Fixed exposure and gain by default: automatic exposure follows the product, not the light.
    shutter_us: z.number().int().positive().nullable().default(10000),
    gain: z.number().min(1).max(64).nullable().default(1),
    awb_gains: z.tuple([z.number().positive(), z.number().positive()]).nullable().default(null),
    awb: z
      .enum(["auto", "incandescent", "tungsten", "fluorescent", "indoor", "daylight", "cloudy", "custom"])
      .default("auto"),
    denoise: z.enum(["auto", "off", "cdn_off", "cdn_fast", "cdn_hq"]).default("auto"),
    lens_position: z.number().min(0).max(32).nullable().default(null),
    sharpness: z.number().min(0).max(16).nullable().default(null),
    contrast: z.number().min(0).max(32).nullable().default(null),
    brightness: z.number().min(-1).max(1).nullable().default(null),
    saturation: z.number().min(0).max(32).nullable().default(null),
    hflip: z.boolean().default(false),
    vflip: z.boolean().default(false),
    rotation: z.union([z.literal(0), z.literal(180)]).default(0),
    extra_args: z.array(z.string().min(1)).default([]),
  })
  // The Pi's ISP (and so rpicam-vid's yuv420 output) aligns rows to 64 bytes.
  .superRefine(rawSizeCheck("rpicam-vid", 64));

export const gstreamerSchema = z
  .strictObject({
    element: z.enum(["v4l2src", "nvarguscamerasrc", "libcamerasrc", "videotestsrc", "custom"]).default("v4l2src"),
    device: path.default("/dev/video0"),
    sensor_id: z.number().int().min(0).default(0),
    camera_name: z.string().min(1).nullable().default(null),
    pattern: word("videotestsrc pattern").default("smpte"),
    properties: z
      .record(
        z.string().regex(/^[a-z][a-z0-9-]*$/, "expected a GStreamer property name such as exposuretimerange"),
        z.union([z.string(), z.number(), z.boolean()]),
      )
      .default({}),
    pipeline: z.string().min(1).nullable().default(null),
    ...frameSize,
    format: format.default("mjpeg"),
    quality: z.number().int().min(1).max(100).default(90),
  })
  .superRefine((g, ctx) => {
    // GStreamer's I420 rows are 4-byte aligned, the half-width chroma rows too.
    rawSizeCheck("GStreamer", 8)(g, ctx);
    if (g.element === "custom" && !g.pipeline)
      ctx.addIssue({
        code: "custom",
        path: ["pipeline"],
        message: "element: custom needs a pipeline (the source part)",
      });
    if (g.element !== "custom" && g.pipeline)
      ctx.addIssue({ code: "custom", path: ["pipeline"], message: "pipeline is used only with element: custom" });
    if (g.pipeline) {
      try {
        splitPipeline(g.pipeline);
      } catch (err) {
        ctx.addIssue({ code: "custom", path: ["pipeline"], message: (err as Error).message });
      }
    }
  });

export const ffmpegSchema = z
  .strictObject({
    input: z.enum(["v4l2", "rtsp", "lavfi"]).default("v4l2"),
    device: path.default("/dev/video0"),
    input_format: word("V4L2 pixel format as ffmpeg names it (mjpeg, yuyv422, ...)").default("mjpeg"),
    url: z
      .string()
      .regex(/^rtsps?:\/\/[^\s]+$/, "expected an rtsp:// or rtsps:// URL")
      .nullable()
      .default(null),
    // The RTSP password, kept out of the URL (and so out of the config): the URL names the user
    // (rtsp://admin@cam/...) and the password is inserted only when ffmpeg is started.
    password_file: nullablePath,
    password_credential: z.string().min(1).nullable().default(null),
    rtsp_transport: z.enum(["tcp", "udp"]).default("tcp"),
    pattern: word("lavfi test source (testsrc, testsrc2, smptebars, ...)").default("testsrc"),
    reencode: z.boolean().default(false),
    quality: z.number().int().min(2).max(31).default(5),
    ...frameSize,
    // MJPEG by default: USB cameras encode it themselves, and ffmpeg passes it on untouched.
    format: format.default("mjpeg"),
  })
  .superRefine((f, ctx) => {
    rawSizeCheck("ffmpeg", 2)(f, ctx);
    if (f.input === "rtsp" && !f.url)
      ctx.addIssue({ code: "custom", path: ["url"], message: "input: rtsp needs the camera's url (rtsp://...)" });
    oneSecretSource(f, "password", ctx);
    const secretKey = f.password_file ? "password_file" : f.password_credential ? "password_credential" : null;
    if (secretKey && f.input !== "rtsp")
      ctx.addIssue({ code: "custom", path: [secretKey], message: "a camera password is used only with input: rtsp" });
    if (secretKey && f.url) {
      const info = /^rtsps?:\/\/([^/]*)@/.exec(f.url)?.[1];
      if (!info)
        ctx.addIssue({
          code: "custom",
          path: ["url"],
          message: `${secretKey} needs the user name in the URL: rtsp://USER@host/... (the password is added when ffmpeg starts)`,
        });
      else if (info.includes(":"))
        ctx.addIssue({
          code: "custom",
          path: ["url"],
          message: `the URL has a password in it and ${secretKey} is set: remove ":password" from the URL`,
        });
    }
  });

export const cameraSchema = z.strictObject({
  source: z.enum(["replay", "libcamera", "gstreamer", "ffmpeg"]).default("replay"),
  replay: z
    .strictObject({
      path: path.default("/usr/share/linesight/footage/round-parts"),
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
  libcamera: libcameraSchema.prefault({}),
  gstreamer: gstreamerSchema.prefault({}),
  ffmpeg: ffmpegSchema.prefault({}),
  roi: roiSchema.nullable().default(null),
  stall_timeout_s: z.number().positive().default(5),
});

// The gate between a candidate model and the active one, on this line's labeled frames (docs/models.md).
export const modelGateSchema = z.strictObject({
  // Refuse when the candidate's rate is higher than the active model's by more than this (absolute).
  max_missed_defect_increase: z.number().min(0).max(1).default(0.005),
  max_false_reject_increase: z.number().min(0).max(1).default(0.01),
  // Refuse when McNemar's exact test says the candidate is worse at this significance level.
  significance: z.number().gt(0).lt(0.5).default(0.05),
  min_defects: z.number().int().min(0).default(30),
  min_good: z.number().int().min(0).default(100),
  // With fewer labeled frames than that: refuse, or accept on the evidence there is.
  too_few_labels: z.enum(["refuse", "accept"]).default("refuse"),
  // On the device: the newest labeled samples both models are run on (bounds the gate's time).
  max_samples: z.number().int().min(1).default(5000),
});

// After a promotion: what is watched, and for how long, before the new model is trusted (docs/models.md).
export const modelProbationSchema = z.strictObject({
  // How long the promoted model is watched; 0: no probation.
  duration_s: z.number().min(0).default(600),
  // Frames decided before the rates are judged (fewer say too little).
  min_frames: z.number().int().min(1).default(300),
  // Roll back when the reject rate exceeds the model's expected rate by more than this (absolute).
  max_reject_rate_increase: z.number().gt(0).max(1).default(0.1),
  // Roll back when more than this share of frames is out of the model's reference range.
  max_ood_rate: z.number().gt(0).max(1).default(0.2),
  // Roll back when the median frame-to-decision time exceeds this; null: model.latency_budget_ms.
  max_latency_ms: z.number().positive().nullable().default(null),
  // Starts during probation after which the daemon starts on the previous model (a crash loop).
  max_restarts: z.number().int().min(1).default(3),
});

// Promotion without a command, when the candidate has shown it is at least as good (off by default).
export const modelAutoPromoteSchema = z.strictObject({
  enabled: z.boolean().default(false),
  // Live frames the candidate decided in shadow mode, and the share it agreed on.
  min_frames: z.number().int().min(1).default(5000),
  min_agreement: z.number().min(0).max(1).default(0.98),
  // How often the criteria are looked at.
  check_interval_s: z.number().min(1).default(60),
});

// Shadow mode: a candidate deciding the live frames beside the active model, never acted on (docs/models.md).
export const modelShadowSchema = z.strictObject({
  // A candidate model folder shadowed from start (trials, tests, the benchmark); null: only the
  // model lifecycle hands the shadow a candidate.
  dir: nullablePath,
  // onnxruntime threads of the candidate's session: it must not take the cores the active model needs.
  threads: z.number().int().min(1).max(8).default(1),
  // Frames where the two models disagree stored as `disagreement` samples, at most this many a minute.
  samples_per_minute: z.number().int().min(0).default(30),
});

export const modelSchema = z
  .strictObject({
    path: path.default("/usr/share/linesight/models/round-parts"),
    threads: z.number().int().min(1).max(8).default(1),
    // Installed model bundles (docs/models.md); null: the folder at `path` is the model, as before.
    store: nullablePath,
    keep_versions: z.number().int().min(2).max(20).default(3),
    // Public keys (PEM files from `linesight model keygen`) whose signed bundles are accepted; several for rotation.
    trusted_keys: z.array(path).default([]),
    allow_unsigned: z.boolean().default(false),
    // Largest bundle accepted (file, CLI or MQTT). A bundle over MQTT must also fit in
    // mqtt.max_message_kb (checked below); 7 MiB fits the default 8 MiB with room to spare.
    max_bundle_mb: z.number().min(1).max(1024).default(7),
    // How far a golden frame's score on this device may be from the one recorded at packing.
    golden_tolerance: z.number().min(0).max(1).default(0.02),
    // A candidate whose median inference time on this device exceeds this is refused; null: no limit.
    latency_budget_ms: z.number().positive().nullable().default(33),
    gate: modelGateSchema.prefault({}),
    probation: modelProbationSchema.prefault({}),
    auto_promote: modelAutoPromoteSchema.prefault({}),
    shadow: modelShadowSchema.prefault({}),
  })
  .superRefine((m, ctx) => {
    if (m.store && m.trusted_keys.length === 0 && !m.allow_unsigned)
      ctx.addIssue({
        code: "custom",
        path: ["trusted_keys"],
        message:
          "model.store is set but no key is trusted, so no bundle could be installed: list the .pub files from 'linesight model keygen' (or set model.allow_unsigned: true, demo only)",
      });
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

// Trust and identity for mqtts:// (wss://). Without ca_file the system's CAs are trusted.
export const mqttTlsSchema = z
  .strictObject({
    ca_file: nullablePath,
    cert_file: nullablePath,
    key_file: nullablePath,
    key_credential: z.string().min(1).nullable().default(null),
    // Only for a first test against a broker with a self-signed certificate: anyone can then pose as the broker.
    reject_unauthorized: z.boolean().default(true),
  })
  .superRefine((t, ctx) => {
    oneSecretSource(t, "key", ctx);
    const hasKey = Boolean(t.key_file || t.key_credential);
    if (t.cert_file && !hasKey)
      ctx.addIssue({
        code: "custom",
        path: ["key_file"],
        message: "cert_file needs its private key: set key_file or key_credential",
      });
    if (hasKey && !t.cert_file)
      ctx.addIssue({
        code: "custom",
        path: ["cert_file"],
        message: "a client key needs its certificate: set cert_file",
      });
  });

// The durable queue of QoS 1 messages (state, health, drift, events) waiting for the broker.
export const mqttOutboxSchema = z.strictObject({
  // null: outbox.db next to storage.path
  path: nullablePath,
  max_messages: z.number().int().min(10).default(20_000),
  max_mb: z.number().min(1).default(64),
});

// Home Assistant MQTT discovery: retained entity configs under <discovery_prefix>/.
export const homeAssistantSchema = z.strictObject({
  enabled: z.boolean().default(false),
  discovery_prefix: z
    .string()
    .regex(/^[A-Za-z0-9_-][A-Za-z0-9_/-]*[A-Za-z0-9_-]$|^[A-Za-z0-9_-]$/, "a topic prefix such as homeassistant")
    .default("homeassistant"),
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
        // The one login the embedded broker accepts (the daemon's own client uses it too).
        username: z.string().min(1).nullable().default(null),
        password_file: nullablePath,
        password_credential: z.string().min(1).nullable().default(null),
        // true: anyone who reaches a non-loopback host may connect, read and send commands.
        allow_anonymous: z.boolean().default(false),
      })
      .prefault({}),
    // Largest MQTT message taken from the broker (and by the embedded broker), in KiB: larger ones
    // are skipped unread and counted. Room for a model bundle; ordinary commands stay at 64 KiB.
    max_message_kb: z.number().int().min(64).max(262_144).default(8192),
    prefix: z
      .string()
      .regex(/^[^+#$][^+#]*[^/+#]$|^[^+#$/]$/, "no '+' or '#', must not start with '$' or end with '/'")
      .nullable()
      .default(null),
    // Commands sent to every device at once arrive on <group_prefix>/cmd/<name>; null: not listened to.
    group_prefix: z
      .string()
      .regex(/^[^+#$][^+#]*[^/+#]$|^[^+#$/]$/, "no '+' or '#', must not start with '$' or end with '/'")
      .nullable()
      .default("linesight/all"),
    client_id: z.string().min(1).nullable().default(null),
    username: z.string().min(1).nullable().default(null),
    password_file: nullablePath,
    password_credential: z.string().min(1).nullable().default(null),
    health_interval_s: z.number().min(1).default(10),
    publish_decisions: z.boolean().default(true),
    keepalive_s: z.number().int().min(5).max(3600).default(30),
    // 5 adds MQTT 5 request/response (commands answered on the caller's response topic); the
    // embedded broker speaks only 3.1.1 (4).
    protocol_version: z.union([z.literal(4), z.literal(5)]).default(4),
    tls: mqttTlsSchema.prefault({}),
    outbox: mqttOutboxSchema.prefault({}),
    home_assistant: homeAssistantSchema.prefault({}),
  })
  .superRefine((m, ctx) => {
    oneSecretSource(m, "password", ctx);
    if (m.url === null) embeddedLoginCheck(m.embedded, ctx);
    const tlsSet = m.tls.ca_file || m.tls.cert_file || m.tls.key_file || m.tls.key_credential;
    if (tlsSet && m.url && !/^(mqtts|wss):/.test(m.url)) {
      ctx.addIssue({
        code: "custom",
        path: ["url"],
        message: "mqtt.tls is set but the URL is not mqtts:// or wss://; use mqtts://host:8883",
      });
    }
    if (m.url === null && m.protocol_version === 5) {
      ctx.addIssue({
        code: "custom",
        path: ["protocol_version"],
        message: "the embedded broker speaks MQTT 3.1.1 only; set mqtt.url to a broker with MQTT 5, or use 4",
      });
    }
  });

/** Loopback addresses and names: only this machine can reach a broker listening there. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function embeddedLoginCheck(
  e: {
    host: string;
    username: string | null;
    password_file: string | null;
    password_credential: string | null;
    allow_anonymous: boolean;
  },
  ctx: z.RefinementCtx,
): void {
  const at = (key: string) => ["embedded", key];
  oneSecretSource(e, "password", ctx, ["embedded"]);
  const hasPassword = Boolean(e.password_file || e.password_credential);
  if (e.username && !hasPassword)
    ctx.addIssue({
      code: "custom",
      path: at("password_file"),
      message: "embedded.username needs a password: set embedded.password_file or embedded.password_credential",
    });
  if (hasPassword && !e.username)
    ctx.addIssue({
      code: "custom",
      path: at("username"),
      message: "a password for the embedded broker needs embedded.username",
    });
  if (e.username && e.allow_anonymous)
    ctx.addIssue({
      code: "custom",
      path: at("allow_anonymous"),
      message: "allow_anonymous: true and a login (embedded.username) contradict each other; remove one",
    });
  if (!e.username && !hasPassword && !e.allow_anonymous && !isLoopbackHost(e.host))
    ctx.addIssue({
      code: "custom",
      path: at("host"),
      message:
        `${e.host} opens the embedded broker to the network without a login: anyone who reaches it could change ` +
        "the threshold or pause inspection. Set mqtt.embedded.username and mqtt.embedded.password_file (or " +
        "password_credential), or keep host: 127.0.0.1, or accept the risk with mqtt.embedded.allow_anonymous: true",
    });
}

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

// The operator's screen and labeling page (src/http/). Changes need the token; viewing may be open.
export const httpSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    // Loopback by default: opening it to the LAN is a decision (host: 0.0.0.0).
    host: z.string().min(1).default("127.0.0.1"),
    port: z.number().int().min(0).max(65535).default(8080),
    token_file: nullablePath,
    token_credential: z.string().min(1).nullable().default(null),
    // true: anyone who reaches the port may watch the live view and browse samples; false: the token is needed for that too.
    read_only_open: z.boolean().default(true),
    // Live updates per second per browser; a slow client gets fewer, never a queue.
    live_max_rate_hz: z.number().min(0.5).max(60).default(10),
    // Host names the page answers to besides the device's own names and addresses (DNS rebinding: others get 421).
    allowed_hosts: z
      .array(
        z
          .string()
          .min(1)
          .regex(/^(\*|(\*\.)?[A-Za-z0-9._:%[\]-]+)$/, "expected a host name or address, *.domain, or *"),
      )
      .default([]),
    // Behind a TLS reverse proxy: mark the session cookie Secure (sent over HTTPS only).
    secure_cookie: z.boolean().default(false),
    // Addresses of reverse proxies whose X-Forwarded-For names the real client (for the login limit).
    trusted_proxies: z
      .array(z.string().refine((a) => isIP(a) !== 0, "expected an IP address, e.g. 127.0.0.1"))
      .default([]),
  })
  .superRefine((h, ctx) => {
    oneSecretSource(h, "token", ctx);
  });

// Acting on the line (src/line/, docs/line-io.md): trigger, timed reject output, fail-safe,
// ready/heartbeat outputs, the PLC's Modbus TCP server. Off by default.
// A GPIO line by its name (as `gpioinfo` lists it, e.g. GPIO17) or its offset on the chip.
const gpioLine = z
  .union([
    z.number().int().min(0).max(4095),
    z.string().regex(/^[A-Za-z0-9_.:\-[\]/ ]{1,63}$/, "expected a line name as gpioinfo shows it (e.g. GPIO17)"),
  ])
  .nullable()
  .default(null);

const outputLineSchema = z.strictObject({
  line: gpioLine,
  // true: the line is low while active (e.g. an output that sinks current through the relay).
  active_low: z.boolean().default(false),
});

export const lineSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    // gpio: the GPIO character device; simulated: a simulated conveyor (demo, tests).
    backend: z.enum(["gpio", "simulated"]).default("gpio"),
    // The GPIO chip by its label (Pi 5: pinctrl-rp1, Pi 4: pinctrl-bcm2711, Jetson Orin: tegra234-gpio),
    // or its path (/dev/gpiochip0). Chip numbers change between kernels: prefer the label.
    gpio_chip: z.string().min(1).nullable().default(null),
    trigger: z
      .strictObject({
        // none: free-run, every decided frame is a part; gpio: a photo-eye; modbus: the PLC's trigger coil.
        source: z.enum(["none", "gpio", "modbus"]).default("none"),
        line: gpioLine,
        edge: z.enum(["rising", "falling"]).default("rising"),
        bias: z.enum(["as_is", "pull_up", "pull_down", "disabled"]).default("as_is"),
        debounce_ms: z.number().min(0).max(10_000).default(5),
        capture_delay_ms: z.number().min(0).max(10_000).default(0),
      })
      .prefault({}),
    reject: z
      .strictObject({
        ...outputLineSchema.shape,
        // From the trigger edge (free-run: the frame's capture) to the part reaching the actuator.
        delay_ms: z.number().positive().max(600_000).default(300),
        pulse_ms: z.number().positive().max(10_000).default(50),
      })
      .prefault({}),
    fail_safe: z.enum(["reject", "pass"]).default("reject"),
    ready: outputLineSchema.prefault({}),
    heartbeat: z
      .strictObject({ ...outputLineSchema.shape, period_ms: z.number().min(10).max(10_000).default(100) })
      .prefault({}),
    // The output thread's scheduling: realtime (SCHED_FIFO) or high (nice -20) need CAP_SYS_NICE.
    output_priority: z.enum(["realtime", "high", "normal"]).default("realtime"),
    modbus: z
      .strictObject({
        enabled: z.boolean().default(false),
        // Loopback by default: the PLC network is a decision (host: 0.0.0.0).
        host: z.string().min(1).default("127.0.0.1"),
        // 502 is Modbus's port but needs privileges (CAP_NET_BIND_SERVICE); see docs/line-io.md.
        port: z.number().int().min(0).max(65535).default(5020),
        // 1-247; 255 answers any unit id.
        unit_id: z.number().int().min(1).max(255).default(1),
        // Results kept for a PLC that acknowledges each; 0: no handshake, the latest result only.
        results_buffer: z.number().int().min(0).max(32).default(4),
        max_clients: z.number().int().min(1).max(64).default(8),
        // A client silent this long is disconnected (0: never).
        idle_timeout_s: z.number().min(0).max(86_400).default(60),
      })
      .prefault({}),
    // backend simulated with trigger.source gpio: a simulated conveyor drives the photo-eye and a
    // triggered replay of camera.replay.path's footage (docs/line-io.md#the-simulated-line).
    simulation: z
      .strictObject({
        parts_per_s: z.number().positive().max(1000).default(10),
        // Stop feeding parts after this many (null: as long as the daemon runs).
        parts: z.number().int().positive().nullable().default(null),
        // From the trigger edge to the frame leaving the camera, beyond trigger.capture_delay_ms.
        exposure_ms: z.number().min(0).max(1000).default(2),
        // Fault injection: the camera delivers no frame after this many parts (null: never).
        camera_stall_after: z.number().int().min(0).nullable().default(null),
        // With backend gpio on a gpio-sim chip (the kernel's GPIO simulator, the VM test): the
        // simulated conveyor drives the photo-eye through the chip's sysfs pull attribute and the
        // ejector samples the reject line's value; the daemon holds the lines as on a board.
        gpio_sim: z.boolean().default(false),
      })
      .prefault({}),
  })
  .superRefine((l, ctx) => {
    if (!l.enabled) return;
    const gpio = l.backend === "gpio";
    if (gpio && l.gpio_chip === null)
      ctx.addIssue({
        code: "custom",
        path: ["gpio_chip"],
        message: "line.enabled with backend gpio needs the chip: its label (e.g. pinctrl-rp1; `gpiodetect` lists them)",
      });
    if (gpio && l.reject.line === null)
      ctx.addIssue({
        code: "custom",
        path: ["reject", "line"],
        message: "line.enabled needs the reject output's GPIO line (name such as GPIO27, or offset)",
      });
    if (l.trigger.source === "gpio" && gpio && l.trigger.line === null)
      ctx.addIssue({
        code: "custom",
        path: ["trigger", "line"],
        message: "trigger.source gpio needs the photo-eye's GPIO line (name such as GPIO17, or offset)",
      });
    if (l.simulation.gpio_sim && (!gpio || l.trigger.source !== "gpio"))
      ctx.addIssue({
        code: "custom",
        path: ["simulation", "gpio_sim"],
        message:
          "the simulated conveyor on a gpio-sim chip needs backend gpio (the chardev backend holds the chip's lines) and trigger.source gpio (it drives the photo-eye)",
      });
    if (l.trigger.source !== "gpio" && l.trigger.line !== null)
      ctx.addIssue({
        code: "custom",
        path: ["trigger", "line"],
        message: `a trigger line is read only with trigger.source gpio (source is ${l.trigger.source})`,
      });
    if (l.trigger.source === "modbus" && !l.modbus.enabled)
      ctx.addIssue({
        code: "custom",
        path: ["trigger", "source"],
        message: "trigger.source modbus needs the Modbus server: set line.modbus.enabled: true",
      });
    if (l.reject.delay_ms <= l.trigger.capture_delay_ms)
      ctx.addIssue({
        code: "custom",
        path: ["reject", "delay_ms"],
        message: `must be longer than trigger.capture_delay_ms (${l.trigger.capture_delay_ms}) plus the time to decide a frame: the part would reach the actuator before its picture is taken`,
      });
    const used = new Map<string, string>();
    const lines: [string, string | number | null][] = [
      ["trigger.line", l.trigger.source === "gpio" ? l.trigger.line : null],
      ["reject.line", l.reject.line],
      ["ready.line", l.ready.line],
      ["heartbeat.line", l.heartbeat.line],
    ];
    for (const [key, line] of lines) {
      if (line === null) continue;
      const other = used.get(String(line));
      if (other)
        ctx.addIssue({
          code: "custom",
          path: key.split("."),
          message: `GPIO line ${line} is already ${other}: each function needs its own line`,
        });
      else used.set(String(line), key);
    }
  });

export const logSchema = z.strictObject({
  level: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
});

export const configSchema = z
  .strictObject({
    device: deviceSchema,
    camera: cameraSchema.prefault({}),
    model: modelSchema.prefault({}),
    decision: decisionSchema.prefault({}),
    storage: storageSchema.prefault({}),
    mqtt: mqttSchema.prefault({}),
    drift: driftSchema.prefault({}),
    alerts: alertsSchema.prefault({}),
    http: httpSchema.prefault({}),
    line: lineSchema.prefault({}),
    log: logSchema.prefault({}),
  })
  .superRefine((c, ctx) => {
    // A model store takes bundles over MQTT: the largest bundle must get through the transport.
    const need = modelInstallMaxRawBytes(c.model.max_bundle_mb);
    if (c.model.store && c.mqtt.max_message_kb * 1024 < need)
      ctx.addIssue({
        code: "custom",
        path: ["mqtt", "max_message_kb"],
        message: `${c.mqtt.max_message_kb} KiB is too small for a model bundle of model.max_bundle_mb (${c.model.max_bundle_mb} MB) sent over MQTT: raise mqtt.max_message_kb to at least ${Math.ceil(need / 1024)} or lower model.max_bundle_mb`,
      });
  });

/** Largest raw model_install message: the bundle plus room for the topic and MQTT headers. */
export function modelInstallMaxRawBytes(maxBundleMb: number): number {
  return Math.ceil(maxBundleMb * 1048576) + 4096;
}

export type Config = z.infer<typeof configSchema>;
export type CameraConfig = Config["camera"];
export type LibcameraConfig = z.infer<typeof libcameraSchema>;
export type GstreamerConfig = z.infer<typeof gstreamerSchema>;
export type FfmpegConfig = z.infer<typeof ffmpegSchema>;
export type LineConfig = z.infer<typeof lineSchema>;

/** Keys that hold file paths, resolved against the config file's directory. */
export const PATH_KEYS = [
  ["camera", "replay", "path"],
  ["camera", "ffmpeg", "password_file"],
  ["model", "path"],
  ["model", "store"],
  ["model", "trusted_keys"],
  ["model", "shadow", "dir"],
  ["storage", "path"],
  ["mqtt", "password_file"],
  ["mqtt", "embedded", "password_file"],
  ["mqtt", "tls", "ca_file"],
  ["mqtt", "tls", "cert_file"],
  ["mqtt", "tls", "key_file"],
  ["mqtt", "outbox", "path"],
  ["http", "token_file"],
] as const;
