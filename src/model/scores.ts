// Model output -> probability of the positive (reject) label. Pure.
import type { Manifest } from "./manifest.js";

/** Index of the positive label in the output vector. */
export function positiveIndex(manifest: Pick<Manifest, "labels" | "positive_label">): number {
  return manifest.labels.indexOf(manifest.positive_label);
}

/** Softmax probability of class `index` from logits (numerically stable). */
export function softmaxAt(logits: ArrayLike<number>, index: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i] as number);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp((logits[i] as number) - max);
  return Math.exp((logits[index] as number) - max) / sum;
}

export function positiveScore(output: ArrayLike<number>, kind: "logits" | "probabilities", index: number): number {
  return kind === "logits" ? softmaxAt(output, index) : (output[index] as number);
}
