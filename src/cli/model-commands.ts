// `linesight model eval|profile|card` and `linesight dataset pack`: the ML engineer's tools.
import { open, readFile, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type LabelledFrame, readLabelledDir } from "../dataset/labelled-dir.js";
import { mapLimit } from "../dataset/pool.js";
import { fitBand } from "../decision/decide.js";
import { calibrateAcross, classMetrics, fitBandToRejects } from "../decision/operating-points.js";
import { renderModelCard } from "../model/card.js";
import { evaluateFrames } from "../model/evaluate.js";
import { type Manifest, parseManifest } from "../model/manifest.js";
import { readManifest } from "../model/model-file.js";
import { Preprocessor } from "../model/preprocess.js";
import { applyProfile, buildProfile, withScoresFrom } from "../model/profile.js";
import { ModelSession } from "../model/session.js";
import { UsageError } from "./usage.js";

export const MODEL_HELP = `Usage:
  linesight model eval DIR --data FRAMES [--threshold T | --calibration FRAMES... [--max-missed 0.01]]
                       [--optimized-graph FILE] [--scores FILE] [--json]
      Scores a model directory on labelled frames (a folder with labels.csv); prints metrics at
      the manifest's threshold, at --threshold, or at the threshold calibrated on --calibration.
      --scores writes every frame's score to FILE (JSON: [{file, score}], in labels.csv order).
  linesight model profile DIR --data FRAMES [--calibration FRAMES...] [--max-missed 0.01] [--max-false-reject R]
                          [--max-band-false-reject 0.01]
                          [--reference FRAMES [--reference-scores FRAMES]] [--prevalence 0.02]
                          [--metrics-key int8]
      Evaluates the shipped artifact and writes into DIR/manifest.json its test metrics, the
      operating-point table and the reference statistics used for drift detection. With
      --calibration, first sets the default threshold on those frames: the highest threshold
      that misses at most --max-missed of defects; --calibration given more than once (one
      folder per line): the lowest of their thresholds, so that every line stays within it;
      with --max-false-reject, no folder's threshold rejects more than that share of its good parts
      (or more than one of them, in a folder too small to show the share); the uncertain band
      narrows until its good parts (rejected as uncertain by default) add at most
      --max-band-false-reject (0.01) of false rejects on every folder.
      With --reference, the reference statistics come from those frames (the line the model
      will inspect) instead of --data; with --reference-scores too, the score statistics come
      from those (frames of that line the model was never trained on).
  linesight model card DIR
      Renders DIR/MODEL_CARD.md from DIR/manifest.json.
  linesight model keygen|pack|verify ...
      Signed model bundles: 'linesight model pack --help'.
  linesight model install|status|promote|rollback|discard ...
      The model store on a device (through the running daemon when it runs): 'linesight model install --help'.
  linesight model gate CANDIDATE --active DIR --data FRAMES
      Would the candidate replace the active model? 'linesight model gate --help'.`;

export const DATASET_HELP = `Usage:
  linesight dataset pack --data FRAMES --model DIR --out PREFIX
      Runs the daemon's preprocessing over labelled frames and writes the resized RGB pixels
      (uint8, N x H x W x 3) to PREFIX.u8 with an index in PREFIX.json, for training.`;

function num(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${value}"`);
  return n;
}

async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  parseManifest(manifest, join(dir, "manifest.json")); // never write an invalid manifest
  await writeFile(join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
}

async function framesOf(dir: string | undefined, flag: string): Promise<LabelledFrame[]> {
  if (!dir) throw new UsageError(`${flag} FRAMES is required (a folder of images with labels.csv)`);
  return readLabelledDir(resolve(dir));
}

const BUNDLE_COMMANDS = new Set(["keygen", "pack", "verify"]);
const STORE_COMMANDS = new Set(["install", "status", "promote", "rollback", "discard"]);

