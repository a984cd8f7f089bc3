// A candidate model for shadow-mode and swap tests: the shipped model under another name, version
// and sha256 (its ONNX file differs by a doc string, so it computes exactly the same scores), with
// the decision values of its manifest changed, so which way it disagrees with the shipped model
// is known in advance.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sha256 } from "../../src/model/model-file.js";
import { MODEL } from "./daemon.js";

export interface CandidateOptions {
  name?: string;
  version?: string;
  /** The manifest's decision threshold and uncertain band (default: the shipped model's). */
  threshold?: number;
  uncertainBand?: number;
  note?: string;
}

/** Writes the candidate into `to` (created) and returns `to`. */
export function writeCandidateModel(to: string, o: CandidateOptions = {}): string {
  mkdirSync(to, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(MODEL, "manifest.json"), "utf8"));
  const note = Buffer.from(o.note ?? "candidate copy for a test");
  // ModelProto field 6 (doc_string), appended: the graph and its outputs are unchanged.
  const bytes = Buffer.concat([readFileSync(join(MODEL, manifest.file)), Buffer.from([0x32, note.length]), note]);
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
  copyFileSync(join(MODEL, "MODEL_CARD.md"), join(to, "MODEL_CARD.md"));
  return to;
}
