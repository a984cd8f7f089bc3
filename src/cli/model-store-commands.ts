// `linesight model install|status|promote|rollback`: the model store on a device whose daemon is
// stopped (the running daemon will take these over MQTT; docs/models.md).
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Config } from "../config/schema.js";
import { BundleRefusedError } from "../model/bundle-index.js";
import { fileSource } from "../model/byte-source.js";
import { CandidateRefusedError, type CandidateReport, checkCandidate } from "../model/candidate-check.js";
import type { Manifest } from "../model/manifest.js";
import { readManifest } from "../model/model-file.js";
import { ModelStore } from "../model/model-store.js";
import type { StoreState } from "../model/store-state.js";
import type { CommandReplyPayload } from "../mqtt/payloads.js";
import { resolveConfig } from "./config-source.js";
import { loadTrust } from "./model-bundle-commands.js";
import { type RunningDaemon, runningDaemon } from "./model-remote.js";
import { UsageError } from "./usage.js";

export const STORE_HELP = `Usage:
  linesight model install FILE.lsm [--store DIR] [--config FILE] [--key PUB ...] [--allow-downgrade]
      Verifies a bundle (signature by a key in model.trusted_keys or --key, every file's sha256),
      checks it on this device (same labels as the active model, fits the camera, onnxruntime
      loads it, its golden frames reproduce within model.golden_tolerance, median inference
      within model.latency_budget_ms), then installs it as the candidate (as the active model when
      the store has none). Refuses a version older than the active one unless --allow-downgrade.
  linesight model status [--store DIR] [--config FILE] [--json]
      Installed versions and which is active, previous and candidate.
  linesight model promote [--store DIR] [--config FILE]
      The candidate becomes active, the active one previous.
  linesight model rollback [--store DIR] [--config FILE]
      The previous model becomes active again.
  linesight model discard [--config FILE]
      Forgets the candidate.
  DIR defaults to model.store in the configuration. While the daemon runs (its retained status
  on the configured broker says online) these go to it over MQTT, so it makes the change and
  swaps the model between two frames: install checks the bundle on the device, promote runs the
  gate on its labeled samples first (--force skips it), and the replies are printed. --offline
  changes the store directly (only while the daemon is stopped: it reads the store at start).`;

/** The region of the frame the model sees (camera.roi, or a real camera's capture size). Pure. */
export function cameraRegion(camera: Config["camera"]): { width: number; height: number } | null {
  if (camera.roi) return { width: camera.roi.width, height: camera.roi.height };
  if (camera.source === "replay") return null; // a folder of frames: sizes unknown until read
  const s = camera[camera.source];
  return { width: s.width, height: s.height };
}

function describeState(s: StoreState): string {
  const role = (id: string) =>
    [s.active === id && "active", s.previous === id && "previous", s.candidate === id && "candidate"]
      .filter(Boolean)
      .join(", ");
  const rows = s.installed.map(
    (v) =>
      `  ${v.id.padEnd(32)} ${(role(v.id) || "-").padEnd(20)} ${v.signed_by ? `key ${v.signed_by}` : "UNSIGNED"}  installed ${v.installed_at}`,
  );
  return [
    `active: ${s.active ?? "none"}   previous: ${s.previous ?? "none"}   candidate: ${s.candidate ?? "none"}`,
    ...(rows.length ? rows : ["  (nothing installed)"]),
  ].join("\n");
}

function describeChecks(r: CandidateReport): string {
  return r.checks.map((c) => `  ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`).join("\n");
}

async function activeManifest(store: ModelStore, config: Config): Promise<Manifest | null> {
  // The store's active model, else the folder the daemon runs today (model.path).
  const dir = store.activeDir() ?? config.model.path;
  return readManifest(dir).catch(() => null);
}

