// Out-of-distribution frames: image statistics outside anything the model was profiled on. Such a
// frame's decision is a guess, so it is worth a label. Pure.
import type { Histogram } from "../model/manifest.js";
import { FEATURE_NAMES, type FeatureName, type FrameFeatures } from "./frame-features.js";

export interface OodBounds {
  lo: number;
  hi: number;
}

/**
 * The reference's observed range, widened by `margin` times its central 98% spread: thousands of
 * reference frames make min/max already generous, the margin absorbs JPEG and sensor jitter.
 */
export function oodBounds(features: Record<string, Histogram>, margin = 0.1): Record<FeatureName, OodBounds> {
  const out = {} as Record<FeatureName, OodBounds>;
  for (const name of FEATURE_NAMES) {
    const h = features[name];
    if (!h) continue;
    const spread = h.quantiles.p99 - h.quantiles.p01;
    out[name] = { lo: h.min - margin * spread, hi: h.max + margin * spread };
  }
  return out;
}

/** Names of the features outside their bounds, with the direction, e.g. ["brightness low"]. */
export function outOfRange(f: FrameFeatures, bounds: Record<FeatureName, OodBounds>): string[] {
  const out: string[] = [];
  for (const name of FEATURE_NAMES) {
    const b = bounds[name];
    if (!b) continue;
    const v = f[name];
    if (v < b.lo) out.push(`${name} low`);
    else if (v > b.hi) out.push(`${name} high`);
  }
  return out;
}
