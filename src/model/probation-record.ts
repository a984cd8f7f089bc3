// probation.json in the model store: which promoted model is on probation, until when, and how
// many times the daemon started meanwhile. Written atomically; a missing or unreadable record
// means no probation (a damaged record must never stop the daemon from starting).
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { replaceFileAtomic } from "./durable-fs.js";
import type { ProbationRecord } from "./probation.js";

const recordSchema = z.strictObject({
  id: z.string().min(1),
  previous: z.string().min(1).nullable(),
  started_at: z.string(),
  until: z.string(),
  starts: z.number().int().min(0),
});

const file = (storeDir: string) => join(storeDir, "probation.json");

export async function readProbation(storeDir: string): Promise<ProbationRecord | null> {
  try {
    const parsed = recordSchema.safeParse(JSON.parse(await readFile(file(storeDir), "utf8")));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export async function writeProbation(storeDir: string, r: ProbationRecord): Promise<void> {
  await replaceFileAtomic(file(storeDir), `${JSON.stringify(r, null, 2)}\n`);
}

export async function clearProbation(storeDir: string): Promise<void> {
  await rm(file(storeDir), { force: true });
}
