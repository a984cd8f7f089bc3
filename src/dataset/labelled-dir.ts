// A directory of labelled frames: images plus a labels.csv sidecar (file,label,defect,...), or
// the manifest.csv of a `linesight samples export` folder (file,label,... per labeled sample).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseCsv } from "./csv.js";

export interface LabelledFrame {
  path: string;
  file: string;
  /** Product decision label, e.g. good | defect. */
  label: string;
  /** Finer ground truth, e.g. good | crack | chip | burn | missing_chunk; the label when none is named. */
  kind: string;
}

/** Parses labels.csv text (header first; quoted fields as RFC 4180). Pure. */
export function parseLabelsCsv(text: string, source: string): Omit<LabelledFrame, "path">[] {
  let rows: string[][];
  try {
    rows = parseCsv(text);
  } catch (err) {
    throw new Error(`${source}: ${(err as Error).message}`);
  }
  const header = (rows.shift() ?? []).map((h) => h.trim());
  const col = (name: string) => header.indexOf(name);
  // The simulator's labels.csv names the kind "defect"; an export's manifest.csv "label_kind".
  const kindCol = col("defect") >= 0 ? col("defect") : col("label_kind");
  const [fileCol, labelCol] = [col("file"), col("label")];
  if (fileCol < 0 || labelCol < 0) {
    throw new Error(`${source}: header must have "file" and "label" columns, found [${header.join(", ")}]`);
  }
  return rows.map((cells, i) => {
    const file = cells[fileCol]?.trim();
    const label = cells[labelCol]?.trim();
    if (!file || !label) throw new Error(`${source}: row ${i + 2}: missing file or label`);
    return { file, label, kind: (kindCol >= 0 ? cells[kindCol]?.trim() : undefined) || label };
  });
}

export async function readLabelledDir(dir: string): Promise<LabelledFrame[]> {
  for (const name of ["labels.csv", "manifest.csv"]) {
    const csv = join(dir, name);
    let text: string;
    try {
      text = await readFile(csv, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw err;
    }
    return parseLabelsCsv(text, csv).map((r) => ({ ...r, path: join(dir, r.file) }));
  }
  throw new Error(
    `${dir} has neither labels.csv (file,label columns) nor the manifest.csv that 'linesight samples export --out DIR' writes`,
  );
}
