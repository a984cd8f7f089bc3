// The hot path: newest frame -> preprocess -> infer -> decide -> tell the parts (events).
// One frame at a time, each decided by the ActiveModel read once when the frame is taken, so a
// model swap lands between two frames. Everything after `decide` (store, MQTT, HTTP) happens in
// listeners that only enqueue, so a slow consumer can never slow down inspection.
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { Frame } from "../camera/frame.js";
import type { FrameSlot } from "../camera/frame-slot.js";
import { type Decision, type DecisionPolicy, decide } from "../decision/decide.js";
import { type BufferShare, CorruptFrameError, type Preprocessed, type Preprocessor } from "../model/preprocess.js";
import type { FrameFeatures } from "../monitor/frame-features.js";
import { StageTimings } from "../monitor/latency.js";
import { outOfRange } from "../monitor/ood.js";
import type { ActiveModel, ModelIdentity } from "./active-model.js";
import type { Emitter } from "./event-bus.js";

export interface DecidedFrame {
  frame: Frame;
  /** The model that decided this frame. */
  model: ModelIdentity;
  score: number;
  output: Float32Array;
  /**
   * The tensor the model was given and what made it: a shadow candidate with the same input spec
   * reuses it. Its buffer is reused for a later frame once the listeners have run: a listener
   * that uses it later must `share.hold()` it first.
   */
  input?: { tensor: Float32Array; preprocessor: Preprocessor; share?: BufferShare };
  decision: Decision;
  threshold: number;
  features: FrameFeatures;
  /** Features outside the model's reference range, e.g. ["brightness low"]; empty when in range or unchecked. */
  ood: string[];
  /** Size of the decoded frame. */
  width: number;
  height: number;
  /** From the moment the frame left the camera to the decision, in ms. */
  latencyMs: number;
  decidedAt: number;
}

export type PipelineState = "starting" | "running" | "paused" | "stopping";

/** What the pipeline tells the rest of the daemon. */
export interface PipelineEvents {
  decided: DecidedFrame;
  "pipeline-state": { state: PipelineState; since: string };
  /** Another model took over; `previous` is released once its last frame is decided. */
  "model-changed": { model: ActiveModel; previous: ActiveModel };
  /** Same model, new decision policy (a threshold changed remotely). */
  "policy-changed": { model: ActiveModel };
  /** A frame that could not be decided (corrupt, or inference failed): the line's fail-safe needs it. */
  "frame-failed": { frame: Frame; corrupt: boolean };
}

export interface PipelineCounters {
  decided: number;
  corrupt: number;
  failed: number;
  skippedPaused: number;
  pass: number;
  reject: number;
  uncertain: number;
  /** Decided frames outside the model's reference range. */
  ood: number;
}

