// The composition root: wires the parts from the validated config, runs until SIGTERM/SIGINT.
// No other module reads configuration; each gets the options it needs from here.
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { createCameraSource, describeCamera, readCameraSecrets } from "./camera/create-source.js";
import type { CameraState } from "./camera/frame.js";
import { FrameJpegEncoder } from "./camera/frame-jpeg.js";
import { FrameSlot } from "./camera/frame-slot.js";
import type { LoadedConfig } from "./config/load.js";
import { bandWarning, type DecisionPolicy } from "./decision/decide.js";
import { httpToken, type OperatorScreen, startOperatorScreen } from "./http/start.js";
import { Preprocessor } from "./model/preprocess.js";
import { ModelSession } from "./model/session.js";
import { DeviceMonitor } from "./monitor/device-monitor.js";
import { DriftDetector } from "./monitor/drift-detector.js";
import { DriftMonitor } from "./monitor/drift-monitor.js";
import { driftReference } from "./monitor/drift-reference.js";
import { oodBounds } from "./monitor/ood.js";
import { brokerLogins } from "./mqtt/broker-logins.js";
import { commandHandlers, listenForCommands } from "./mqtt/command-handlers.js";
import { startEmbeddedBroker } from "./mqtt/embedded-broker.js";
import { HealthReporter } from "./mqtt/health-payload.js";
import { discoveryMessages } from "./mqtt/home-assistant.js";
import type { HealthPayload, StatePayload } from "./mqtt/payloads.js";
import { MqttPublisher } from "./mqtt/publisher.js";
import { redactUrl } from "./mqtt/redact.js";
import { readTlsFiles } from "./mqtt/tls-files.js";
import type { TopicName } from "./mqtt/topics.js";
import { version } from "./package-info.js";
import type { DecidedFrame } from "./pipeline/pipeline.js";
import { Pipeline } from "./pipeline/pipeline.js";
import { SnapshotRequests } from "./pipeline/snapshot-requests.js";
import { SdNotifier } from "./service/sd-notify.js";
import { ProgressWatchdog, watchdogIntervalMs } from "./service/watchdog.js";
import { SampleWriter } from "./store/sample-writer.js";
import { RateLimiter, sampleReason } from "./store/sampling.js";
import { ThreadedOutbox } from "./store/threaded-outbox.js";

