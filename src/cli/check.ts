// `linesight check`: validates config, model and camera and lists every problem (like nginx -t).
import { constants } from "node:fs";
import { access, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { spawnFailure } from "../camera/capture-diagnosis.js";
import { describeCommand } from "../camera/commands.js";
import { captureCommand, createCameraSource, readCameraSecrets } from "../camera/create-source.js";
import { findProgram } from "../camera/find-program.js";
import { grabFrame } from "../camera/grab-frame.js";
import { listImages } from "../camera/replay-source.js";
import type { LoadedConfig } from "../config/load.js";
import { readSecret } from "../config/secrets.js";
import { Preprocessor } from "../model/preprocess.js";
import { ModelSession } from "../model/session.js";
import { startupModel } from "../model/startup-model.js";
import { brokerLogins } from "../mqtt/broker-logins.js";
import { redactUrl } from "../mqtt/redact.js";
import { readTlsFiles } from "../mqtt/tls-files.js";
import { resolveConfig } from "./config-source.js";

export const CHECK_HELP = `Usage: linesight check [--config FILE]

Validates the configuration, loads the model the daemon starts on (model.store's active version,
else model.path; sha256, inputs and outputs against its manifest), re-verifies every version in
model.store, opens the camera source and decodes one frame, and checks that the database
directory is writable and secrets are readable. Prints every problem; exits 1 if there is any.`;

type Check = { name: string; run: () => Promise<string> };

export async function checkCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    console.log(CHECK_HELP);
    return 0;
  }
  let loaded: LoadedConfig;
  try {
    loaded = await resolveConfig(values.config);
  } catch (err) {
    console.log(`✗ config: ${(err as Error).message}`);
    return 1;
  }
  const { config } = loaded;
  console.log(`✓ config: ${loaded.source}`);
  let session: ModelSession | null = null;
  const checks: Check[] = [
    {
      name: "model",
      run: async () => {
        // The folder the daemon will start on: the store's active version, or model.path.
        const start = await startupModel(config.model);
        session = await ModelSession.load(start.dir, { threads: 1 });
        const m = session.manifest;
        const where = start.id ? `${start.id} from the store ${config.model.store}` : start.dir;
        return `${m.name} ${m.version} (${where}), input ${m.input.shape.join("x")}, threshold ${config.decision.threshold ?? m.decision.threshold}`;
      },
    },
    ...(config.model.store ? [modelStoreCheck(config)] : []),
    ...(config.model.shadow.dir ? [shadowCheck(config.model.shadow.dir)] : []),
    {
      name: "camera",
      run: async () => {
        if (config.camera.source !== "replay") return checkCaptureCamera(config, session);
        const images = await listImages(config.camera.replay.path);
        const first = `${config.camera.replay.path}/${images[0]}`;
        if (session) {
          const pre = new Preprocessor(session.manifest.input, config.camera.roi ?? undefined);
          const p = await pre.run(await readFile(first));
          return `replay of ${images.length} images at ${config.camera.replay.fps} fps; first frame ${p.sourceWidth}x${p.sourceHeight} decodes`;
        }
        return `replay of ${images.length} images at ${config.camera.replay.fps} fps`;
      },
    },
    {
      name: "storage",
      run: async () => {
        const dir = dirname(config.storage.path);
        await mkdir(dir, { recursive: true });
        await access(dir, constants.W_OK);
        return `${config.storage.path} (directory writable, limit ${config.storage.max_mb} MB)`;
      },
    },
    {
      name: "mqtt",
      run: async () => {
        const mq = config.mqtt;
        const logins = await brokerLogins(mq); // the password files or credentials are readable
        const tls = await readTlsFiles(mq.tls);
        const outboxDir = dirname(mq.outbox.path ?? config.storage.path);
        await mkdir(outboxDir, { recursive: true });
        await access(outboxDir, constants.W_OK);
        const extras = [
          tls.ca ? "TLS CA readable" : "",
          tls.cert ? "client certificate and key readable" : "",
          mq.home_assistant.enabled ? "Home Assistant discovery on" : "",
          `MQTT ${mq.protocol_version === 5 ? "5" : "3.1.1"}`,
          `messages up to ${mq.max_message_kb} KiB`,
        ].filter(Boolean);
        const where = mq.url
          ? `broker ${redactUrl(mq.url)}`
          : `embedded broker on ${mq.embedded.host}:${mq.embedded.port} (${logins.embedded ? `login ${logins.embedded.username}` : "anonymous"})`;
        return `${where} (${extras.join(", ")}; outbox in ${outboxDir})`;
      },
    },
    {
      name: "line",
      run: async () => {
        const l = config.line;
        if (!l.enabled) return "line I/O off (decisions over MQTT only)";
        const modbus = l.modbus.enabled ? `, Modbus on ${l.modbus.host}:${l.modbus.port}` : "";
        const backend = l.backend === "gpio" ? `GPIO chip ${l.gpio_chip}` : "simulated line";
        return `${backend} (trigger ${l.trigger.source}, reject ${l.reject.delay_ms} ms after the edge${modbus})`;
      },
    },
    // The GPIO lines as configured, whenever a chip is (also before line.enabled is switched on).
    ...(config.line.backend === "gpio" && config.line.gpio_chip !== null
      ? [{ name: "gpio lines", run: async () => (await import("../line/gpio-check.js")).checkGpioLines(config.line) }]
      : []),
    {
      name: "http",
      run: async () => {
        const h = config.http;
        if (!h.enabled) return "operator page off";
        if (h.token_file || h.token_credential) {
          const t = await readSecret({ file: h.token_file ?? undefined, credential: h.token_credential ?? undefined });
          if (t.length < 16) throw new Error("the HTTP token is shorter than 16 characters (openssl rand -hex 16)");
        }
        const token =
          h.token_file ?? (h.token_credential ? `credential ${h.token_credential}` : "generated next to the database");
        return `operator page on http://${h.host}:${h.port}/ (token: ${token}; viewing ${h.read_only_open ? "open" : "needs the token"})`;
      },
    },
  ];
  let failed = 0;
  for (const c of checks) {
    try {
      console.log(`✓ ${c.name}: ${await c.run()}`);
    } catch (err) {
      failed++;
      console.log(`✗ ${c.name}: ${(err as Error).message}`);
    }
  }
  await (session as ModelSession | null)?.release();
  console.log(failed === 0 ? "configuration OK" : `${failed} problem(s) found`);
  return failed === 0 ? 0 : 1;
}

