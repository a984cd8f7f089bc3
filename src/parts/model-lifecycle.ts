// The running daemon's side of the model store (docs/models.md): install a bundle as candidate,
// judge it on this device's labeled samples (the gate), promote it between two frames, watch it
// on probation and roll back when it goes bad, by command (MQTT, CLI through MQTT) or on its own.
// One change at a time; each told as a `notice` event that says what changed and why. The
// statistics and verdicts are pure (src/model/gate.ts, probation.ts); this is the wiring.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { cameraRegion } from "../cli/model-store-commands.js";
import type { Config } from "../config/schema.js";
import type { GateStatus } from "../http/status-text.js";
import { BundleRefusedError } from "../model/bundle-index.js";
import { bufferSource } from "../model/byte-source.js";
import { CandidateRefusedError } from "../model/candidate-check.js";
import { replaceFileAtomic } from "../model/durable-fs.js";
import { gateLimits } from "../model/gate.js";
import { readManifest } from "../model/model-file.js";
import { type ModelStore, StoreError } from "../model/model-store.js";
import { checkCandidateOffThread, gateOnSamplesOffThread } from "../model/off-thread-checks.js";
import { judgeProbation, type ProbationRecord, type ProbationVerdict } from "../model/probation.js";
import { clearProbation, readProbation, writeProbation } from "../model/probation-record.js";
import type { DeviceGateReport } from "../model/sample-gate.js";
import { loadPublicKey } from "../model/signing.js";
import { StoreBusyError } from "../model/store-lock.js";
import { StoreStateError } from "../model/store-state.js";
import { CommandError, type CommandErrorCode, type InstallArgs } from "../mqtt/commands.js";
import type { ModelCommands } from "../mqtt/model-commands.js";
import type { ModelPayload } from "../mqtt/payloads.js";
import { ActiveModel, type ActiveModelOptions } from "../pipeline/active-model.js";
import type { Pipeline } from "../pipeline/pipeline.js";
import { type DaemonBus, type Part, whileInspecting } from "./part.js";
import type { ShadowControl } from "./shadow-control.js";

/** What the model topic and model_status tell: the store, probation and the last gate report. */
export type ModelLifecycleReport = Omit<ModelPayload, "schema">;

const GATE_FILE = "gate-report.json";
const idOf = (m: ActiveModel) => `${m.identity.name}@${m.identity.version}`;

export interface ModelLifecycle extends Part {
  readonly commands: ModelCommands;
  report(): ModelLifecycleReport;
  /** The last gate's verdict for the operator's live view; null before a gate ran. */
  gateStatus(): GateStatus | null;
}

/** The live view's account of a gate report (pure). */
export function gateStatusOf(r: DeviceGateReport): GateStatus {
  return {
    at: r.at,
    candidate: r.candidate_model,
    active: r.active_model,
    verdict: r.verdict,
    reasons: r.reasons,
    samples: r.samples.used,
    missed: { candidate: r.candidate.missed_defect_rate.value, active: r.active.missed_defect_rate.value },
    falseRejects: { candidate: r.candidate.false_reject_rate.value, active: r.active.false_reject_rate.value },
  };
}

