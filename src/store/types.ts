// Shapes shared by the main-thread writer, the worker and the synchronous store.

export const SAMPLE_REASONS = ["reject", "uncertain", "audit", "ood", "snapshot", "disagreement"] as const;
export type SampleReason = (typeof SAMPLE_REASONS)[number];

/** One decided frame kept for labeling. `image` is handed over: see SampleWriter.enqueue. */
export interface SampleRecord {
  seq: number;
  /** ms since epoch. */
  capturedAt: number;
  reason: SampleReason;
  action: "pass" | "reject";
  uncertain: boolean;
  predicted: string;
  score: number;
  output: number[];
  threshold: number;
  model: { name: string; version: string; sha256: string };
  /** JPEG bytes. */
  image: Uint8Array;
  width: number;
  height: number;
  features?: Record<string, number>;
  latencyMs: number;
  /** The shadow candidate's decision of the same frame (disagreement samples); absent otherwise. */
  candidate?: {
    model: { name: string; version: string; sha256: string };
    score: number;
    threshold: number;
    action: "pass" | "reject";
  };
}

/** Figures the main thread can read without a round trip to the worker. */
export interface StoreStats {
  /** Waiting in the main-thread queue or posted to the worker and not yet acknowledged. */
  queued: number;
  written: number;
  /** Refused by enqueue because the queue was full (or the writer closed/failed). */
  dropped: number;
  /** Reached the worker but could not be stored. */
  failed: number;
  /** Database file plus its WAL, on disk. */
  dbBytes: number;
  samples: number;
  /** Samples deleted by retention since the writer opened. */
  retentionDeleted: number;
}
