// Retraining reads what devices export: a sample database labeled with defect kinds, exported by
// the real `linesight samples export`, checked by the recipe's reader (models/recipe/device_data.py,
// what `npm run model:build -- --from-export` runs first), and each bad export refused with why.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SampleStore } from "../../src/store/sample-store.js";
import { makeSample } from "../fixtures/store-samples.js";
import { FOOTAGE, ROOT } from "../helpers/daemon.js";

const PYTHON = "/usr/bin/python3";
const READER = join(ROOT, "models/recipe/device_data.py");
let dir: string;

/** The footage's frames as device samples, labeled by their truth (a kind on every other defect). */
function deviceDb(name: string, frames: { file: string; label: string; kind: string }[], labelOf = (l: string) => l) {
  const path = join(dir, `${name}.db`);
  const store = SampleStore.open(path);
  store.insertBatch(
    frames.map((f, i) =>
      makeSample(i + 1, {
        image: readFileSync(join(FOOTAGE, f.file)),
        width: 320,
        height: 240,
        model: { name: "round-parts", version: "1.0.0", sha256: "ab".repeat(32) },
      }),
    ),
  );
  const ids = (store.db.prepare("SELECT id FROM samples ORDER BY seq").all() as { id: number }[]).map((r) => r.id);
  frames.forEach((f, i) => {
    const kind = f.label === "defect" && i % 2 === 0 ? f.kind : null;
    store.addLabel(ids[i] as number, labelOf(f.label), "ann", Date.now(), kind);
  });
  store.close();
  return path;
}

function exportDb(db: string, out: string, format = "folders", device?: string): void {
  const args = [join(ROOT, "dist/src/cli/main.js"), "samples", "export", "--db", db, "--out", out, "--format", format];
  const r = spawnSync("node", device ? [...args, "--device", device] : args, { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
}

function check(...exports: string[]) {
  const r = spawnSync(PYTHON, [READER, ...exports], { encoding: "utf8" });
  return { status: r.status, out: r.status === 0 ? JSON.parse(r.stdout) : null, error: r.stderr.trim() };
}

let footage: { file: string; label: string; kind: string }[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "linesight-retrain-"));
  const [header, ...lines] = readFileSync(join(FOOTAGE, "labels.csv"), "utf8").trim().split("\n");
  const cols = (header as string).split(",");
  footage = lines.map((l) => {
    const c = l.split(",");
    return {
      file: c[cols.indexOf("file")] as string,
      label: c[cols.indexOf("label")] as string,
      kind: c[cols.indexOf("defect")] as string,
    };
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("device exports for retraining", () => {
  it("reads a folder and a tar export from a device: labels, kinds, a stratified held-out share", () => {
    const db = deviceDb("line7", footage.slice(0, 120));
    exportDb(db, join(dir, "line7"));
    exportDb(db, join(dir, "line7.tar"), "tar");
    const r = check(join(dir, "line7"), join(dir, "line7.tar"));
    expect(r.error).toBe("");
    const truth = footage.slice(0, 120);
    // The same frames in both exports count once.
    expect(r.out.train.samples + r.out.held_out.samples).toBe(truth.length);
    const defects = truth.filter((f) => f.label === "defect").length;
    expect(r.out.train.by_label.defect + r.out.held_out.by_label.defect).toBe(defects);
    // Kinds named by the labeler travel through the export; unnamed defects stay "defect".
    const named = truth.filter((f, i) => f.label === "defect" && i % 2 === 0);
    const kinds = { ...r.out.train.by_kind };
    for (const [k, n] of Object.entries(r.out.held_out.by_kind as Record<string, number>))
      kinds[k] = (kinds[k] ?? 0) + n;
    for (const kind of new Set(named.map((f) => f.kind)))
      expect(kinds[kind]).toBe(named.filter((f) => f.kind === kind).length);
    expect(r.out.held_out.samples / truth.length).toBeCloseTo(0.3, 1);
    expect(r.out.decided_by).toEqual(["round-parts@1.0.0"]);
    expect(r.out.image_sizes).toEqual(["320x240"]);
    expect(r.out.devices).toEqual({ "(not named in the export)": truth.length });
  });

  it("tells several devices' exports apart by the device each names", () => {
    exportDb(deviceDb("cam1", footage.slice(0, 60)), join(dir, "cam1.tar"), "tar", "line7-cam1");
    exportDb(deviceDb("cam2", footage.slice(60, 140)), join(dir, "cam2"), "folders", "line7-cam2");
    const r = check(join(dir, "cam1.tar"), join(dir, "cam2"));
    expect(r.error).toBe("");
    expect(r.out.devices).toEqual({ "line7-cam1": 60, "line7-cam2": 80 });
    expect(r.out.exports).toEqual(["cam1.tar", "cam2"]);
  });

  it("skips a corrupt image, naming it, and trains on the rest", () => {
    const out = join(dir, "corrupt");
    exportDb(deviceDb("corrupt", footage.slice(0, 60)), out);
    const good = join(out, "good");
    const victim = join(good, readdirSync(good)[0] as string);
    writeFileSync(victim, readFileSync(victim).subarray(0, 200)); // truncated mid-scan
    const r = check(out);
    expect(r.status).toBe(0);
    expect(r.out.skipped_files).toEqual([expect.stringContaining(victim)]);
    expect(r.out.train.samples + r.out.held_out.samples).toBe(59);
  });

  it("refuses what cannot be trained on, saying why and what to do", () => {
    const goods = footage.filter((f) => f.label === "good");
    const defects = footage.filter((f) => f.label === "defect");
    const exported = (name: string, frames: typeof footage, labelOf?: (l: string) => string) => {
      const out = join(dir, name);
      exportDb(deviceDb(name, frames, labelOf), out);
      return out;
    };
    expect(check(exported("one-class", goods.slice(0, 30))).error).toMatch(
      /only one class \(30 good\).*label at least 10 defect/,
    );
    expect(check(exported("few", [...goods.slice(0, 30), ...defects.slice(0, 4)])).error).toMatch(
      /too few labeled samples to hold any out for evaluation: 4 defect; need at least 10 of each class/,
    );
    expect(
      check(exported("unknown-label", footage.slice(0, 40), (l) => (l === "defect" ? "scratch" : l))).error,
    ).toMatch(/labeled 'scratch', which round-parts does not know \(labels: good, defect\)/);

    // No labels at all: nothing to export, and a hand-made empty export is refused too.
    const empty = join(dir, "empty");
    mkdirSync(empty);
    writeFileSync(join(empty, "manifest.csv"), "id,file,label\n");
    expect(check(empty).error).toMatch(/no labeled samples: label some on the device's labeling page/);
    // Another model's samples (its input spec may differ).
    const other = exported("other-model", footage.slice(0, 40));
    const manifest = join(other, "manifest.csv");
    writeFileSync(manifest, readFileSync(manifest, "utf8").replaceAll("round-parts", "bottle-caps"));
    expect(check(other).error).toMatch(/decided by model 'bottle-caps', not 'round-parts'/);
    // A manifest without its images, and something that is not an export.
    exportDb(deviceDb("csv-only", footage.slice(0, 40)), join(dir, "only.csv"), "csv");
    expect(check(join(dir, "only.csv")).error).toMatch(/manifest without its images/);
    expect(check(FOOTAGE).error).toMatch(/not a linesight export: it has no manifest.csv/);
  });
});
