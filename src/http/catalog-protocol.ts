// Messages between Catalog (main thread) and catalog-worker.ts. Plain data only.
import type { AuditCounts } from "../monitor/audit-accuracy.js";
import type { SampleSummary } from "../store/sample-catalog.js";
import type { SampleFilter } from "../store/sample-filter.js";

export type CatalogRequest =
  | { id: number; op: "list"; filter: SampleFilter; limit: number; before: number | null; withTotal: boolean }
  | { id: number; op: "image"; sampleId: number }
  | { id: number; op: "label"; sampleIds: number[]; label: string; kind: string | null; by: string }
  | { id: number; op: "undo"; labelIds: number[] }
  | { id: number; op: "audit" }
  | { id: number; op: "markExported"; sampleIds: number[] }
  | { id: number; op: "close" };

export interface CatalogResults {
  list: { samples: SampleSummary[]; total: number | null };
  image: Uint8Array | null;
  label: number[];
  undo: number;
  audit: AuditCounts;
  markExported: null;
}

export type CatalogResponse = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };
