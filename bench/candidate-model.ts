// A candidate model for shadow-mode benchmarks and tests: a model folder copied under another name,
// version and sha256 (its ONNX file differs by a doc string, so it does exactly the same work and
// computes the same scores), with its manifest's decision values changed, so which way it
// disagrees with the original is known in advance.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sha256 } from "../src/model/model-file.js";

export interface CandidateOptions {
  name?: string;
  version?: string;
  /** The manifest's decision threshold and uncertain band (default: the original's). */
  threshold?: number;
  uncertainBand?: number;
  note?: string;
}

/** Writes the candidate made from the model folder `from` into `to` (created); returns `to`. */
export function writeCandidateModel(from: string, to: string, o: CandidateOptions = {}): string {
  mkdirSync(to, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(from, "manifest.json"), "utf8"));
  const note = Buffer.from(o.note ?? "candidate copy");
  // ModelProto field 6 (doc_string), appended: the graph and its outputs are unchanged.
  const bytes = Buffer.concat([readFileSync(join(from, manifest.file)), Buffer.from([0x32, note.length]), note]);
  writeFileSync(join(to, manifest.file), bytes);
  const decision = {
    ...manifest.decision,
    ...(o.threshold === undefined ? {} : { threshold: o.threshold }),
    ...(o.uncertainBand === undefined ? {} : { uncertain_band: o.uncertainBand }),
  };
  writeFileSync(
    join(to, "manifest.json"),
    JSON.stringify({
      ...manifest,
      name: o.name ?? manifest.name,
      version: o.version ?? "9.0.0",
      sha256: sha256(bytes),
      decision,
    }),
  );
  copyFileSync(join(from, "MODEL_CARD.md"), join(to, "MODEL_CARD.md"));
  return to;
}
