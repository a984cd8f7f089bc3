// The composition root: which parts run for this config, in what order they start (and, in
// reverse, stop). No other module reads configuration; each part gets what it needs from here
// and hears the pipeline through the event bus (src/parts/).
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { createCameraSource, describeCamera, readCameraSecrets } from "./camera/create-source.js";
import { FrameJpegEncoder } from "./camera/frame-jpeg.js";
import { FrameSlot } from "./camera/frame-slot.js";
import type { LoadedConfig } from "./config/load.js";
import { type Config, modelInstallMaxRawBytes } from "./config/schema.js";
import { bandWarning } from "./decision/decide.js";
import { httpToken } from "./http/start.js";
import type { ModelStore } from "./model/model-store.js";
import { startupModel } from "./model/startup-model.js";
import { countProbationStart } from "./model/startup-probation.js";
import { redactUrl } from "./mqtt/redact.js";
import { version } from "./package-info.js";
import { deviceAlerts } from "./parts/device-alerts.js";
import { driftWatch } from "./parts/drift-watch.js";
import { healthReports } from "./parts/health-reports.js";
import { inspection } from "./parts/inspection.js";
import { lineControl } from "./parts/line-control.js";
import { lineRig, lineSimulation } from "./parts/line-simulation.js";
import { type ModelLifecycle, modelLifecycle } from "./parts/model-lifecycle.js";
import { modelShadow } from "./parts/model-shadow.js";
import { type MqttLink, openMqttLink } from "./parts/mqtt-link.js";
import { operatorScreen } from "./parts/operator-screen.js";
import { type DaemonEvents, type Part, startParts } from "./parts/part.js";
import { remoteCommands } from "./parts/remote-commands.js";
import { sampleKeeper } from "./parts/sample-keeper.js";
import { serviceNotify } from "./parts/service-notify.js";
import { homeAssistantAnnouncements, telemetry } from "./parts/telemetry.js";
import { ActiveModel, type ActiveModelOptions } from "./pipeline/active-model.js";
import { EventBus } from "./pipeline/event-bus.js";
import { Pipeline } from "./pipeline/pipeline.js";
import { SnapshotRequests } from "./pipeline/snapshot-requests.js";
import { SdNotifier } from "./service/sd-notify.js";
import { waitForStopSignal } from "./service/stop-signal.js";
import { SampleWriter } from "./store/sample-writer.js";

export async function runDaemon(loaded: LoadedConfig, logger: Logger): Promise<number> {
  const { config } = loaded;
  const monoStartedAt = performance.now();
  const notifier = new SdNotifier(process.env.NOTIFY_SOCKET, logger);
  const stopSignal = waitForStopSignal();
  logger.info({ version, config: loaded.source }, "linesight starting");
  const rig = lineRig(config);

  // Model first: without a valid model there is nothing to run.
  const { model, modelStore } = await loadModel(config, logger);
  const store = await SampleWriter.open({
    path: config.storage.path,
    maxBytes: config.storage.max_mb * 1024 * 1024,
    logger,
  });
  // Before anything listens: a missing or short token file stops the start with a clear error.
  const pageToken = config.http.enabled ? await httpToken(config.http, config.storage.path) : null;
  const prefix = config.mqtt.prefix ?? `linesight/${config.device.id}`;
  const mqtt = await openMqttLink(config, homeAssistantAnnouncements({ config, prefix, version }, model), logger);
  const { publisher } = mqtt;

  const bus = new EventBus<DaemonEvents>(logger);
  const slot = new FrameSlot();
  const camera =
    rig.camera ?? createCameraSource(config.camera, { logger, secrets: await readCameraSecrets(config.camera) });
  const pipeline = new Pipeline(slot, model, bus, logger);
  const snapshots = new SnapshotRequests();
  // Raw frames have no JPEG: the samples kept and the frames shown get one, made off-thread.
  const jpegs = new FrameJpegEncoder();
  const common = { bus, logger };
  const line = config.line.enabled
    ? lineControl({ ...common, config: config.line, wires: rig.wires, slot, pipeline })
    : null;

  const drift = driftWatch({ ...common, model, options: config.drift });
  const samples = sampleKeeper({
    ...common,
    store,
    jpegs,
    snapshots,
    storage: config.storage,
    oodSamplesPerMinute: config.drift.ood_samples_per_minute,
    disagreementSamplesPerMinute: config.model.shadow.samples_per_minute,
  });
  // Shadow mode (docs/models.md#shadow-mode): the model lifecycle hands it candidates (ShadowControl).
  const shadowDir = config.model.shadow.dir;
  const shadow = modelShadow({
    ...common,
    drift: config.drift,
    startWith: shadowDir ? () => loadCandidate(config, shadowDir) : null,
  });
  const lifecycle: ModelLifecycle | null = modelStore
    ? modelLifecycle({
        ...common,
        config,
        store: modelStore,
        pipeline,
        shadow,
        modelOptions: modelOptions(config),
        loadCandidate: (dir) => loadCandidate(config, dir),
        databasePath: config.storage.path,
        publish: (r) => publisher.publish("model", { schema: 1, ...r }),
      })
    : null;
  const alerts = deviceAlerts({ ...common, config, slot, camera, pipeline });
  const screen = pageToken
    ? operatorScreen({
        ...common,
        http: config.http,
        token: pageToken,
        databasePath: config.storage.path,
        deviceId: config.device.id,
        camera,
        pipeline,
        drift,
        shadow,
        publisher,
        jpegs,
        ...(line ? { line: () => line.status() } : {}),
        ...(lifecycle ? { gate: () => lifecycle.gateStatus() } : {}),
      })
    : null;
  const parts: Part[] = [
    { name: "model", stop: () => pipeline.model.release() },
    mqtt,
    telemetry({ bus, publisher, config, prefix, version, camera, pipeline, ...(line ? { partOf: line.partOf } : {}) }),
    serviceNotify({
      ...common,
      notifier,
      pipeline,
      camera,
      monoStartedAt,
      readyInfo: { prefix, database: config.storage.path },
    }),
    healthReports({
      ...common,
      intervalS: config.mqtt.health_interval_s,
      monoStartedAt,
      slot,
      camera,
      pipeline,
      drift,
      store,
      publisher,
      device: alerts.monitor,
      samplesLost: () => samples.lost,
      operator: () => screen?.stats() ?? null,
      audit: () => screen?.audit() ?? null,
      line: () => line?.health() ?? null,
      shadow: () => shadow.report(),
    }),
    { name: "store", stop: () => store.close() },
    { name: "jpegs", stop: () => jpegs.close() }, // closed before the store: samples being made JPEG reach it
    ...(screen ? [screen] : []),
    drift,
    samples,
    shadow,
    alerts,
    ...(lifecycle ? [lifecycle] : []),
    remoteCommands({
      ...common,
      config,
      version,
      monoStartedAt,
      publisher,
      prefix,
      pipeline,
      snapshots,
      store,
      models: lifecycle?.commands ?? null,
      // A bundle as raw bytes or base64 in a JSON envelope (4/3 larger).
      installMaxBytes: Math.ceil((modelInstallMaxRawBytes(config.model.max_bundle_mb) * 4) / 3),
    }),
    ...(line ? [line] : []),
    inspection({ ...common, camera, slot, pipeline }),
    ...(line
      ? [lineSimulation({ ...common, rig, control: line, config: config.line, goodLabel: model.negativeLabel })]
      : []),
  ];

  const stopParts = await startParts(parts).catch(async (err: unknown) => {
    notifier.close();
    throw err;
  });
  greet(config, mqtt, screen?.screen ?? null, logger);

  const signal = await stopSignal;
  logger.info({ signal }, "stopping");
  notifier.notify({ STOPPING: 1, STATUS: `stopping (${signal})` });
  pipeline.stopping();
  await stopParts();
  notifier.close();
  logger.info({ decided: pipeline.counters.decided }, "stopped cleanly");
  return 0;
}

