// Messages between SampleWriter (main thread) and store-worker.ts. Plain data only: they are
// structured-cloned, and images travel in the transfer list.
import type { SampleRecord } from "./types.js";

export interface WorkerConfig {
  path: string;
  maxBytes: number;
}

/** What the worker knows about the database, sent with every reply. */
export interface DbFigures {
  dbBytes: number;
  samples: number;
}

export type ToWorker = { type: "batch"; samples: SampleRecord[] } | { type: "close" };

export type FromWorker =
  | { type: "ready"; figures: DbFigures; schemaFrom: number; schemaTo: number }
  | { type: "open-failed"; message: string }
  | {
      type: "written";
      count: number;
      written: number;
      failed: number;
      /** Row id of each sample written, by frame seq. */
      ids: { seq: number; id: number }[];
      firstError?: string;
      retentionDeleted: number;
      retentionError?: string;
      /** Duration of the insert transaction. */
      insertMs: number;
      figures: DbFigures;
    }
  | { type: "batch-failed"; count: number; message: string }
  | { type: "closed"; figures: DbFigures; error?: string };
