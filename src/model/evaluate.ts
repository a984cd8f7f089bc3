// Runs a model over a labelled frame set through the daemon's own preprocess and session,
// so evaluation, reference statistics and serving compute everything the same way.
import { readFile } from "node:fs/promises";
import type { LabelledFrame } from "../dataset/labelled-dir.js";
import type { ScoredSample } from "../decision/operating-points.js";
import type { FrameFeatures } from "../monitor/frame-features.js";
import { Preprocessor, type Roi } from "./preprocess.js";
import type { ModelSession } from "./session.js";

export interface EvaluatedFrame extends ScoredSample {
  file: string;
  features: FrameFeatures;
}

export async function evaluateFrames(
  session: ModelSession,
  frames: readonly LabelledFrame[],
  roi?: Roi,
): Promise<EvaluatedFrame[]> {
  const m = session.manifest;
  const pre = new Preprocessor(m.input, roi);
  const out: EvaluatedFrame[] = [];
  // Decode the next frame while the current one is in the model.
  let pending = readFile(frames[0]?.path ?? "").then((b) => pre.run(b));
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i] as LabelledFrame;
    const p = await pending;
    if (i + 1 < frames.length) {
      const nextPath = (frames[i + 1] as LabelledFrame).path;
      pending = readFile(nextPath).then((b) => pre.run(b));
    }
    const { score } = await session.run(p.tensor);
    out.push({
      file: frame.file,
      score,
      positive: frame.label === m.positive_label,
      kind: frame.kind,
      features: p.features,
    });
  }
  return out;
}