/** Every version the store records is intact on disk and signed by a trusted key. */
function modelStoreCheck(config: LoadedConfig["config"]): Check {
  return {
    name: "model store",
    run: async () => {
      const { ModelStore } = await import("../model/model-store.js");
      const { loadTrust } = await import("./model-bundle-commands.js");
      const store = await ModelStore.open(config.model.store as string, { keep: config.model.keep_versions });
      const report = await store.verify(await loadTrust(config.model.trusted_keys, config.model.allow_unsigned));
      if (!report.ok) throw new Error(`${config.model.store}:\n    ${report.problems.join("\n    ")}`);
      const s = store.state;
      return (
        `${config.model.store}: ${report.verified.length} version(s) verified; active ${s.active ?? "none (model.path)"}, ` +
        `previous ${s.previous ?? "none"}, candidate ${s.candidate ?? "none"}`
      );
    },
  };
}

/** The capture program is installed, starts, and its first frame decodes. */
async function checkCaptureCamera(config: LoadedConfig["config"], session: ModelSession | null): Promise<string> {
  const secrets = await readCameraSecrets(config.camera);
  const cmd = captureCommand(config.camera);
  if (!cmd) throw new Error(`camera.source ${config.camera.source} has no capture command`);
  const program = findProgram(cmd.bin);
  if (!program) throw new Error(spawnFailure(cmd.bin, "ENOENT", "not found"));
  const timeoutMs = Math.max(10_000, 2 * config.camera.stall_timeout_s * 1000);
  let frame: Awaited<ReturnType<typeof grabFrame>>;
  try {
    frame = await grabFrame(createCameraSource(config.camera, { secrets }), timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n    command: ${describeCommand(cmd)}`);
  }
  let decoded = `first frame ${frame.data.length} bytes`;
  if (session) {
    const pre = new Preprocessor(session.manifest.input, config.camera.roi ?? undefined);
    const p = await pre.run(frame.data, frame.raw);
    decoded = `first frame ${p.sourceWidth}x${p.sourceHeight}${frame.raw ? " raw I420" : ""} decodes`;
  }
  const notes: string[] = [];
  if (config.camera.source === "libcamera") {
    const l = config.camera.libcamera;
    if (l.shutter_us === null || l.gain === null) notes.push("exposure or gain is automatic: fix both for inspection");
    if (!l.awb_gains) notes.push("white balance is automatic: set awb_gains for stable colour");
  }
  return [`${config.camera.source} via ${program}; ${decoded}`, ...notes.map((n) => `note: ${n}`)].join("\n    ");
}

/** The candidate in shadow (model.shadow.dir): the daemon would run without it, so say it here. */
function shadowCheck(dir: string): Check {
  return {
    name: "shadow",
    run: async () => {
      const candidate = await ModelSession.load(dir, { threads: 1 });
      const m = candidate.manifest;
      await candidate.release();
      return `candidate ${m.name} ${m.version} (${dir}) loads, threshold ${m.decision.threshold}; it decides beside the active model, never acted on`;
    },
  };
}
