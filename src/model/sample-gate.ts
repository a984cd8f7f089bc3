// The gate on the device: the candidate and the active model scored on this device's labeled
// samples (operator labels, audit samples), paired on the same stored frames, each at its own
// threshold. Off the hot path: its own sessions (one thread each), its own read-only database
// connection, one sample at a time with a yield between, so inspection keeps its core. The daemon
// runs it in a worker thread (off-thread-checks.ts), so no session is created on its main thread.
import { existsSync } from "node:fs";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import Database from "better-sqlite3";
import { LATEST_LABEL_JOIN } from "../store/sample-filter.js";
import { type GateOptions, type GateReport, gate, type PairedScore } from "./gate.js";
import { Preprocessor, type Roi } from "./preprocess.js";
import { ModelSession } from "./session.js";

export interface SampleGateInput {
  databasePath: string;
  active: { dir: string; id: string; threshold: number };
  candidate: { dir: string; id: string; threshold: number };
  /** The newest labeled samples used, at most. */
  maxSamples: number;
  roi?: Roi;
  gate: Omit<GateOptions, "activeThreshold" | "candidateThreshold">;
}

/** The stored and published gate report: the verdict, the numbers, and what was compared. */
export interface DeviceGateReport extends GateReport {
  schema: 1;
  at: string;
  active_model: string;
  candidate_model: string;
  /** Labeled samples found, and those whose frame could not be decoded (left out). */
  samples: { used: number; unreadable: number; by_reason: Record<string, number> };
}

interface LabeledRow {
  id: number;
  reason: string;
  label: string;
}

export async function gateOnSamples(o: SampleGateInput): Promise<DeviceGateReport> {
  const rows: LabeledRow[] = [];
  let db: Database.Database | null = null;
  if (existsSync(o.databasePath)) {
    db = new Database(o.databasePath, { readonly: true, fileMustExist: true });
    db.pragma("busy_timeout = 5000");
    rows.push(
      ...(db
        .prepare(
          `SELECT s.id, s.reason, l.label FROM samples AS s ${LATEST_LABEL_JOIN}
           WHERE l.id IS NOT NULL ORDER BY s.id DESC LIMIT ?`,
        )
        .all(o.maxSamples) as LabeledRow[]),
    );
  }
  const active = await ModelSession.load(o.active.dir, { threads: 1 });
  const candidate = await ModelSession.load(o.candidate.dir, { threads: 1 }).catch(async (err) => {
    await active.release();
    throw err;
  });
  const pairs: PairedScore[] = [];
  const byReason: Record<string, number> = {};
  let unreadable = 0;
  try {
    const goodLabel = active.manifest.labels.find((l) => l !== active.manifest.positive_label) as string;
    const preA = new Preprocessor(active.manifest.input, o.roi);
    const preC = new Preprocessor(candidate.manifest.input, o.roi);
    const image = db?.prepare("SELECT image FROM samples WHERE id = ?");
    for (const row of rows) {
      await yieldToLoop();
      const bytes = (image?.get(row.id) as { image: Buffer } | undefined)?.image;
      if (!bytes) continue; // deleted by retention meanwhile
      try {
        const a = await active.run((await preA.run(bytes)).tensor);
        const c = await candidate.run((await preC.run(bytes)).tensor);
        // Every label but the good one is a defect: labelers may name the defect (crack, chip).
        pairs.push({
          file: `sample ${row.id}`,
          positive: row.label !== goodLabel,
          active: a.score,
          candidate: c.score,
        });
        byReason[row.reason] = (byReason[row.reason] ?? 0) + 1;
      } catch {
        unreadable++;
      }
    }
  } finally {
    db?.close();
    await active.release();
    await candidate.release();
  }
  const report = gate(pairs, {
    ...o.gate,
    activeThreshold: o.active.threshold,
    candidateThreshold: o.candidate.threshold,
  });
  return {
    schema: 1,
    at: new Date().toISOString(),
    active_model: o.active.id,
    candidate_model: o.candidate.id,
    samples: { used: pairs.length, unreadable, by_reason: byReason },
    ...report,
  };
}