export async function runDaemon(loaded: LoadedConfig, logger: Logger): Promise<number> {
  const { config } = loaded;
  const monoStartedAt = performance.now();
  const notifier = new SdNotifier(process.env.NOTIFY_SOCKET, logger);
  const stopSignal = waitForStopSignal();
  logger.info({ version, config: loaded.source }, "linesight starting");

  // Model first: without a valid model there is nothing to run.
  const session = await ModelSession.load(config.model.path, { threads: config.model.threads });
  const manifest = session.manifest;
  logger.info(
    { model: manifest.name, version: manifest.version, sha256: manifest.sha256, input: manifest.input.shape },
    "model loaded",
  );
  const negative = manifest.labels.find((l) => l !== manifest.positive_label) as string;
  let policy: DecisionPolicy = {
    threshold: config.decision.threshold ?? manifest.decision.threshold,
    uncertainBand: config.decision.uncertain_band ?? manifest.decision.uncertain_band,
    uncertainAction: config.decision.uncertain_action,
    negativeLabel: negative,
    positiveLabel: manifest.positive_label,
  };

  const bandProblem = bandWarning(policy);
  if (bandProblem) logger.warn({ threshold: policy.threshold, uncertainBand: policy.uncertainBand }, bandProblem);

  const store = await SampleWriter.open({
    path: config.storage.path,
    maxBytes: config.storage.max_mb * 1024 * 1024,
    logger,
  });

  // Before anything listens: a missing or short token file stops the start with a clear error.
  const pageToken = config.http.enabled ? await httpToken(config.http, config.storage.path) : null;

  // MQTT: the embedded broker when none is configured, so the demo is observable.
  const mq = config.mqtt;
  const logins = await brokerLogins(mq);
  const maxPacketBytes = mq.max_message_kb * 1024;
  let broker: { url: string; close(): Promise<void> } | null = null;
  let url = mq.url;
  if (!url) {
    try {
      broker = await startEmbeddedBroker({
        host: mq.embedded.host,
        port: mq.embedded.port,
        login: logins.embedded,
        maxPacketBytes,
        logger,
      });
      url = broker.url;
    } catch (err) {
      // Most often another broker already owns the port: use it rather than refuse to inspect.
      const host = mq.embedded.host === "0.0.0.0" ? "127.0.0.1" : mq.embedded.host;
      url = `mqtt://${host}:${mq.embedded.port}`;
      logger.warn(
        { err: (err as Error).message, url },
        "embedded MQTT broker not started; connecting to the port anyway",
      );
    }
  }
  const prefix = mq.prefix ?? `linesight/${config.device.id}`;
  const outbox = openOutbox(config, logger);
  const publisher = MqttPublisher.start({
    url,
    clientId: mq.client_id ?? `linesight-${config.device.id}`,
    prefix,
    ...logins.client,
    maxPacketBytes,
    keepaliveS: mq.keepalive_s,
    protocolVersion: mq.protocol_version,
    tls: await readTlsFiles(mq.tls),
    outbox,
    announcements: mq.home_assistant.enabled
      ? discoveryMessages({
          prefix,
          discoveryPrefix: mq.home_assistant.discovery_prefix,
          device: config.device,
          version,
          model: manifest,
        })
      : [],
    logger,
  });
  const publishEvent = (e: { type: string; severity: "info" | "warning" | "alarm"; message: string; data?: object }) =>
    publisher.publish("event", { schema: 1, time: new Date().toISOString(), ...e });

  const slot = new FrameSlot();
  const camera = createCameraSource(config.camera, { logger, secrets: await readCameraSecrets(config.camera) });
  const preprocessor = new Preprocessor(manifest.input, config.camera.roi ?? undefined);
  const pipeline = new Pipeline(slot, preprocessor, session, policy, logger);

  let pipelineState: StatePayload["pipeline"] = "starting";
  let since = new Date().toISOString();
  const publishState = () =>
    publisher.publish("state", {
      schema: 1,
      version,
      device: { id: config.device.id, site: config.device.site, line: config.device.line },
      model: { name: manifest.name, version: manifest.version, sha256: manifest.sha256 },
      camera: { source: camera.kind, state: camera.state },
      pipeline: pipelineState,
      threshold: pipeline.threshold,
      since,
    });
  const setPipelineState = (s: StatePayload["pipeline"]) => {
    pipelineState = s;
    since = new Date().toISOString();
    publishState();
  };
  publishState();
  publishEvent({
    type: "model_loaded",
    severity: "info",
    message: `Model ${manifest.name} ${manifest.version} loaded (threshold ${policy.threshold})`,
    data: { name: manifest.name, version: manifest.version, sha256: manifest.sha256 },
  });

  camera.on("state", (state: CameraState, why: string) => {
    logger.info({ camera: camera.kind, state, why }, "camera state");
    publishState();
  });

  const drift = createDriftMonitor(config, manifest, policy, logger);

  // Sinks: each only enqueues, never waits.
  const random = Math.random;
  const sampling = {
    storeRejects: config.storage.store_rejects,
    storeUncertain: config.storage.store_uncertain,
    auditFraction: config.storage.audit_fraction,
  };
  const oodLimiter = new RateLimiter(config.drift.ood_samples_per_minute, Date.now());
  const oodBySeq = new Map<number, boolean>();
  pipeline.addSink((r: DecidedFrame) => {
    if (!drift) return;
    const o = drift.observe(r.features, r.score, r.decision.action === "reject", r.decision.uncertain);
    if (o.ood.length) oodBySeq.set(r.frame.seq, true);
    if (o.event) {
      const log = o.event.severity === "info" ? logger.info.bind(logger) : logger.warn.bind(logger);
      log({ drift: o.report?.status, reasons: o.report?.reasons }, o.event.message);
      publishEvent(o.event);
      if (o.report) publisher.publish("drift", o.report);
    }
  });
  const snapshots = new SnapshotRequests();
  // Raw frames have no JPEG: the samples kept and the frames shown get one, made off-thread.
  const jpegs = new FrameJpegEncoder();
  pipeline.addSink((r: DecidedFrame) => {
    const ood = oodBySeq.get(r.frame.seq) === true && oodLimiter.take(r.decidedAt);
    const sampled = sampleReason(r.decision, sampling, random, ood);
    const answer = snapshots.take(r.frame.seq, r.frame.capturedAt);
    const reason = answer ? "snapshot" : sampled;
    if (!reason) return;
    const keep = (image: Uint8Array | null): void => {
      const stored =
        image !== null &&
        store.enqueue({
          seq: r.frame.seq,
          capturedAt: r.frame.capturedAt,
          reason,
          action: r.decision.action,
          uncertain: r.decision.uncertain,
          predicted: r.decision.label,
          score: r.score,
          output: Array.from(r.output),
          threshold: r.threshold,
          model: { name: manifest.name, version: manifest.version, sha256: manifest.sha256 },
          image,
          width: r.width,
          height: r.height,
          features: r.features,
          latencyMs: r.latencyMs,
        });
      if (image === null) logger.warn({ seq: r.frame.seq, reason }, "sample lost: its frame could not be made a JPEG");
      answer?.(stored);
    };
    // A copy: the store takes ownership of (detaches) the buffer, and the frame lives on.
    if (!r.frame.raw) keep(new Uint8Array(r.frame.data));
    else void jpegs.jpeg(r.frame).then(keep);
  });
  if (mq.publish_decisions) {
    pipeline.addSink((r) =>
      publisher.publish("decision", {
        schema: 1,
        seq: r.frame.seq,
        time: new Date(r.frame.capturedAt).toISOString(),
        label: r.decision.label,
        score: Math.round(r.score * 1e4) / 1e4,
        action: r.decision.action,
        uncertain: r.decision.uncertain,
        ood: oodBySeq.get(r.frame.seq) === true,
        threshold: r.threshold,
        model_version: manifest.version,
        latency_ms: Math.round(r.latencyMs * 100) / 100,
      }),
    );
  }

  // The operator's screen and labeling page (src/http/): its sink only updates memory.
  let operator: OperatorScreen | null = null;
  if (pageToken) {
    operator = await startOperatorScreen(config.http, pageToken, {
      databasePath: config.storage.path,
      model: { name: manifest.name, version: manifest.version, labels: manifest.labels, goodLabel: negative },
      camera,
      pipeline,
      pipelineState: () => pipelineState,
      drift,
      publisher,
      jpegs,
      logger,
    });
    const screen = operator;
    if (screen) pipeline.addSink((r) => screen.observe(r, oodBySeq.get(r.frame.seq) === true));
  }

  pipeline.addSink((r) => oodBySeq.delete(r.frame.seq));

  // READY=1 only once a frame has really been decided: model, camera and pipeline all work.
  const firstDecision = new Promise<void>((resolve) => pipeline.addSink(() => resolve()));
  let ready = false;
  void firstDecision.then(() => {
    ready = true;
    setPipelineState("running");
    notifier.notify({ READY: 1, STATUS: "inspecting" });
    logger.info(
      { startupMs: Math.round(performance.now() - monoStartedAt), prefix, database: config.storage.path },
      "ready: first frame decided",
    );
  });

  const alertsCfg = config.alerts;
  const device = new DeviceMonitor({
    limits: {
      cameraStallS: config.camera.stall_timeout_s,
      inferenceStallS: alertsCfg.inference_stall_s,
      diskLowMb: alertsCfg.disk_low_mb,
      temperatureHighC: alertsCfg.temperature_high_c,
    },
    timing: { raiseAfter: alertsCfg.raise_after, clearAfter: alertsCfg.clear_after },
    probe: { diskPath: config.storage.path },
    progress: () => ({
      received: slot.received,
      decided: pipeline.counters.decided,
      cameraExpected: camera.state !== "stopped",
      inferenceExpected: !pipeline.paused,
    }),
    onChange: (c) => {
      const log = c.active ? logger.warn.bind(logger) : logger.info.bind(logger);
      log({ alert: c.name, active: c.active, ...c.data }, c.message);
      publishEvent({ type: c.name, severity: c.severity, message: c.message, data: { active: c.active, ...c.data } });
    },
  });
  const deviceTimer = setInterval(() => {
    device.check().catch((err: unknown) => logger.error({ err }, "device check failed"));
  }, alertsCfg.check_interval_s * 1000);

  const health = new HealthReporter();
  let latestHealth: HealthPayload | null = null;
  const reportHealth = () => {
    const payload = health.report({
      now: Date.now(),
      mono: performance.now(),
      monoStartedAt,
      received: slot.received,
      dropped: slot.dropped,
      counters: pipeline.counters,
      ood: drift?.oodFrames ?? 0,
      camera: { state: camera.state, ...camera.stats() },
      latency: pipeline.timings.summary(),
      memory: process.memoryUsage(),
      storage: (() => {
        const s = store.stats();
        return { db_bytes: s.dbBytes, samples: s.samples, written: s.written, dropped: s.dropped, queued: s.queued };
      })(),
      mqtt: (() => {
        const s = publisher.stats();
        return { dropped: s.dropped, queued: s.queued, queued_bytes: s.queuedBytes, oversized: s.oversized };
      })(),
      system: device.latest,
      alerts: device.alerts,
    });
    if (operator?.server.audit) payload.audit = operator.server.audit;
    latestHealth = payload;
    publisher.publish("health", payload);
    if (drift) publisher.publish("drift", drift.report());
    const e2e = payload.latency_ms.end_to_end;
    const status =
      `${pipelineState}, camera ${camera.state}: ${payload.fps_out} fps, ` +
      `${payload.decisions.reject} rejected of ${payload.frames.decided}, p50 ${e2e?.p50 ?? 0} ms`;
    notifier.notify({ STATUS: status });
    logger.info({ health: payload }, "health");
  };
  const healthTimer = setInterval(reportHealth, mq.health_interval_s * 1000);

  const wdInterval = watchdogIntervalMs(process.env, process.pid);
  const watchdog = new ProgressWatchdog(() => notifier.notify({ WATCHDOG: 1 }));
  const wdTimer = wdInterval
    ? setInterval(() => {
        if (ready && !watchdog.check(pipeline.counters.decided, pipeline.paused)) {
          logger.warn(
            { camera: camera.state },
            "no frame decided since the last watchdog interval; not feeding the watchdog",
          );
        }
      }, wdInterval)
    : null;

  // Remote commands (docs/mqtt.md#remote-commands).
  const handlers = commandHandlers({
    config,
    version,
    uptimeS: () => Math.floor((performance.now() - monoStartedAt) / 1000),
    latestHealth: () => latestHealth,
    stopping: () => pipelineState === "stopping",
    policy: () => policy,
    setPolicy: (p) => {
      policy = p;
      pipeline.setPolicy(p);
      publishState();
    },
    paused: () => pipeline.paused,
    setPaused: (paused) => {
      if (pipeline.paused === paused) return false;
      pipeline.paused = paused;
      setPipelineState(paused ? "paused" : ready ? "running" : "starting");
      return true;
    },
    nextFrame: (ms) => snapshots.next(ms),
    sampleId: (seq, ms) => store.idOf(seq, ms),
    announce: (command, id, args, result, message) => {
      logger.info({ command, id, args, result }, message);
      publishEvent({ type: "command", severity: "info", message, data: { command, id, args, result } });
    },
  });
  listenForCommands(publisher, handlers, { prefix, groupPrefix: mq.group_prefix, logger });

  /** Stops what was started, in order: frames first, then their consumers, then the outputs. */
  const stopEverything = async (): Promise<void> => {
    clearInterval(healthTimer);
    clearInterval(deviceTimer);
    if (wdTimer) clearInterval(wdTimer);
    setPipelineState("stopping");
    await camera.stop();
    slot.close();
    await pipeline.stopped();
    await operator?.server.close();
    await jpegs.close(); // before the store: samples still being made JPEG reach it
    await store.close();
    reportHealth();
    await publisher.stop();
    outbox.close();
    await broker?.close();
    await session.release();
    notifier.close();
  };

  pipeline.start();
  try {
    await camera.start(slot);
  } catch (err) {
    // A camera that cannot start at all (e.g. an unreadable replay folder; capture programs retry
    // instead): stop what was started so the process exits with the error rather than lingering.
    await stopEverything();
    throw err;
  }
  const brokerUrl = new URL(url);
  logger.info(
    {
      mqtt: redactUrl(url),
      topics: `${prefix}/#`,
      database: config.storage.path,
      try: `mosquitto_sub -h ${brokerUrl.hostname} -p ${brokerUrl.port || 1883} -t '${prefix}/#' -v`,
    },
    "inspecting: watch it over MQTT",
  );
  if (process.stdout.isTTY) {
    // A person at a terminal (npm start): say where to look in plain words, once.
    process.stderr.write(
      [
        "",
        `  linesight ${version} is inspecting ${describeCamera(config.camera)}`,
        `  MQTT broker   ${redactUrl(url)}${broker ? " (embedded)" : ""}`,
        ...(operator ? [`  operator page ${operator.server.url}  (token to label: ${operator.tokenFrom})`] : []),
        `  watch it      mosquitto_sub -h ${brokerUrl.hostname} -p ${brokerUrl.port || 1883} -t '${prefix}/#' -v`,
        `  samples       sqlite3 ${config.storage.path} "select id, reason, predicted, round(score, 3) from samples order by id desc limit 10"`,
        "  stop          Ctrl-C",
        "",
      ].join("\n") + "\n",
    );
  }

  const signal = await stopSignal;
  logger.info({ signal }, "stopping");
  notifier.notify({ STOPPING: 1, STATUS: `stopping (${signal})` });
  await stopEverything();
  logger.info({ decided: pipeline.counters.decided }, "stopped cleanly");
  return 0;
}