export function modelLifecycle(o: {
  bus: DaemonBus;
  config: Config;
  store: ModelStore;
  pipeline: Pipeline;
  shadow: ShadowControl;
  /** How every model is loaded (the daemon's own options: threads, ROI, decision overrides, drift). */
  modelOptions: ActiveModelOptions;
  /** How a candidate is loaded for shadow mode (its own threads, its manifest's decision values). */
  loadCandidate: (dir: string) => Promise<ActiveModel>;
  databasePath: string;
  /** Publishes the model report (retained `<p>/model`). */
  publish: (r: ModelLifecycleReport) => void;
  logger: Logger;
}): ModelLifecycle {
  const { bus, config, store, pipeline, logger } = o;
  const cfg = config.model;
  const name = "model-lifecycle";
  let busy: string | null = null;
  let lastGate: DeviceGateReport | null = null;
  let probation: { record: ProbationRecord; sha256: string; frames: number; rejects: number; ood: number } | null =
    null;
  const latencies: number[] = [];
  /** The model a promotion replaced, kept loaded during its probation: a rollback then needs no new session. */
  let standby: ActiveModel | null = null;
  const releaseStandby = async () => {
    const s = standby;
    standby = null;
    await s?.release();
  };
  let stopTimers: (() => void)[] = [];
  const autoRefusedAt = new Map<string, number>();

  const notice = (type: string, severity: "info" | "warning" | "alarm", message: string, data: object) => {
    logger[severity === "info" ? "info" : "warn"]({ event: type, ...data }, message);
    bus.emit("notice", { type, severity, message, data });
  };

  const report = (): ModelLifecycleReport => {
    const s = store.state;
    return {
      store: {
        active: s.active,
        previous: s.previous,
        candidate: s.candidate,
        installed: s.installed.map((v) => v.id),
        dir: store.dir,
      },
      running: idOf(pipeline.model),
      probation: probation
        ? {
            ...probation.record,
            frames: probation.frames,
            rejects: probation.rejects,
            ood: probation.ood,
            status: verdict()?.status ?? "watching",
          }
        : null,
      // An interface has no index signature; the schema test checks a real report against the schema.
      gate: lastGate as ModelPayload["gate"],
    };
  };
  const publish = () => o.publish(report());

  /** One change at a time: a second one while another runs is refused at once with `busy`. */
  const exclusive = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    if (busy) throw new CommandError("busy", `another model change is under way (${busy}); try again when it is done`);
    busy = what;
    try {
      return await f();
    } catch (err) {
      throw asCommandError(err);
    } finally {
      busy = null;
      publish();
    }
  };

  // onnxruntime creates a session on the main thread (5-40 ms here): started right after a
  // frame is decided, that falls in the idle time before the next frame instead of delaying one.
  let waits = 0;
  const betweenFrames = () =>
    new Promise<void>((resolve) => {
      const owner = `${name}-idle-${++waits}`;
      const done = () => {
        clearTimeout(timer);
        bus.off(owner);
        resolve();
      };
      const timer = setTimeout(done, 200); // paused or stalled: no frame to wait for
      bus.on(owner, "decided", () => setImmediate(done));
    });
  const load = async (dir: string) => {
    await betweenFrames();
    return ActiveModel.load(dir, o.modelOptions);
  };

  /** Hands a freshly loaded candidate to shadow mode (which owns it from then on). */
  const shadowCandidate = async () => {
    const c = store.state.candidate;
    if (!c) return o.shadow.setCandidate(null);
    try {
      await betweenFrames();
      await o.shadow.setCandidate(await o.loadCandidate(store.dirOf(c)));
    } catch (err) {
      logger.warn({ err, candidate: c }, "the candidate could not be loaded for shadow mode");
    }
  };

  const runGate = async (): Promise<DeviceGateReport> => {
    const s = await store.refresh();
    if (!s.candidate) throw new CommandError("no_candidate", "there is no candidate model to judge; install one first");
    const candidateDir = store.dirOf(s.candidate);
    const candidateManifest = await readManifest(candidateDir);
    const activeDir = store.activeDir() ?? cfg.path;
    const g = cfg.gate;
    await betweenFrames(); // starting the worker takes a few ms of this thread
    const r = await gateOnSamplesOffThread({
      databasePath: o.databasePath,
      active: { dir: activeDir, id: s.active ?? idOf(pipeline.model), threshold: pipeline.model.policy.threshold },
      candidate: {
        dir: candidateDir,
        id: s.candidate,
        threshold: config.decision.threshold ?? candidateManifest.decision.threshold,
      },
      maxSamples: g.max_samples,
      ...(config.camera.roi ? { roi: config.camera.roi } : {}),
      gate: gateLimits(g),
    });
    lastGate = r;
    await replaceFileAtomic(join(store.dir, GATE_FILE), `${JSON.stringify(r, null, 2)}\n`).catch((err: unknown) =>
      logger.warn({ err }, "the gate report could not be stored"),
    );
    notice(
      "model_gate",
      r.verdict === "pass" ? "info" : "warning",
      r.verdict === "pass"
        ? `Gate passed: ${r.candidate_model} is not worse than ${r.active_model} on ${r.samples.used} labeled samples`
        : `Gate refused ${r.candidate_model} against ${r.active_model}: ${r.reasons.join("; ")}`,
      gateSummary(r),
    );
    return r;
  };

  /**
   * Swaps the pipeline to the store's active version (between two frames) and tells why; with
   * `keep`, the replaced model stays loaded as the standby for a rollback.
   */
  const swapTo = async (next: ActiveModel, type: string, message: string, data: object, keep = false) => {
    const from = idOf(pipeline.model);
    const replaced = await pipeline.swapModel(next, keep ? { keep } : undefined);
    if (replaced) {
      await releaseStandby();
      standby = replaced;
    }
    notice(type, type === "model_rolled_back" ? "warning" : "info", message, { from, to: idOf(next), ...data });
  };

  /**
   * The candidate ready to decide: shadow mode's loaded session when it has one with the same
   * thread count (no new onnxruntime session, whose creation blocks the thread that reads the
   * camera: a frame would be lost), else loaded between two frames. `shadowed` must go back to
   * shadow mode if the promotion fails.
   */
  const candidateModel = async (dir: string) => {
    const shadowed = await o.shadow.takeCandidate((await readManifest(dir)).sha256);
    if (shadowed && shadowed.session.threads === o.modelOptions.threads)
      return { next: shadowed.withOptions(o.modelOptions), shadowed, loaded: false };
    await shadowed?.release();
    return { next: await load(dir), shadowed: null, loaded: true };
  };

  const promote = async (force: boolean, why: string) => {
    const s = await store.refresh();
    if (!s.candidate)
      throw new CommandError("no_candidate", "there is no candidate model to promote; install one first");
    let gateNote = "gate passed";
    if (!force) {
      const r = await runGate();
      if (r.verdict !== "pass")
        throw new CommandError(
          "gate_refused",
          `the gate refused ${s.candidate}: ${r.reasons.join("; ")} (see model_gate; force: true promotes anyway)`,
        );
    } else gateNote = "FORCED: the gate was not run";
    const candidate = s.candidate;
    // Load first: a model that does not load is never recorded as active.
    const { next, shadowed, loaded } = await candidateModel(store.dirOf(candidate));
    let record: ProbationRecord | null = null;
    try {
      record = probationRecord(candidate, s.active);
      if (record) await writeProbation(store.dir, record); // before the promotion: a crash loop after it is counted
      await store.promote();
      await o.shadow.setCandidate(null);
      if (record) startProbation(record, next.identity.sha256);
    } catch (err) {
      if (shadowed) await o.shadow.setCandidate(shadowed);
      else await next.release();
      throw err;
    }
    await swapTo(
      next,
      "model_promoted",
      `Model promoted from ${idOf(pipeline.model)} to ${candidate} (${why}; ${gateNote})`,
      {
        why,
        forced: force,
        gate: force ? null : lastGate && gateSummary(lastGate),
        probation_until: probation?.record.until ?? null,
        session_reused: !loaded,
      },
      record !== null,
    );
    return { promoted: candidate, forced: force, ...report() };
  };

  const rollback = async (why: string) => {
    const s = await store.refresh();
    if (!s.previous) throw new CommandError("no_previous", "there is no previous model to roll back to");
    // The standby kept since the promotion is the previous model already loaded: no new session.
    const kept = standby && idOf(standby) === s.previous ? standby : null;
    if (kept) standby = null;
    const next = kept ? kept.withOptions(o.modelOptions) : await load(store.dirOf(s.previous));
    try {
      await store.rollback();
      await clearProbation(store.dir);
      probation = null;
    } catch (err) {
      if (kept) standby = kept;
      else await next.release();
      throw err;
    }
    await swapTo(
      next,
      "model_rolled_back",
      `Model rolled back from ${idOf(pipeline.model)} to ${s.previous} (${why})`,
      {
        why,
        session_reused: kept !== null,
      },
    );
    await shadowCandidate();
    return { rolled_back_to: s.previous, ...report() };
  };

  const probationRecord = (id: string, previous: string | null): ProbationRecord | null => {
    if (cfg.probation.duration_s <= 0 || !previous) return null;
    const now = Date.now();
    return {
      id,
      previous,
      started_at: new Date(now).toISOString(),
      until: new Date(now + cfg.probation.duration_s * 1000).toISOString(),
      starts: 0,
    };
  };

  const startProbation = (record: ProbationRecord, sha256: string) => {
    probation = { record, sha256, frames: 0, rejects: 0, ood: 0 };
    latencies.length = 0;
  };

  const verdict = (): ProbationVerdict | null => {
    if (!probation) return null;
    const sorted = [...latencies].sort((a, b) => a - b);
    const p = cfg.probation;
    return judgeProbation(
      {
        frames: probation.frames,
        rejects: probation.rejects,
        ood: probation.ood,
        latencyP50Ms: sorted.length ? (sorted[Math.floor(sorted.length / 2)] as number) : null,
      },
      expectedRejectRate(pipeline.model),
      {
        durationS: p.duration_s,
        minFrames: p.min_frames,
        maxRejectRateIncrease: p.max_reject_rate_increase,
        maxOodRate: p.max_ood_rate,
        maxLatencyMs: p.max_latency_ms ?? cfg.latency_budget_ms,
        maxRestarts: p.max_restarts,
      },
      (Date.now() - Date.parse(probation.record.started_at)) / 1000,
    );
  };

  const checkProbation = () => {
    const v = verdict();
    if (!v || v.status === "watching" || busy || !probation) return;
    const { record } = probation;
    if (v.status === "passed") {
      probation = null;
      void releaseStandby();
      void clearProbation(store.dir).catch(() => {});
      notice("model_probation_passed", "info", `Model ${record.id} passed probation: ${v.reason}`, { id: record.id });
      publish();
      return;
    }
    void exclusive("automatic rollback", () => rollback(`probation failed on ${v.check}: ${v.reason}`)).catch(
      (err: unknown) => logger.error({ err }, "automatic rollback after a failed probation did not happen"),
    );
  };

  const autoPromote = () => {
    const a = cfg.auto_promote;
    const candidate = store.state.candidate;
    const shadow = o.shadow.report();
    if (!a.enabled || !candidate || busy || probation || !shadow) return;
    if (shadow.frames < a.min_frames || (shadow.agreement ?? 0) < a.min_agreement) return;
    // After a refusal, wait ten intervals: new labels are needed before the gate can say otherwise.
    const refused = autoRefusedAt.get(candidate);
    if (refused !== undefined && Date.now() - refused < a.check_interval_s * 10_000) return;
    const why = `automatic: ${shadow.frames} shadow frames, agreement ${((shadow.agreement ?? 0) * 100).toFixed(2)}%`;
    void exclusive("automatic promotion", () => promote(false, why)).catch((err: unknown) => {
      autoRefusedAt.set(candidate, Date.now());
      logger.info({ err: (err as Error).message, candidate }, "automatic promotion not done");
    });
  };

  const commands: ModelCommands = {
    install: (args: InstallArgs, req) =>
      exclusive("install", async () => {
        try {
          const r = await store.install(bufferSource(args.bundle), {
            trust: {
              keys: await Promise.all(cfg.trusted_keys.map((k) => loadPublicKey(k))),
              allowUnsigned: cfg.allow_unsigned,
            },
            maxBytes: cfg.max_bundle_mb * 1048576,
            allowDowngrade: args.allow_downgrade,
            check: async (dir, bundle) => {
              await betweenFrames(); // starting the worker takes a few ms of this thread
              await checkCandidateOffThread(dir, bundle.index.golden, {
                threads: cfg.threads,
                goldenTolerance: cfg.golden_tolerance,
                latencyBudgetMs: cfg.latency_budget_ms,
                active: pipeline.model.manifest,
                cameraRegion: cameraRegion(config.camera),
              });
            },
          });
          if (r.role === "active") {
            // The first install into an empty store: it is what the daemon would start on.
            await swapTo(await load(r.dir), "model_installed", `Model ${r.id} installed as the active model`, {
              id: r.id,
              role: r.role,
              signed_by: r.signedBy,
            });
          } else {
            notice("model_installed", "info", `Model ${r.id} installed as candidate (from ${req.id ?? "MQTT"})`, {
              id: r.id,
              role: r.role,
              signed_by: r.signedBy,
              already_installed: r.alreadyInstalled,
            });
            await shadowCandidate();
          }
          return {
            installed: r.id,
            role: r.role,
            signed_by: r.signedBy,
            already_installed: r.alreadyInstalled,
            ...report(),
          };
        } catch (err) {
          if (err instanceof BundleRefusedError)
            notice("model_refused", "warning", `Model bundle refused (${err.code}): ${err.message}`, {
              code: err.code,
              bytes: args.bundle.byteLength,
              ...(err instanceof CandidateRefusedError ? { checks: err.report.checks } : {}),
            });
          throw err;
        }
      }),
    status: () => ({ ...report(), shadow: o.shadow.report(), busy }),
    gate: () => exclusive("gate", async () => ({ ...(await runGate()) })),
    promote: (force, req) => exclusive("promote", () => promote(force, `by command${req.id ? ` ${req.id}` : ""}`)),
    rollback: (req) => exclusive("rollback", () => rollback(`by command${req.id ? ` ${req.id}` : ""}`)),
    discard: () =>
      exclusive("discard", async () => {
        const s = await store.refresh();
        if (!s.candidate) throw new CommandError("no_candidate", "there is no candidate model to discard");
        await store.discardCandidate();
        await o.shadow.setCandidate(null);
        notice("model_discarded", "info", `Candidate ${s.candidate} discarded`, { id: s.candidate });
        return { discarded: s.candidate, ...report() };
      }),
  };

  return {
    name,
    commands,
    report,
    gateStatus: () => (lastGate ? gateStatusOf(lastGate) : null),
    async start() {
      lastGate = await readFile(join(store.dir, GATE_FILE), "utf8")
        .then((t) => JSON.parse(t) as DeviceGateReport)
        .catch(() => null);
      // A probation that was running when the daemon stopped goes on (its tally starts afresh).
      const record = await readProbation(store.dir);
      if (record && record.id === store.state.active && record.id === idOf(pipeline.model))
        startProbation(record, pipeline.model.identity.sha256);
      bus.on(name, "decided", (d) => {
        if (!probation || d.model.sha256 !== probation.sha256) return;
        probation.frames++;
        if (d.decision.action === "reject") probation.rejects++;
        if (d.ood.length > 0) probation.ood++;
        if (latencies.length < 100_000) latencies.push(d.latencyMs);
      });
      stopTimers = [
        whileInspecting(bus, name, 1000, checkProbation),
        whileInspecting(bus, name, cfg.auto_promote.check_interval_s * 1000, autoPromote),
      ];
      await shadowCandidate();
      publish();
    },
    async stop() {
      for (const s of stopTimers) s();
      bus.off(name);
      await o.shadow.setCandidate(null);
      await releaseStandby();
    },
  };
}

