// `linesight model gate CANDIDATE --active DIR --data FRAMES`: would the candidate be allowed to
// replace the active model, judged on labelled frames? The same gate the device will apply.
import { basename, resolve } from "node:path";
import { parseArgs } from "node:util";
import { readLabelledDir } from "../dataset/labelled-dir.js";
import { evaluateFrames } from "../model/evaluate.js";
import { formatGateReport, gate, gateLimits, type PairedScore } from "../model/gate.js";
import { ModelSession } from "../model/session.js";
import { resolveConfig } from "./config-source.js";
import { UsageError } from "./usage.js";

export const GATE_HELP = `Usage:
  linesight model gate CANDIDATE_DIR --active DIR --data FRAMES [--config FILE] [--json]
      Scores both models on the same labelled frames (a folder with labels.csv, or one written by
      'linesight samples export --out DIR', whose manifest.csv is read; every label but the good
      one counts as a defect), each at its own manifest threshold, and prints missed-defect and false-reject rates with 95% intervals,
      the paired differences and McNemar's exact test, and the verdict under model.gate.
      Exit 0 when the candidate passes, 1 when it is refused.`;

export async function gateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      active: { type: "string" },
      data: { type: "string" },
      config: { type: "string" },
      threads: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(GATE_HELP);
    return 0;
  }
  const candidateDir = positionals[0];
  if (!candidateDir || !values.active || !values.data)
    throw new UsageError(`linesight model gate needs CANDIDATE_DIR, --active DIR and --data FRAMES\n\n${GATE_HELP}`);
  const g = (await resolveConfig(values.config)).config.model.gate;
  const frames = await readLabelledDir(resolve(values.data));
  const score = async (dir: string) => {
    const session = await ModelSession.load(resolve(dir), { threads: 1 });
    try {
      return { manifest: session.manifest, scored: await evaluateFrames(session, frames) };
    } finally {
      await session.release();
    }
  };
  const active = await score(values.active);
  const candidate = await score(candidateDir);
  if (active.manifest.positive_label !== candidate.manifest.positive_label)
    throw new UsageError(
      `the models reject on different labels ("${active.manifest.positive_label}" and "${candidate.manifest.positive_label}"); they cannot be compared`,
    );
  // Every label other than the good one is a defect: people may name the defect (crack, chip).
  const goodLabel = active.manifest.labels.find((l) => l !== active.manifest.positive_label) as string;
  const paired: PairedScore[] = active.scored.map((a, i) => ({
    file: a.file,
    positive: (frames[i] as { label: string }).label !== goodLabel,
    active: a.score,
    candidate: (candidate.scored[i] as { score: number }).score,
  }));
  const report = gate(paired, {
    activeThreshold: active.manifest.decision.threshold,
    candidateThreshold: candidate.manifest.decision.threshold,
    ...gateLimits(g),
  });
  const names = {
    active: `${active.manifest.name}@${active.manifest.version}`,
    candidate: `${candidate.manifest.name}@${candidate.manifest.version}`,
  };
  console.log(
    values.json
      ? JSON.stringify(
          {
            active_model: names.active,
            candidate_model: names.candidate,
            data: basename(resolve(values.data)),
            ...report,
          },
          null,
          2,
        )
      : formatGateReport(report, names),
  );
  return report.verdict === "pass" ? 0 : 1;
}