async function loadModel(
  config: Config,
  logger: Logger,
): Promise<{ model: ActiveModel; modelStore: ModelStore | null }> {
  // A start during a promoted model's probation is counted; too many start on `previous`.
  const probation = await countProbationStart(config.model);
  if (probation.message) logger[probation.rolledBack ? "warn" : "info"]({ probation: probation.message }, "probation");
  // The model store's recorded active version when a store is configured, else model.path.
  const start = await startupModel(config.model);
  const model = await ActiveModel.load(start.dir, modelOptions(config));
  const { identity, policy } = model;
  logger.info({ ...identity, input: model.manifest.input.shape, from: start.id ?? start.dir }, "model loaded");
  const bandProblem = bandWarning(policy);
  if (bandProblem) logger.warn({ threshold: policy.threshold, uncertainBand: policy.uncertainBand }, bandProblem);
  return { model, modelStore: start.store };
}

/** How every model is loaded, at start and when the model lifecycle swaps one in. */
function modelOptions(config: Config): ActiveModelOptions {
  return {
    threads: config.model.threads,
    ...(config.camera.roi ? { roi: config.camera.roi } : {}),
    decision: {
      threshold: config.decision.threshold,
      uncertainBand: config.decision.uncertain_band,
      uncertainAction: config.decision.uncertain_action,
    },
    drift: config.drift.enabled ? { prevalence: config.drift.defect_prevalence } : null,
  };
}

/** A candidate for shadow mode: its own session (model.shadow.threads) and its manifest's decision values. */
function loadCandidate(config: Config, dir: string): Promise<ActiveModel> {
  return ActiveModel.load(dir, {
    threads: config.model.shadow.threads,
    ...(config.camera.roi ? { roi: config.camera.roi } : {}),
    decision: { threshold: null, uncertainBand: null, uncertainAction: config.decision.uncertain_action },
    drift: config.drift.enabled ? { prevalence: config.drift.defect_prevalence } : null,
  });
}

/** Where to look, once inspection runs: a log line, and for a person at a terminal (npm start) a banner. */
function greet(
  config: Config,
  mqtt: MqttLink,
  screen: { server: { url: string }; tokenFrom: string } | null,
  logger: Logger,
): void {
  const broker = new URL(mqtt.url);
  const watch = `mosquitto_sub -h ${broker.hostname} -p ${broker.port || 1883} -t '${mqtt.prefix}/#' -v`;
  logger.info(
    { mqtt: redactUrl(mqtt.url), topics: `${mqtt.prefix}/#`, database: config.storage.path, try: watch },
    "inspecting: watch it over MQTT",
  );
  if (!process.stdout.isTTY) return;
  process.stderr.write(
    [
      "",
      `  linesight ${version} is inspecting ${describeCamera(config.camera)}`,
      `  MQTT broker   ${redactUrl(mqtt.url)}${mqtt.embedded ? " (embedded)" : ""}`,
      ...(screen ? [`  operator page ${screen.server.url}  (token to label: ${screen.tokenFrom})`] : []),
      `  watch it      ${watch}`,
      `  samples       sqlite3 ${config.storage.path} "select id, reason, predicted, round(score, 3) from samples order by id desc limit 10"`,
      "  stop          Ctrl-C",
      "",
    ].join("\n") + "\n",
  );
}