/** One store command sent to the running daemon; prints its reply. */
async function viaDaemon(
  daemon: RunningDaemon,
  sub: string,
  positionals: string[],
  values: { json?: boolean; force?: boolean; "allow-downgrade"?: boolean },
): Promise<number> {
  const TIMEOUT = 300_000; // a gate over thousands of samples takes minutes on a Pi
  let reply: CommandReplyPayload;
  switch (sub) {
    case "install": {
      const file = positionals[0];
      if (!file) throw new UsageError(`linesight model install needs a bundle FILE\n\n${STORE_HELP}`);
      reply = await daemon.install(await readFile(resolve(file)), values["allow-downgrade"] ?? false, TIMEOUT);
      break;
    }
    case "status":
      reply = await daemon.request("model_status", {}, TIMEOUT);
      break;
    case "promote":
      reply = await daemon.request("model_promote", values.force ? { force: true } : {}, TIMEOUT);
      break;
    case "rollback":
      reply = await daemon.request("model_rollback", {}, TIMEOUT);
      break;
    case "discard":
      reply = await daemon.request("model_discard", {}, TIMEOUT);
      break;
    default:
      throw new UsageError(`unknown command "model ${sub}"\n\n${STORE_HELP}`);
  }
  if (values.json) console.log(JSON.stringify(reply, null, 2));
  else if (!reply.ok) console.error(`refused (${reply.error.code}): ${reply.error.message}`);
  else {
    const r = reply.result as { store?: StoreState; running?: string } & Record<string, unknown>;
    const what = r.installed
      ? `${String(r.installed)} installed as ${String(r.role)}`
      : r.promoted
        ? `promoted ${String(r.promoted)}${r.forced ? " (FORCED: no gate)" : ""}`
        : r.rolled_back_to
          ? `rolled back to ${String(r.rolled_back_to)}`
          : r.discarded
            ? `discarded ${String(r.discarded)}`
            : null;
    if (what) console.log(`running daemon: ${what}`);
    if (r.store)
      console.log(
        `active: ${r.store.active ?? "none"}   previous: ${r.store.previous ?? "none"}   candidate: ${r.store.candidate ?? "none"}   running: ${r.running}`,
      );
  }
  return reply.ok ? 0 : 1;
}

export async function storeCommand(sub: string, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      store: { type: "string" },
      config: { type: "string" },
      key: { type: "string", multiple: true },
      "allow-downgrade": { type: "boolean" },
      "allow-unsigned": { type: "boolean" },
      json: { type: "boolean" },
      force: { type: "boolean" },
      offline: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(STORE_HELP);
    return 0;
  }
  const { config } = await resolveConfig(values.config);
  if (!values.offline && !values.store) {
    const daemon = await runningDaemon(config);
    if (daemon) {
      try {
        return await viaDaemon(daemon, sub, positionals, values);
      } finally {
        await daemon.close();
      }
    }
  }
  if (sub === "discard") throw new UsageError("linesight model discard needs the running daemon");
  const dir = values.store ? resolve(values.store) : config.model.store;
  if (!dir)
    throw new UsageError(
      `linesight model ${sub} needs --store DIR, or model.store in the configuration\n\n${STORE_HELP}`,
    );
  const store = await ModelStore.open(dir, { keep: config.model.keep_versions });

  switch (sub) {
    case "install": {
      const file = positionals[0];
      if (!file) throw new UsageError(`linesight model install needs a bundle FILE\n\n${STORE_HELP}`);
      const trust = await loadTrust(
        [...config.model.trusted_keys, ...(values.key ?? [])],
        config.model.allow_unsigned || (values["allow-unsigned"] ?? false),
      );
      const active = await activeManifest(store, config);
      const source = await fileSource(resolve(file));
      let report: CandidateReport | null = null;
      try {
        const r = await store.install(source, {
          trust,
          maxBytes: config.model.max_bundle_mb * 1048576,
          allowDowngrade: values["allow-downgrade"] ?? false,
          check: async (extracted, bundle) => {
            report = await checkCandidate(extracted, bundle.index.golden, {
              threads: config.model.threads,
              goldenTolerance: config.model.golden_tolerance,
              latencyBudgetMs: config.model.latency_budget_ms,
              active,
              cameraRegion: cameraRegion(config.camera),
            });
          },
        });
        const how = r.alreadyInstalled ? "was already installed; it is" : "installed as";
        console.log(`${r.id} ${how} ${r.role} (${r.signedBy ? `signed by key ${r.signedBy}` : "UNSIGNED"})`);
        if (report) console.log(describeChecks(report));
        console.log(describeState(r.state));
        return 0;
      } catch (err) {
        if (!(err instanceof BundleRefusedError)) throw err;
        console.error(`refused (${err.code}): ${err.message}`);
        if (err instanceof CandidateRefusedError) console.error(describeChecks(err.report));
        return 1;
      } finally {
        await source.close();
      }
    }
    case "status":
      console.log(values.json ? JSON.stringify(store.state, null, 2) : describeState(store.state));
      return 0;
    case "promote":
      console.log(describeState(await store.promote()));
      return 0;
    case "rollback":
      console.log(describeState(await store.rollback()));
      return 0;
    default:
      throw new UsageError(`unknown command "model ${sub}"\n\n${STORE_HELP}`);
  }
}
