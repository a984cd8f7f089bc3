// Changes replayed frames the way a line changes (a lamp dims, a cast from new lights, a dirty
// lens, a bumped camera) from a given frame on, suddenly or gradually, so anyone can watch the
// drift detector fire. Demo and test aid; never active unless configured.
import sharp from "sharp";

export type DriftKind = "brightness" | "cast" | "blur" | "shift";

export interface DriftInjection {
  kind: DriftKind;
  /**
   * brightness: relative change (-0.2 = 20% darker); cast: relative warm cast (0.15 = red x1.15,
   * blue x0.85); blur: Gaussian sigma in pixels; shift: horizontal offset as a share of the width.
   */
  amount: number;
  /** First frame (counted from the source's start) that is changed. */
  from_frame: number;
  /** Frames over which the change grows to its full amount; 0 = sudden. */
  ramp_frames: number;
}

/** How much of the change applies to frame `seq`: 0 before, rising over the ramp, then 1. */
export function driftStrength(d: DriftInjection, seq: number): number {
  if (seq < d.from_frame) return 0;
  if (d.ramp_frames <= 0) return 1;
  return Math.min(1, (seq - d.from_frame + 1) / d.ramp_frames);
}

/** `kind:amount@from[+ramp]`, e.g. `brightness:-0.2@300` or `blur:2@100+400`. */
export function parseDriftSpec(spec: string): DriftInjection {
  const m = /^(brightness|cast|blur|shift):(-?\d+(?:\.\d+)?)@(\d+)(?:\+(\d+))?$/.exec(spec.trim());
  if (!m) {
    throw new Error(
      `drift "${spec}" is not kind:amount@frame[+ramp] with kind brightness|cast|blur|shift, e.g. brightness:-0.2@300`,
    );
  }
  return { kind: m[1] as DriftKind, amount: Number(m[2]), from_frame: Number(m[3]), ramp_frames: Number(m[4] ?? 0) };
}

/** Re-encodes the frame with the change applied at `strength` (0..1). */
export async function applyDrift(data: Buffer, d: DriftInjection, strength: number): Promise<Buffer> {
  if (strength <= 0 || d.amount === 0) return data;
  const a = d.amount * strength;
  let img = sharp(data);
  switch (d.kind) {
    case "brightness":
      img = img.linear(1 + a, 0);
      break;
    case "cast":
      img = img.linear([1 + a, 1, 1 - a], [0, 0, 0]);
      break;
    case "blur":
      if (a >= 0.3) img = img.blur(a); // sharp's minimum sigma
      break;
    case "shift": {
      const { width = 0, height = 0 } = await sharp(data).metadata();
      const dx = Math.round(Math.abs(a) * width);
      if (dx === 0 || dx >= width) break;
      // Move the picture sideways and fill the uncovered strip with the nearest edge.
      const wide = await sharp(data)
        .extend({ left: a > 0 ? dx : 0, right: a < 0 ? dx : 0, extendWith: "copy" })
        .png({ compressionLevel: 0 })
        .toBuffer();
      img = sharp(wide).extract({ left: a > 0 ? 0 : dx, top: 0, width, height });
      break;
    }
  }
  return img.jpeg({ quality: 92 }).toBuffer();
}