export class Pipeline {
  readonly timings = new StageTimings();
  readonly counters: PipelineCounters = {
    decided: 0,
    corrupt: 0,
    failed: 0,
    skippedPaused: 0,
    pass: 0,
    reject: 0,
    uncertain: 0,
    ood: 0,
  };
  private current: PipelineState = "starting";
  private changedAt = new Date().toISOString();
  private running: Promise<void> | null = null;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly slot: FrameSlot,
    private active: ActiveModel,
    private readonly events: Emitter<PipelineEvents>,
    private readonly logger: Logger,
  ) {}

  get model(): ActiveModel {
    return this.active;
  }

  get threshold(): number {
    return this.active.policy.threshold;
  }

  get state(): PipelineState {
    return this.current;
  }

  /** ISO time of the last state change. */
  get since(): string {
    return this.changedAt;
  }

  get paused(): boolean {
    return this.current === "paused";
  }

  /** Applies a new decision policy from the next frame on. */
  setPolicy(policy: DecisionPolicy): void {
    this.active = this.active.withPolicy(policy);
    this.events.emit("policy-changed", { model: this.active });
  }

  /**
   * Makes `next` decide from the next frame on (one assignment), then waits for the frame in
   * flight, which the previous model decides. The previous model is released, or with `keep`
   * handed back to the caller (kept loaded so a rollback needs no new session).
   */
  async swapModel(next: ActiveModel, keep?: { keep: true }): Promise<ActiveModel | null> {
    const previous = this.active;
    this.active = next;
    this.events.emit("model-changed", { model: next, previous });
    await this.inFlight;
    if (previous.session === next.session) return null;
    if (keep) return previous;
    await previous.release();
    return null;
  }

  /** Pauses or resumes; returns whether that changed anything. */
  setPaused(paused: boolean): boolean {
    if (this.paused === paused || this.current === "stopping") return false;
    this.setState(paused ? "paused" : this.counters.decided > 0 ? "running" : "starting");
    return true;
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Says the pipeline is stopping; the loop ends once the slot is closed. */
  stopping(): void {
    this.setState("stopping");
  }

  /** Resolves when the loop has finished its current frame (the slot must be closed first). */
  async stopped(): Promise<void> {
    await this.running;
  }

  private setState(state: PipelineState): void {
    this.current = state;
    this.changedAt = new Date().toISOString();
    this.events.emit("pipeline-state", { state, since: this.changedAt });
  }

  private async loop(): Promise<void> {
    for (;;) {
      const frame = await this.slot.take();
      if (!frame) return;
      if (this.paused) {
        this.counters.skippedPaused++;
        continue;
      }
      const done = this.process(frame, this.active);
      this.inFlight = done.then(
        () => {},
        () => {},
      );
      try {
        await done;
      } catch (err) {
        if (err instanceof CorruptFrameError) {
          this.counters.corrupt++;
          this.logger.warn({ seq: frame.seq, origin: frame.origin, err: err.message }, "corrupt frame skipped");
        } else {
          this.counters.failed++;
          this.logger.error({ seq: frame.seq, err }, "frame failed");
        }
        this.events.emit("frame-failed", { frame, corrupt: err instanceof CorruptFrameError });
      }
    }
  }

  private async process(frame: Frame, model: ActiveModel): Promise<void> {
    const t0 = performance.now();
    const { preprocessor } = model;
    const pre = await preprocessor.run(frame.data, frame.raw);
    try {
      await this.decide(frame, model, pre, t0);
    } finally {
      pre.share?.release(); // the listeners have run: who still needs the buffers holds them
    }
  }

  private async decide(frame: Frame, model: ActiveModel, pre: Preprocessed, t0: number): Promise<void> {
    const { preprocessor, policy } = model;
    const t1 = performance.now();
    const inference = await model.session.run(pre.tensor);
    const t2 = performance.now();
    const decision = decide(inference.score, policy);
    const { features } = pre;
    const ood = model.ood ? outOfRange(features, model.ood) : [];
    const t3 = performance.now();

    const c = this.counters;
    c.decided++;
    if (decision.uncertain) c.uncertain++;
    if (decision.action === "reject") c.reject++;
    else c.pass++;
    if (ood.length > 0) c.ood++;
    const latencyMs = t3 - frame.capturedMono;
    this.timings.record("queue", t0 - frame.capturedMono);
    this.timings.record("preprocess", t1 - t0);
    this.timings.record("infer", t2 - t1);
    this.timings.record("decide", t3 - t2);
    this.timings.record("end_to_end", latencyMs);

    this.events.emit("decided", {
      frame,
      model: model.identity,
      score: inference.score,
      output: inference.output,
      input: { tensor: pre.tensor, preprocessor, ...(pre.share ? { share: pre.share } : {}) },
      decision,
      threshold: policy.threshold,
      features,
      ood,
      width: pre.sourceWidth,
      height: pre.sourceHeight,
      latencyMs,
      decidedAt: Date.now(),
    });
    if (this.current === "starting") this.setState("running");
  }
}
