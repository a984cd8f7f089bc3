// Checks a candidate model on this device before it is accepted: does it decide the same thing
// as the active model for the same camera, does onnxruntime load it and agree with its manifest,
// do its golden frames reproduce their recorded scores here, is it fast enough. The daemon runs it
// in a worker thread (off-thread-checks.ts); the CLI's offline install calls it directly.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { BundleRefusedError, type RefusalCode } from "./bundle-index.js";
import { compareGolden, type GoldenResult } from "./golden.js";
import type { Manifest } from "./manifest.js";
import { Preprocessor } from "./preprocess.js";
import { ModelSession } from "./session.js";
import { inputSize } from "./tensor.js";

export interface CandidateCheckOptions {
  threads: number;
  /** model.golden_tolerance: largest allowed |score here - score at packing|. */
  goldenTolerance: number;
  /** model.latency_budget_ms: largest allowed median inference time; null: no limit. */
  latencyBudgetMs: number | null;
  /** The active model's manifest, when there is one: the candidate must decide the same labels. */
  active: Manifest | null;
  /** The region the camera gives the model (camera.roi, or the capture size), when known. */
  cameraRegion?: { width: number; height: number } | null;
}

export type CheckName = "compatibility" | "session" | "golden" | "latency";

export interface CheckResult {
  name: CheckName;
  ok: boolean;
  detail: string;
}

export interface CandidateReport {
  ok: boolean;
  checks: CheckResult[];
  golden: GoldenResult[];
  latencyMs: { median: number; max: number; runs: number } | null;
}

/** A candidate that failed a check; `report` has every check's outcome and the numbers. */
export class CandidateRefusedError extends BundleRefusedError {
  constructor(
    code: RefusalCode,
    message: string,
    readonly report: CandidateReport,
  ) {
    super(code, message);
  }
}

/** Why the candidate cannot replace the active model on this camera. Pure. */
export function compatibilityProblems(
  candidate: Manifest,
  active: Manifest | null,
  region: { width: number; height: number } | null,
): string[] {
  const problems: string[] = [];
  if (active) {
    const same =
      candidate.positive_label === active.positive_label &&
      [...candidate.labels].sort().join("\n") === [...active.labels].sort().join("\n");
    if (!same)
      problems.push(
        `the candidate decides [${candidate.labels.join(", ")}] (reject on "${candidate.positive_label}") but the active model ` +
          `decides [${active.labels.join(", ")}] (reject on "${active.positive_label}"): the line's reject signal would change meaning`,
      );
  }
  if (region) {
    const { width, height } = inputSize(candidate.input);
    if (width > region.width || height > region.height)
      problems.push(
        `the candidate's input is ${width}x${height} but the camera gives the model ${region.width}x${region.height} ` +
          "(camera.roi or the capture size): frames would be upscaled, which the model was not trained on",
      );
  }
  return problems;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Runs every check on an extracted candidate in `dir`; throws CandidateRefusedError on the first failure's kind. */
export async function checkCandidate(
  dir: string,
  golden: readonly { file: string; score: number }[],
  o: CandidateCheckOptions,
): Promise<CandidateReport> {
  const report: CandidateReport = { ok: true, checks: [], golden: [], latencyMs: null };
  const fail = (name: CheckName, code: RefusalCode, detail: string): never => {
    report.ok = false;
    report.checks.push({ name, ok: false, detail });
    throw new CandidateRefusedError(code, `candidate refused (${name}): ${detail}`, report);
  };
  let session: ModelSession;
  try {
    session = await ModelSession.load(dir, { threads: o.threads });
  } catch (err) {
    return fail("session", "session", (err as Error).message);
  }
  try {
    const problems = compatibilityProblems(session.manifest, o.active, o.cameraRegion ?? null);
    if (problems.length > 0) fail("compatibility", "incompatible", problems.join("; "));
    report.checks.push({
      name: "compatibility",
      ok: true,
      detail: "same labels and reject label; input fits the camera",
    });
    report.checks.push({
      name: "session",
      ok: true,
      detail: "onnxruntime loads it; inputs and outputs match the manifest",
    });

    const pre = new Preprocessor(session.manifest.input);
    const tensors: Float32Array[] = [];
    for (const g of golden) tensors.push((await pre.run(await readFile(join(dir, g.file)))).tensor);
    const scores: number[] = [];
    for (const t of tensors) scores.push((await session.run(t)).score);
    report.golden = compareGolden(golden, scores, o.goldenTolerance);
    const off = report.golden.filter((g) => !g.ok);
    if (golden.length === 0) fail("golden", "golden", "the bundle has no golden frames to check this device against");
    if (off.length > 0)
      fail(
        "golden",
        "golden",
        `${off.length} of ${golden.length} golden frames score differently on this device than when packed ` +
          `(model.golden_tolerance ${o.goldenTolerance}): ` +
          off.map((g) => `${g.file} ${round(g.actual, 4)} vs ${round(g.expected, 4)}`).join(", ") +
          "; this runtime, CPU or image decoder computes differently, or the bundle's scores are wrong",
      );
    const worst = Math.max(...report.golden.map((g) => g.difference));
    report.checks.push({
      name: "golden",
      ok: true,
      detail: `${golden.length} golden frames reproduce (largest difference ${worst.toExponential(2)})`,
    });

    // Latency: a few warm-up runs, then timed runs over the golden tensors.
    for (let i = 0; i < 3; i++) await session.run(tensors[i % tensors.length] as Float32Array);
    const times: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = process.hrtime.bigint();
      await session.run(tensors[i % tensors.length] as Float32Array);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    report.latencyMs = { median: round(median(times), 3), max: round(Math.max(...times), 3), runs: times.length };
    if (o.latencyBudgetMs !== null && report.latencyMs.median > o.latencyBudgetMs)
      fail(
        "latency",
        "latency",
        `median inference ${report.latencyMs.median} ms on this device is over model.latency_budget_ms ${o.latencyBudgetMs}`,
      );
    report.checks.push({
      name: "latency",
      ok: true,
      detail: `median ${report.latencyMs.median} ms${o.latencyBudgetMs === null ? "" : ` (budget ${o.latencyBudgetMs} ms)`}`,
    });
    return report;
  } finally {
    await session.release();
  }
}