/** The durable MQTT outbox; messages left by the previous run are replayed once connected. */
function openOutbox(config: LoadedConfig["config"], logger: Logger): ThreadedOutbox<TopicName> {
  const o = config.mqtt.outbox;
  const path = o.path ?? join(dirname(config.storage.path), "outbox.db");
  // Written by a worker thread: a slow disk must not stall frame decisions (docs/performance.md).
  const outbox = ThreadedOutbox.open<TopicName>(path, {
    maxMessages: o.max_messages,
    maxBytes: o.max_mb * 1024 * 1024,
  });
  outbox.onError = (err) =>
    logger.error(
      { path, err },
      "MQTT outbox: its database cannot be written; messages are still sent, but would not survive a restart",
    );
  const oldest = outbox.oldestQueuedAt();
  if (outbox.size > 0 && oldest !== null) {
    logger.info(
      { path, queued: outbox.size, bytes: outbox.bytes, oldest: new Date(oldest).toISOString() },
      "MQTT outbox holds messages from before the restart; they are sent first, in order, once connected",
    );
  }
  return outbox;
}

/** Drift detection needs the model's reference statistics; without them it is off, said once. */
function createDriftMonitor(
  config: LoadedConfig["config"],
  manifest: ModelSession["manifest"],
  policy: DecisionPolicy,
  logger: Logger,
): DriftMonitor | null {
  const d = config.drift;
  if (!d.enabled) return null;
  if (!manifest.reference) {
    logger.warn(
      "the model manifest has no reference statistics: drift detection is off (run `linesight model profile`)",
    );
    return null;
  }
  const reference = driftReference(manifest.reference, {
    prevalence: d.defect_prevalence,
    threshold: policy.threshold,
    uncertainBand: policy.uncertainBand,
    uncertainAction: policy.uncertainAction,
  });
  const detector = new DriftDetector(reference, {
    window: d.window,
    minWindow: d.min_window,
    evaluateEvery: d.evaluate_every,
    psiWarn: d.psi_warn,
    psiAlarm: d.psi_alarm,
    zWarn: d.rate_z_warn,
    zAlarm: d.rate_z_alarm,
    escalateAfter: d.escalate_after,
    clearAfter: d.clear_after,
  });
  logger.info(
    {
      window: d.window,
      prevalence: reference.prevalence,
      expectedRejectRate: Number(reference.rejectRate.toFixed(4)),
      expectedUncertainRate: Number(reference.uncertainRate.toFixed(4)),
    },
    "drift detection on",
  );
  return new DriftMonitor(detector, oodBounds(manifest.reference.features));
}

function waitForStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off("SIGTERM", on);
      process.off("SIGINT", on);
      resolve(sig);
    };
    process.on("SIGTERM", on);
    process.on("SIGINT", on);
  });
}
