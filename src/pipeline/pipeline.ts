// The hot path: newest frame -> preprocess -> infer -> decide -> hand the result to the sinks.
// One frame at a time; everything after `decide` (store, MQTT, HTTP) happens in sinks that
// only enqueue, so a slow consumer can never slow down inspection.
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { Frame } from "../camera/frame.js";
import type { FrameSlot } from "../camera/frame-slot.js";
import { type Decision, type DecisionPolicy, decide } from "../decision/decide.js";
import { CorruptFrameError, type Preprocessor } from "../model/preprocess.js";
import type { ModelSession } from "../model/session.js";
import { type FrameFeatures, frameFeatures } from "../monitor/frame-features.js";
import { StageTimings } from "../monitor/latency.js";

export interface DecidedFrame {
  frame: Frame;
  score: number;
  output: Float32Array;
  decision: Decision;
  threshold: number;
  features: FrameFeatures;
  /** Size of the decoded frame. */
  width: number;
  height: number;
  /** From the moment the frame left the camera to the decision, in ms. */
  latencyMs: number;
  decidedAt: number;
}

export type DecisionSink = (result: DecidedFrame) => void;

export interface PipelineCounters {
  decided: number;
  corrupt: number;
  failed: number;
  skippedPaused: number;
  pass: number;
  reject: number;
  uncertain: number;
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
  };
  paused = false;
  private running: Promise<void> | null = null;
  private readonly sinks: DecisionSink[] = [];

  constructor(
    private readonly slot: FrameSlot,
    private readonly preprocessor: Preprocessor,
    private readonly session: ModelSession,
    private policy: DecisionPolicy,
    private readonly logger: Logger,
  ) {}

  get threshold(): number {
    return this.policy.threshold;
  }

  setPolicy(policy: DecisionPolicy): void {
    this.policy = policy;
  }

  addSink(sink: DecisionSink): void {
    this.sinks.push(sink);
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Resolves when the loop has finished its current frame (the slot must be closed first). */
  async stopped(): Promise<void> {
    await this.running;
  }

  private async loop(): Promise<void> {
    for (;;) {
      const frame = await this.slot.take();
      if (!frame) return;
      if (this.paused) {
        this.counters.skippedPaused++;
        continue;
      }
      try {
        await this.process(frame);
      } catch (err) {
        if (err instanceof CorruptFrameError) {
          this.counters.corrupt++;
          this.logger.warn({ seq: frame.seq, origin: frame.origin, err: err.message }, "corrupt frame skipped");
        } else {
          this.counters.failed++;
          this.logger.error({ seq: frame.seq, err }, "frame failed");
        }
      }
    }
  }

  private async process(frame: Frame): Promise<void> {
    const t0 = performance.now();
    const pre = await this.preprocessor.run(frame.data, frame.raw);
    const t1 = performance.now();
    const inference = await this.session.run(pre.tensor);
    const t2 = performance.now();
    const decision = decide(inference.score, this.policy);
    const features = frameFeatures(pre.rgb, this.preprocessor.width, this.preprocessor.height);
    const t3 = performance.now();

    const c = this.counters;
    c.decided++;
    if (decision.uncertain) c.uncertain++;
    if (decision.action === "reject") c.reject++;
    else c.pass++;
    const latencyMs = t3 - frame.capturedMono;
    this.timings.record("queue", t0 - frame.capturedMono);
    this.timings.record("preprocess", t1 - t0);
    this.timings.record("infer", t2 - t1);
    this.timings.record("decide", t3 - t2);
    this.timings.record("end_to_end", latencyMs);

    const result: DecidedFrame = {
      frame,
      score: inference.score,
      output: inference.output,
      decision,
      threshold: this.policy.threshold,
      features,
      width: pre.sourceWidth,
      height: pre.sourceHeight,
      latencyMs,
      decidedAt: Date.now(),
    };
    for (const sink of this.sinks) {
      try {
        sink(result);
      } catch (err) {
        this.logger.error({ err }, "decision sink failed");
      }
    }
  }
}
