// Keeps the decided frames worth a human look (rejects, uncertain, out-of-distribution, an
// audit share, snapshots on request, frames where a shadow candidate disagrees) in the sample store. Only enqueues: raw frames get their
// JPEG in a worker first, and the store writes from its own thread.
import type { Logger } from "pino";
import type { FrameJpegEncoder } from "../camera/frame-jpeg.js";
import type { Config } from "../config/schema.js";
import type { DecidedFrame } from "../pipeline/pipeline.js";
import type { SnapshotRequests } from "../pipeline/snapshot-requests.js";
import type { SampleWriter } from "../store/sample-writer.js";
import { RateLimiter, sampleReason } from "../store/sampling.js";
import type { SampleReason, SampleRecord } from "../store/types.js";
import type { ShadowDecided } from "./model-shadow.js";
import type { DaemonBus, Part } from "./part.js";

export interface SampleKeeper extends Part {
  /** Samples lost before the store since start: their raw frame could not be made a JPEG. */
  readonly lost: number;
}

export function sampleKeeper(o: {
  bus: DaemonBus;
  store: SampleWriter;
  jpegs: FrameJpegEncoder;
  snapshots: SnapshotRequests;
  storage: Config["storage"];
  oodSamplesPerMinute: number;
  /** Frames where the shadow candidate and the active model disagree, kept at most this many a minute. */
  disagreementSamplesPerMinute?: number;
  logger: Logger;
  random?: () => number;
}): SampleKeeper {
  const { bus, store, snapshots, logger } = o;
  const name = "samples";
  const random = o.random ?? Math.random;
  const sampling = {
    storeRejects: o.storage.store_rejects,
    storeUncertain: o.storage.store_uncertain,
    auditFraction: o.storage.audit_fraction,
  };
  const oodLimiter = new RateLimiter(o.oodSamplesPerMinute, Date.now());
  const disagreementLimiter = new RateLimiter(o.disagreementSamplesPerMinute ?? 0, Date.now());
  let lost = 0;

  const keep = (r: DecidedFrame) => {
    const ood = r.ood.length > 0 && oodLimiter.take(r.decidedAt);
    const sampled = sampleReason(r.decision, sampling, random, ood);
    const answer = snapshots.take(r.frame.seq, r.frame.capturedAt);
    const reason = answer ? "snapshot" : sampled;
    if (!reason) return;
    enqueueSample(r, reason, undefined, answer);
  };

  // The frames that decide between the two models: labeled, they feed the gate.
  const keepDisagreement = ({ active: r, candidate: c, comparison }: ShadowDecided) => {
    if (comparison === "agree" || !disagreementLimiter.take(Date.now())) return;
    const candidate = { model: c.model, score: c.score, threshold: c.threshold, action: c.decision.action };
    enqueueSample(r, "disagreement", candidate);
  };

  const enqueueSample = (
    r: DecidedFrame,
    reason: SampleReason,
    candidate: SampleRecord["candidate"],
    answer?: ((stored: boolean) => void) | null,
  ) => {
    const write = (image: Uint8Array | null): void => {
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
          model: { name: r.model.name, version: r.model.version, sha256: r.model.sha256 },
          image,
          width: r.width,
          height: r.height,
          features: r.features,
          latencyMs: r.latencyMs,
          ...(candidate ? { candidate } : {}),
        });
      if (image === null) {
        lost++;
        logger.warn({ seq: r.frame.seq, reason }, "sample lost: its frame could not be made a JPEG");
      }
      answer?.(stored);
    };
    // A copy: the store takes ownership of (detaches) the buffer, and the frame lives on.
    if (!r.frame.raw) write(new Uint8Array(r.frame.data));
    else void o.jpegs.jpeg(r.frame).then(write);
  };
  return {
    name,
    get lost() {
      return lost;
    },
    start() {
      bus.on(name, "decided", keep);
      bus.on(name, "shadow-decided", keepDisagreement);
    },
    stop: () => bus.off(name),
  };
}