/** The share of rejects this model should make on this line; null when the manifest cannot say. */
export function expectedRejectRate(m: ActiveModel): number | null {
  if (m.driftReference) return m.driftReference.rejectRate;
  const points = m.manifest.operating_points ?? [];
  if (points.length === 0) return null;
  const t = m.policy.threshold;
  const nearest = points.reduce((a, b) => (Math.abs(b.threshold - t) < Math.abs(a.threshold - t) ? b : a));
  return nearest.rejects_per_1000 / 1000;
}

function gateSummary(r: DeviceGateReport) {
  return {
    verdict: r.verdict,
    active: r.active_model,
    candidate: r.candidate_model,
    samples: r.samples.used,
    missed_defect_rate: { active: r.active.missed_defect_rate.value, candidate: r.candidate.missed_defect_rate.value },
    false_reject_rate: { active: r.active.false_reject_rate.value, candidate: r.candidate.false_reject_rate.value },
    p_worse: { missed_defects: r.missed_defects.p_worse, false_rejects: r.false_rejects.p_worse },
    reasons: r.reasons,
  };
}

/** Store and bundle errors as command refusals with their stable codes. */
function asCommandError(err: unknown): unknown {
  if (err instanceof CommandError) return err;
  if (err instanceof BundleRefusedError) return new CommandError(err.code as CommandErrorCode, err.message);
  if (err instanceof StoreBusyError) return new CommandError("busy", err.message);
  if (err instanceof StoreStateError)
    return new CommandError(/previous/.test(err.message) ? "no_previous" : "no_candidate", err.message);
  if (err instanceof StoreError) return new CommandError("store_error", err.message);
  return err;
}
