// Shadow mode: a candidate model decides the same live frames as the active model, after the
// active decision and never acted on (no decision message, no line output), so its agreement,
// disagreements, drift and latency can be judged before it may inspect the line.
//
// It never holds up the pipeline: it is fed from the `decided` event, keeps one pending frame
// (newest wins) while it is busy and counts the frames it skipped as its own `dropped`.
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import { type Decision, decide } from "../decision/decide.js";
import type { Preprocessed } from "../model/preprocess.js";
import type { DriftMonitor } from "../monitor/drift-monitor.js";
import type { ActiveModel, ModelIdentity } from "../pipeline/active-model.js";
import type { DecidedFrame } from "../pipeline/pipeline.js";
import { type Comparison, ShadowTally } from "../shadow/shadow-tally.js";
import { createDriftMonitor } from "./drift-watch.js";
import type { DaemonBus, Part } from "./part.js";
import type { ShadowControl, ShadowReport } from "./shadow-control.js";

/** The candidate's decision of a frame the active model decided (never acted on). */
export interface ShadowDecided {
  /** The active model's decision of the frame, as the pipeline emitted it. */
  active: DecidedFrame;
  candidate: {
    model: ModelIdentity;
    score: number;
    decision: Decision;
    threshold: number;
    /** The candidate's own time, ms: inference and decision, plus preprocessing when its input differs. */
    latencyMs: number;
  };
  comparison: Comparison;
}

export interface ModelShadow extends Part, ShadowControl {
  /** Frames the candidate could not decide (a session error), since start. */
  readonly failed: number;
}

interface Shadowing {
  model: ActiveModel;
  tally: ShadowTally;
  drift: DriftMonitor | null;
  /** The candidate's frame in flight, if any: released only after it. */
  busy: Promise<void> | null;
}

export function modelShadow(o: {
  bus: DaemonBus;
  drift: Config["drift"];
  /** A candidate to shadow from start (model.shadow.dir); null: only setCandidate() gives one. */
  startWith?: (() => Promise<ActiveModel>) | null;
  logger: Logger;
}): ModelShadow {
  const { bus } = o;
  const logger = o.logger.child({ part: "shadow" });
  const name = "shadow";
  let current: Shadowing | null = null;
  /** A live frame for the candidate, holding the active model's tensor buffer until decided or dropped. */
  type Held = { r: DecidedFrame; release: () => void };
  let pending: Held | null = null;
  let looping = false;
  let failed = 0;

  const feed = (r: DecidedFrame) => {
    if (!current) return;
    const held: Held = { r, release: r.input?.share?.hold() ?? (() => {}) };
    if (looping) {
      // Still busy: the newest frame waits in the one slot; the one it replaces is dropped.
      if (pending) {
        current.tally.drop();
        pending.release();
      }
      pending = held;
      return;
    }
    looping = true;
    void loop(held);
  };

  const loop = async (first: Held) => {
    let next: Held | null = first;
    while (next && current) {
      const s = current;
      pending = null;
      const run = decideOne(s, next.r);
      s.busy = run;
      await run;
      s.busy = null;
      next.release();
      next = pending;
    }
    next?.release(); // shadowing ended with a frame still waiting
    if (next === pending) pending = null;
    looping = false;
  };

  const decideOne = async (s: Shadowing, r: DecidedFrame): Promise<void> => {
    try {
      const t0 = performance.now();
      const { preprocessor, session, policy } = s.model;
      // The same input spec and crop make the same tensor and features: the active model's are
      // reused (preprocessing is most of a frame's cost); otherwise the candidate makes its own.
      const shared = r.input?.preprocessor.key === preprocessor.key ? r.input : null;
      const pre = shared ? null : await preprocessor.run(r.frame.data, r.frame.raw);
      let score: number;
      try {
        ({ score } = await session.run(shared?.tensor ?? (pre as Preprocessed).tensor));
      } finally {
        pre?.share?.release(); // its features are a copy: the buffers can serve the next frame
      }
      const decision = decide(score, policy);
      const latencyMs = performance.now() - t0;
      if (s !== current) return; // replaced meanwhile: its account is closed
      const comparison = s.tally.record(r.decision.action, decision.action, latencyMs);
      if (s.drift) {
        const features = pre ? pre.features : r.features;
        const { event } = s.drift.observe(features, score, decision.action === "reject", decision.uncertain);
        if (event) logger.info({ candidate: s.model.identity, drift: event.data.to }, `candidate: ${event.message}`);
      }
      bus.emit("shadow-decided", {
        active: r,
        candidate: { model: s.model.identity, score, decision, threshold: policy.threshold, latencyMs },
        comparison,
      });
    } catch (err) {
      // A corrupt frame fails the active model too; anything else is the candidate's problem, not the line's.
      failed++;
      if (failed <= 3 || failed % 1000 === 0)
        logger.warn({ err, failed }, "the shadow candidate could not decide a frame");
    }
  };

  const setCandidate = async (next: ActiveModel | null): Promise<void> => {
    const previous = current;
    pending?.release();
    pending = null;
    current = next
      ? {
          model: next,
          tally: new ShadowTally(next.identity, new Date().toISOString()),
          drift: createDriftMonitor(next, o.drift, logger),
          busy: null,
        }
      : null;
    if (next)
      logger.info({ candidate: next.identity, threshold: next.policy.threshold }, "shadowing a candidate model");
    if (previous) {
      await previous.busy;
      await previous.model.release();
      logger.info({ candidate: previous.model.identity }, "shadow candidate released");
    }
  };

  const takeCandidate = async (sha256: string): Promise<ActiveModel | null> => {
    const taken = current;
    if (!taken || taken.model.identity.sha256 !== sha256) return null;
    current = null;
    pending?.release();
    pending = null;
    await taken.busy;
    logger.info({ candidate: taken.model.identity }, "shadow candidate handed over");
    return taken.model;
  };

  return {
    name,
    get failed() {
      return failed;
    },
    setCandidate,
    takeCandidate,
    report(): ShadowReport | null {
      if (!current) return null;
      return current.tally.report(current.drift?.report().status ?? null);
    },
    async start() {
      bus.on(name, "decided", feed);
      if (!o.startWith) return;
      // A candidate that does not load is only a failed trial: the line is inspected anyway.
      const candidate = await o.startWith().catch((err: unknown) => {
        logger.error({ err }, "the shadow candidate (model.shadow.dir) could not be loaded: no shadow mode");
        return null;
      });
      if (candidate) await setCandidate(candidate);
    },
    async stop() {
      bus.off(name);
      await setCandidate(null);
    },
  };
}
