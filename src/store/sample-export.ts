// Labeled samples out as a training dataset: an image folder per label, a CSV and a JSONL
// manifest with every stored field, and a Label Studio import file. Rows are streamed from
// SQLite one at a time (iterate()), and every write waits for its stream to drain, so an export
// of any size runs in flat memory. Exported samples get exported_at set.
import { once } from "node:events";
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { type SampleCatalog, type SampleSummary, SUMMARY_COLUMNS, toSummary } from "./sample-catalog.js";
import { filterToSql, LATEST_LABEL_JOIN, type SampleFilter } from "./sample-filter.js";
import { TarWriter } from "./tar-writer.js";

export const EXPORT_FORMATS = ["folders", "tar", "jsonl", "csv", "label-studio"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportedSample extends SampleSummary {
  /** Path of the image inside the export: <label>/<id>.jpg. */
  file: string;
  output: number[];
  features: Record<string, number> | null;
  latency_ms: number;
  model_sha256: string;
  label: string;
  /** The device that stored it (device.id), so exports from several devices stay told apart. */
  device_id: string | null;
}

export interface ExportOptions {
  format: ExportFormat;
  /** A directory for `folders`; a file or a stream for the others. */
  out: string | Writable;
  /** Label Studio image URLs are this prefix plus the file's path (local-files storage by default). */
  labelStudioPrefix?: string;
  /** Set exported_at on what was exported (default true). */
  mark?: boolean;
  /** The device's id (config device.id), written on every row; the database does not hold it. */
  device?: string;
}

const CSV_COLUMNS = [
  "id",
  "file",
  "label",
  "label_kind",
  "labeled_by",
  "labeled_at",
  "reason",
  "action",
  "uncertain",
  "predicted",
  "score",
  "threshold",
  "model_name",
  "model_version",
  "model_sha256",
  "captured_at",
  "seq",
  "width",
  "height",
  "latency_ms",
  "output",
  "features",
  "candidate_name",
  "candidate_version",
  "candidate_sha256",
  "candidate_score",
  "candidate_threshold",
  "candidate_action",
  "device_id",
] as const;

/** Only labeled samples are exported: a dataset needs the people's answers. */
export async function exportSamples(
  catalog: SampleCatalog,
  filter: SampleFilter,
  opts: ExportOptions,
): Promise<{ exported: number; byLabel: Record<string, number>; ids: number[] }> {
  const labeled: SampleFilter = { ...filter, labeled: "labeled" };
  const { where, params } = filterToSql(labeled);
  // Opened before the query: a sink that cannot start (no temporary directory) must not leave
  // an open iterator behind, which would hide its error behind "connection is busy".
  const sink = await openSink(opts);
  const rows = catalog.db
    .prepare(
      `SELECT ${SUMMARY_COLUMNS}, s.output, s.features, s.latency_ms, s.model_sha256, s.image
       FROM samples AS s ${LATEST_LABEL_JOIN} ${where} ORDER BY s.id`,
    )
    .iterate(...params) as IterableIterator<Record<string, unknown>>;

  const ids: number[] = [];
  const byLabel: Record<string, number> = {};
  let first = true;
  try {
    for (const row of rows) {
      const image = row.image as Buffer;
      const s = toExported(row, opts.device ?? null);
      await sink.image(s.file, image);
      await sink.manifest(s, first, opts.labelStudioPrefix ?? "/data/local-files/?d=");
      first = false;
      ids.push(s.id);
      byLabel[s.label] = (byLabel[s.label] ?? 0) + 1;
    }
    await sink.finish(first);
  } catch (err) {
    // Close the iterator (ends the read transaction) before the connection is used again.
    rows.return?.();
    await sink.abort();
    throw err;
  }
  if (opts.mark ?? true) catalog.markExported(ids);
  return { exported: ids.length, byLabel, ids };
}

function toExported(row: Record<string, unknown>, device: string | null): ExportedSample {
  const { image: _image, output, features, ...rest } = row;
  const summary = toSummary(rest as Parameters<typeof toSummary>[0]);
  const label = summary.label as string;
  return {
    ...summary,
    label,
    file: `${safeName(label)}/${summary.id}.jpg`,
    output: JSON.parse(output as string) as number[],
    features: features ? (JSON.parse(features as string) as Record<string, number>) : null,
    latency_ms: row.latency_ms as number,
    model_sha256: row.model_sha256 as string,
    device_id: device,
  };
}

/** A label as a folder name: people may type anything, the file system may not take it. */
export function safeName(label: string): string {
  const s = label.replace(/[^A-Za-z0-9_.-]+/g, "_").replace(/^\.+/, "_");
  return s.slice(0, 80) || "_";
}

const iso = (ms: number | null) => (ms === null ? "" : new Date(ms).toISOString());

export function csvLine(values: readonly unknown[]): string {
  return `${values
    .map((v) => {
      const t = v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
      return /[",\n\r]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
    })
    .join(",")}\n`;
}

export function csvRow(s: ExportedSample): string {
  const values: Record<(typeof CSV_COLUMNS)[number], unknown> = {
    ...s,
    labeled_at: iso(s.labeled_at),
    captured_at: iso(s.captured_at),
    uncertain: s.uncertain ? 1 : 0,
  };
  return csvLine(CSV_COLUMNS.map((c) => values[c]));
}

export function jsonlRow(s: ExportedSample): string {
  return `${JSON.stringify({ ...s, captured_at: iso(s.captured_at), labeled_at: iso(s.labeled_at), exported_at: undefined })}\n`;
}

/** One Label Studio task with the person's label as a finished annotation. */
export function labelStudioTask(s: ExportedSample, prefix: string): string {
  return JSON.stringify({
    data: { image: `${prefix}${s.file}`, sample_id: s.id },
    annotations: [
      {
        result: [
          { from_name: "label", to_name: "image", type: "choices", value: { choices: [s.label] } },
          ...(s.label_kind
            ? [{ from_name: "kind", to_name: "image", type: "choices", value: { choices: [s.label_kind] } }]
            : []),
        ],
        completed_by: { email: s.labeled_by },
      },
    ],
    predictions: [
      {
        model_version: s.model_version,
        score: s.score,
        result: [{ from_name: "label", to_name: "image", type: "choices", value: { choices: [s.predicted] } }],
      },
    ],
    meta: { reason: s.reason, action: s.action, captured_at: iso(s.captured_at), device_id: s.device_id },
  });
}

interface Sink {
  image(file: string, bytes: Uint8Array): Promise<void>;
  manifest(s: ExportedSample, first: boolean, prefix: string): Promise<void>;
  finish(empty: boolean): Promise<void>;
  abort(): Promise<void>;
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, "drain");
}

