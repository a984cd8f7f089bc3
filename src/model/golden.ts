// Golden frames: a few labelled frames with the scores a model gave them when it was packed.
// A device that scores them differently (another runtime, CPU or image decoder) is caught
// before the model inspects anything.
import { readFile } from "node:fs/promises";
import type { LabelledFrame } from "../dataset/labelled-dir.js";
import { Preprocessor } from "./preprocess.js";
import type { ModelSession } from "./session.js";

/** Up to `count` frames, one kind after another (good, then each defect), in file order. Pure. */
export function selectGolden(frames: readonly LabelledFrame[], count: number): LabelledFrame[] {
  const byKind = new Map<string, LabelledFrame[]>();
  for (const f of [...frames].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))) {
    const list = byKind.get(f.kind) ?? [];
    list.push(f);
    byKind.set(f.kind, list);
  }
  const kinds = [...byKind.keys()].sort();
  const out: LabelledFrame[] = [];
  for (let round = 0; out.length < count; round++) {
    let added = false;
    for (const k of kinds) {
      const f = byKind.get(k)?.[round];
      if (f && out.length < count) {
        out.push(f);
        added = true;
      }
    }
    if (!added) break;
  }
  return out;
}

/** The model's score for each image file, through the daemon's own preprocessing (no ROI). */
export async function scoreImages(session: ModelSession, paths: readonly string[]): Promise<number[]> {
  const pre = new Preprocessor(session.manifest.input);
  const scores: number[] = [];
  for (const p of paths) scores.push((await session.run((await pre.run(await readFile(p))).tensor)).score);
  return scores;
}

export interface GoldenResult {
  file: string;
  expected: number;
  actual: number;
  difference: number;
  ok: boolean;
}

/** Compares scores with what the bundle recorded. Pure. */
export function compareGolden(
  expected: readonly { file: string; score: number }[],
  actual: readonly number[],
  tolerance: number,
): GoldenResult[] {
  return expected.map((g, i) => {
    const a = actual[i] as number;
    const difference = Math.abs(a - g.score);
    return { file: g.file, expected: g.score, actual: a, difference, ok: difference <= tolerance };
  });
}
