// A directory of labelled frames: images plus a labels.csv sidecar (file,label,defect,...).
import { readFile } from "node:fs/promises";
import { join } from "node:path";

export interface LabelledFrame {
  path: string;
  file: string;
  /** Product decision label, e.g. good | defect. */
  label: string;
  /** Finer ground truth, e.g. good | crack | chip | burn | missing_chunk. */
  kind: string;
}

/** Parses labels.csv text (plain comma-separated, header first, no quoted fields). Pure. */
export function parseLabelsCsv(text: string, source: string): Omit<LabelledFrame, "path">[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = (lines.shift() ?? "").split(",").map((h) => h.trim());
  const col = (name: string) => header.indexOf(name);
  const [fileCol, labelCol, kindCol] = [col("file"), col("label"), col("defect")];
  if (fileCol < 0 || labelCol < 0) {
    throw new Error(`${source}: header must have "file" and "label" columns, found [${header.join(", ")}]`);
  }
  return lines.map((line, i) => {
    const cells = line.split(",");
    const file = cells[fileCol]?.trim();
    const label = cells[labelCol]?.trim();
    if (!file || !label) throw new Error(`${source}:${i + 2}: missing file or label`);
    return { file, label, kind: (kindCol >= 0 ? cells[kindCol]?.trim() : undefined) || label };
  });
}

export async function readLabelledDir(dir: string): Promise<LabelledFrame[]> {
  const csv = join(dir, "labels.csv");
  const rows = parseLabelsCsv(await readFile(csv, "utf8"), csv);
  return rows.map((r) => ({ ...r, path: join(dir, r.file) }));
}