async function endStream(out: Writable): Promise<void> {
  if (out === process.stdout) return;
  out.end();
  await once(out, "finish");
}

function outStream(out: string | Writable): Writable {
  return typeof out === "string" ? (out === "-" ? process.stdout : createWriteStream(out)) : out;
}

/** The three manifests as streams: files in a folder (folders, tar) or one of them alone. */
class Manifests {
  constructor(readonly streams: { csv?: Writable; jsonl?: Writable; ls?: Writable }) {}

  async start(): Promise<void> {
    if (this.streams.csv) await write(this.streams.csv, csvLine(CSV_COLUMNS));
    if (this.streams.ls) await write(this.streams.ls, "[\n");
  }

  async add(s: ExportedSample, first: boolean, prefix: string): Promise<void> {
    const { csv, jsonl, ls } = this.streams;
    if (csv) await write(csv, csvRow(s));
    if (jsonl) await write(jsonl, jsonlRow(s));
    if (ls) await write(ls, `${first ? "" : ",\n"}${labelStudioTask(s, prefix)}`);
  }

  async end(): Promise<void> {
    if (this.streams.ls) await write(this.streams.ls, "\n]\n");
    for (const s of Object.values(this.streams)) if (s) await endStream(s);
  }
}

const MANIFEST_FILES = { csv: "manifest.csv", jsonl: "manifest.jsonl", ls: "label-studio.json" } as const;

async function openSink(opts: ExportOptions): Promise<Sink> {
  if (opts.format === "folders") {
    if (typeof opts.out !== "string" || opts.out === "-")
      throw new Error("--format folders writes a directory: give --out DIR");
    const dir = opts.out;
    mkdirSync(dir, { recursive: true });
    const m = manifestsIn(dir);
    await m.start();
    const made = new Set<string>();
    return {
      async image(file, bytes) {
        const folder = file.split("/")[0] as string;
        if (!made.has(folder)) mkdirSync(join(dir, folder), { recursive: true });
        made.add(folder);
        await writeFile(join(dir, file), bytes);
      },
      manifest: (s, first, prefix) => m.add(s, first, prefix),
      finish: () => m.end(),
      abort: () => m.end(),
    };
  }
  if (opts.format === "tar") {
    // Manifests go to temporary files first (tar needs each file's size before its bytes),
    // then into the archive after the images.
    const out = outStream(opts.out);
    const tar = new TarWriter(out);
    const tmp = mkdtempSync(join(tmpdir(), "linesight-export-"));
    const m = manifestsIn(tmp);
    await m.start();
    return {
      image: (file, bytes) => tar.file(file, bytes),
      manifest: (s, first, prefix) => m.add(s, first, prefix),
      async finish() {
        await m.end();
        for (const name of Object.values(MANIFEST_FILES)) {
          const p = join(tmp, name);
          await tar.fileFrom(name, statSync(p).size, createReadStream(p));
        }
        await tar.end();
        rmSync(tmp, { recursive: true, force: true });
        await endStream(out);
      },
      async abort() {
        await m.end();
        rmSync(tmp, { recursive: true, force: true });
      },
    };
  }
  const out = outStream(opts.out);
  const key = opts.format === "label-studio" ? "ls" : opts.format;
  const m = new Manifests({ [key]: out });
  await m.start();
  return {
    image: async () => {},
    manifest: (s, first, prefix) => m.add(s, first, prefix),
    finish: () => m.end(),
    abort: () => m.end(),
  };
}

function manifestsIn(dir: string): Manifests {
  return new Manifests({
    csv: createWriteStream(join(dir, MANIFEST_FILES.csv)),
    jsonl: createWriteStream(join(dir, MANIFEST_FILES.jsonl)),
    ls: createWriteStream(join(dir, MANIFEST_FILES.ls)),
  });
}