export async function modelCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub && BUNDLE_COMMANDS.has(sub)) return (await import("./model-bundle-commands.js")).bundleCommand(sub, rest);
  if (sub && STORE_COMMANDS.has(sub)) return (await import("./model-store-commands.js")).storeCommand(sub, rest);
  if (sub === "gate") return (await import("./model-gate-command.js")).gateCommand(rest);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      data: { type: "string" },
      calibration: { type: "string", multiple: true },
      reference: { type: "string" },
      "reference-scores": { type: "string" },
      threshold: { type: "string" },
      "max-missed": { type: "string" },
      "max-false-reject": { type: "string" },
      "max-band-false-reject": { type: "string" },
      prevalence: { type: "string" },
      "metrics-key": { type: "string" },
      "optimized-graph": { type: "string" },
      scores: { type: "string" },
      threads: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || !sub) {
    console.log(MODEL_HELP);
    return sub ? 0 : 2;
  }
  const dir = positionals[0];
  if (!dir) throw new UsageError(`linesight model ${sub} needs a model directory\n\n${MODEL_HELP}`);
  const threads = num(values.threads, "threads", 1);

  switch (sub) {
    case "eval": {
      const session = await ModelSession.load(dir, {
        threads,
        ...(values["optimized-graph"] ? { optimizedModelPath: values["optimized-graph"] } : {}),
      });
      let threshold = num(values.threshold, "threshold", session.manifest.decision.threshold);
      if (values.calibration)
        threshold = (await calibrate(session, values.calibration, values["max-missed"], values["max-false-reject"]))
          .threshold;
      const evaluated = await evaluateFrames(session, await framesOf(values.data, "--data"));
      await session.release();
      if (values.scores)
        await writeFile(values.scores, `${JSON.stringify(evaluated.map((f) => ({ file: f.file, score: f.score })))}\n`);
      const metrics = classMetrics(evaluated, threshold, fitBand(session.manifest.decision.uncertain_band, threshold));
      console.log(values.json ? JSON.stringify(metrics) : formatMetrics(metrics));
      return 0;
    }
    case "profile": {
      let manifest = await readManifest(dir);
      let threshold = manifest.decision.threshold;
      const session = await ModelSession.load(dir, { threads });
      if (values.calibration) {
        const c = await calibrate(session, values.calibration, values["max-missed"], values["max-false-reject"]);
        threshold = c.threshold;
        // A band reaching 0 or 1 would make every confident decision on that side uncertain; one
        // holding many good parts would reject them (uncertain parts are rejected by default).
        const inside = fitBand(manifest.decision.uncertain_band, threshold);
        const maxBand = num(values["max-band-false-reject"], "max-band-false-reject", 0.01);
        const band = fitBandToRejects(c.sets, threshold, inside, maxBand);
        const policy =
          band < inside
            ? `${c.policy}; uncertain band narrowed to ±${band} so that its good parts, rejected as uncertain, add at most ${maxBand * 100}% false rejects`
            : band < manifest.decision.uncertain_band
              ? `${c.policy}; uncertain band narrowed to ±${band} to stay inside 0–1`
              : c.policy;
        manifest = { ...manifest, decision: { ...manifest.decision, threshold, uncertain_band: band, policy } };
      }
      const evaluated = await evaluateFrames(session, await framesOf(values.data, "--data"));
      const line = values.reference
        ? await evaluateFrames(session, await framesOf(values.reference, "--reference"))
        : null;
      const lineScores = values["reference-scores"]
        ? await evaluateFrames(session, await framesOf(values["reference-scores"], "--reference-scores"))
        : null;
      await session.release();
      const options = (data: string) => ({
        prevalence: num(values.prevalence, "prevalence", 0.02),
        threshold,
        dataName: basename(resolve(data)),
        uncertainBand: manifest.decision.uncertain_band,
      });
      const profile = buildProfile(evaluated, options(values.data as string));
      // Drift is judged against the line the model will inspect: a retrained model's reference
      // comes from the new line's frames, its metrics still from the held-out test data.
      if (line) {
        const defects = line.filter((f) => f.positive).length;
        // The reference is each class's statistics reweighted to --prevalence: it needs both.
        if (defects === 0 || defects === line.length)
          throw new UsageError(
            `--reference ${values.reference}: ${line.length - defects} good and ${defects} defect frames; the reference statistics need labelled frames of both classes`,
          );
        profile.reference = buildProfile(line, options(values.reference as string)).reference;
        if (lineScores) {
          const d = lineScores.filter((f) => f.positive).length;
          if (d === 0 || d === lineScores.length)
            throw new UsageError(
              `--reference-scores ${values["reference-scores"]}: ${lineScores.length - d} good and ${d} defect frames; the score statistics need labelled frames of both classes`,
            );
          const scores = buildProfile(lineScores, options(values["reference-scores"] as string)).reference;
          profile.reference = withScoresFrom(profile.reference, scores);
        }
      } else if (lineScores) {
        throw new UsageError("--reference-scores goes with --reference");
      }
      manifest = applyProfile(manifest, values["metrics-key"] ?? "int8", profile, session.files.bytes.length);
      await writeManifest(dir, manifest);
      console.log(formatMetrics(profile.metrics));
      return 0;
    }
    case "card": {
      const manifest = await readManifest(dir);
      await writeFile(join(dir, "MODEL_CARD.md"), renderModelCard(manifest));
      console.log(`wrote ${join(dir, "MODEL_CARD.md")}`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command "model ${sub}"\n\n${MODEL_HELP}`);
  }
}

/**
 * The default threshold from calibration frames (never the test set), and how it was chosen.
 * Several folders (the original line's and a new line's): the lowest of their thresholds, so the
 * missed defects stay within the target on each line, not only on their pooled frames.
 */
async function calibrate(
  session: ModelSession,
  dirs: string[],
  maxMissedArg: string | undefined,
  maxFalseRejectArg: string | undefined,
) {
  const maxMissed = num(maxMissedArg, "max-missed", 0.01);
  const maxFalseReject = maxFalseRejectArg === undefined ? null : num(maxFalseRejectArg, "max-false-reject", 1);
  const sets = [];
  for (const dir of dirs) sets.push(await evaluateFrames(session, await framesOf(dir, "--calibration")));
  const each = sets.map((frames, i) => `${basename(resolve(dirs[i] as string))} (${frames.length} frames)`);
  return {
    sets,
    threshold: calibrateAcross(sets, maxMissed, maxFalseReject),
    policy:
      `middle of the thresholds that miss at most ${maxMissed * 100}% of defects with the fewest false rejects` +
      (maxFalseReject === null ? "" : ` (never below rejecting ${maxFalseReject * 100}% of good parts)`) +
      (sets.length > 1 ? `, the lowest of those on each of ${each.join(", ")}` : `, on ${each[0]}`),
  };
}

function formatMetrics(m: ReturnType<typeof classMetrics>): string {
  const p = (x: number) => `${(x * 100).toFixed(2)}%`;
  const recall = (r: Record<string, number>) =>
    Object.entries(r)
      .map(([k, v]) => `${k} ${p(v)}`)
      .join(", ");
  const l = m.on_line;
  return (
    `${m.samples} frames  accuracy ${p(m.accuracy)}  AUC ${m.roc_auc.toFixed(4)}  at threshold ${m.threshold}: ` +
    `false rejects ${p(m.false_reject_rate)}, missed defects ${p(m.missed_defect_rate)}\n  recall: ${recall(m.per_defect_recall)}` +
    (l
      ? `\n  on the line (uncertain ±${l.uncertain_band} rejected): accuracy ${p(l.accuracy)}, false rejects ` +
        `${p(l.false_reject_rate)}, missed defects ${p(l.missed_defect_rate)}; recall: ${recall(l.per_defect_recall)}`
      : "")
  );
}

export async function datasetCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      data: { type: "string" },
      model: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || sub !== "pack") {
    console.log(DATASET_HELP);
    return values.help ? 0 : 2;
  }
  if (!values.model || !values.out) throw new UsageError(`--model and --out are required\n\n${DATASET_HELP}`);
  const frames = await framesOf(values.data, "--data");
  const manifest = await readManifest(values.model);
  const pre = new Preprocessor(manifest.input);
  const file = await open(`${values.out}.u8`, "w");
  try {
    const chunk = 256; // bounded memory: a chunk of frames in flight, written in order
    for (let start = 0; start < frames.length; start += chunk) {
      const part = frames.slice(start, start + chunk);
      const pixels = await mapLimit(part, 2, async (f) => (await pre.run(await readFile(f.path))).rgb);
      for (const px of pixels) await file.write(px);
    }
  } finally {
    await file.close();
  }
  const index = {
    count: frames.length,
    height: pre.height,
    width: pre.width,
    channels: 3,
    files: frames.map((f) => f.file),
    labels: frames.map((f) => f.label),
    kinds: frames.map((f) => f.kind),
  };
  await writeFile(`${values.out}.json`, JSON.stringify(index));
  console.log(`packed ${frames.length} frames at ${pre.width}x${pre.height} into ${values.out}.u8`);
  return 0;
}
