// The seam between the model lifecycle (install, promote, rollback: model-lifecycle) and shadow
// mode (the candidate deciding the same live frames, never acted on: model-shadow). The
// lifecycle hands the shadow a loaded candidate; the shadow owns it from then on and releases it
// when it is replaced or stopped. Until shadow mode exists, `noShadow` stands in.
import type { Level } from "../monitor/hysteresis.js";
import type { ActiveModel, ModelIdentity } from "../pipeline/active-model.js";

/** Shadow mode's account of the candidate so far (health `model.shadow`, model_status, auto-promotion). */
export interface ShadowReport {
  candidate: ModelIdentity;
  /** ISO time the candidate started shadowing. */
  since: string;
  /** Live frames the candidate decided. */
  frames: number;
  /** Live frames it skipped because it was still busy (it drops its own frames, never the active's). */
  dropped: number;
  /** Frames where both models took the same action. */
  agree: number;
  /** agree / frames, null before the first frame. */
  agreement: number | null;
  disagreements: {
    /** The candidate would reject, the active passed. */
    candidate_rejects: number;
    /** The candidate would pass, the active rejected. */
    candidate_passes: number;
  };
  latency_ms: { p50: number | null; p99: number | null };
  /** The candidate's own drift status against its own reference (null when drift is off). */
  drift: Level | null;
}

export interface ShadowControl {
  /**
   * Starts shadowing `candidate` on live frames, stopping and releasing the one before;
   * null stops shadowing. Takes ownership of the model.
   */
  setCandidate(candidate: ActiveModel | null): Promise<void>;
  /**
   * Ends shadowing and hands the loaded candidate back (not released) when it is the model with
   * this sha256, so a promotion reuses its session; null (and nothing changes) otherwise.
   */
  takeCandidate(sha256: string): Promise<ActiveModel | null>;
  /** null while no candidate is shadowing. */
  report(): ShadowReport | null;
}

/** Shadow mode off: a candidate handed over is released at once. */
export const noShadow: ShadowControl = {
  async setCandidate(candidate) {
    await candidate?.release();
  },
  takeCandidate: async () => null,
  report: () => null,
};
