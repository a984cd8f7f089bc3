// A candidate model for shadow-mode and swap tests: the shipped model under another name, version
// and sha256, with its decision values changed (bench/candidate-model.ts, shared with the benchmark).
import { type CandidateOptions, writeCandidateModel as write } from "../../bench/candidate-model.js";
import { MODEL } from "./daemon.js";

export type { CandidateOptions };

/** Writes a candidate made from the shipped model into `to` (created) and returns `to`. */
export function writeCandidateModel(to: string, o: CandidateOptions = {}): string {
  return write(MODEL, to, { note: "candidate copy for a test", ...o });
}
