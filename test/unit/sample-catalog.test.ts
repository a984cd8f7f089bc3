// Filters, labels, undo, audit counts and the export, on a real SQLite file made by the store.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SampleCatalog } from "../../src/store/sample-catalog.js";
import { csvLine, exportSamples, safeName } from "../../src/store/sample-export.js";
import { FilterError, NO_FILTER, parseFilter } from "../../src/store/sample-filter.js";
import { SampleStore } from "../../src/store/sample-store.js";
import { makeSample } from "../fixtures/store-samples.js";

let dir: string;
let catalog: SampleCatalog;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "linesight-catalog-"));
  const store = SampleStore.open(join(dir, "s.db"));
  // seq 0..29: reasons cycle reject, uncertain, audit; even seq rejected.
  store.insertBatch(Array.from({ length: 30 }, (_, i) => makeSample(i)));
  store.close();
  catalog = SampleCatalog.open(join(dir, "s.db"));
});
afterEach(() => {
  catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

const filter = (q: Record<string, string>) => parseFilter((k) => q[k]);

describe("opening", () => {
  it("names a missing database and the fix", () => {
    expect(() => SampleCatalog.open(join(dir, "nope.db"))).toThrow(
      /no sample database at .*nope\.db: the daemon creates it/,
    );
  });
});

describe("filters", () => {
  it("select by reason, decision and labeled state, newest first, paged by id", () => {
    const audits = catalog.list(filter({ reason: "audit" }), 100);
    expect(audits).toHaveLength(10);
    expect(audits.every((s) => s.reason === "audit")).toBe(true);
    expect(audits.map((s) => s.id)).toEqual([...audits.map((s) => s.id)].sort((a, b) => b - a));
    expect(catalog.count(filter({ reason: "reject,audit", decision: "reject" }))).toBe(10);
    const first = catalog.list(NO_FILTER, 7);
    const next = catalog.list(NO_FILTER, 7, first[6]?.id ?? null);
    expect(next[0]?.id).toBe((first[6]?.id as number) - 1);
    catalog.addLabels([first[0]?.id as number], "good", "ann");
    expect(catalog.count(filter({ labeled: "no" }))).toBe(29);
    expect(catalog.count(filter({ label: "good" }))).toBe(1);
  });

  it("select by capture time; a bare `to` date takes the whole day", () => {
    const day = new Date(1_700_000_000_000);
    const ymd = `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, "0")}-${String(day.getDate()).padStart(2, "0")}`;
    expect(catalog.count(filter({ from: ymd, to: ymd }))).toBe(30);
    expect(catalog.count(filter({ from: new Date(1_700_000_000_000 + 15 * 33).toISOString() }))).toBe(15);
  });

  it("name the key and the fix for bad values", () => {
    expect(() => filter({ reason: "rejects" })).toThrow(FilterError);
    expect(() => filter({ reason: "rejects" })).toThrow(/reason: unknown reason "rejects"/);
    expect(() => filter({ decision: "maybe" })).toThrow(/decision: expected pass, reject/);
    expect(() => filter({ from: "yesterday" })).toThrow(/from: expected a date/);
  });
});

describe("labels", () => {
  it("the newest label wins; undo falls back to the previous one", () => {
    const [id] = catalog.list(NO_FILTER, 1).map((s) => s.id) as [number];
    catalog.addLabels([id], "good", "ann", 1000);
    const [second] = catalog.addLabels([id], "defect", "bob", 2000);
    expect(catalog.list(NO_FILTER, 1)[0]).toMatchObject({ label: "defect", labeled_by: "bob", labeled_at: 2000 });
    catalog.removeLabels([second as number]);
    expect(catalog.list(NO_FILTER, 1)[0]).toMatchObject({ label: "good", labeled_by: "ann" });
  });

  it("refuses a batch with a missing sample as a whole", () => {
    expect(() => catalog.addLabels([1, 999], "good", "ann")).toThrow(/no sample with id 999/);
    expect(catalog.count(filter({ labeled: "yes" }))).toBe(0);
  });

  it("counts audit samples against people's labels", () => {
    const audits = catalog.list(filter({ reason: "audit" }), 100);
    // Label each audit "defect": rejected ones are caught, passed ones missed.
    catalog.addLabels(
      audits.map((s) => s.id),
      "defect",
      "ann",
    );
    const rejected = audits.filter((s) => s.action === "reject").length;
    expect(catalog.auditCounts("good")).toEqual({
      truePositive: rejected,
      falseNegative: audits.length - rejected,
      falsePositive: 0,
      trueNegative: 0,
      byKind: {},
    });
  });

  it("stores the defect kind with a label, lists it, and counts audit recall per kind", () => {
    const audits = catalog.list(filter({ reason: "audit" }), 100);
    const [first, ...rest] = audits.map((s) => s.id);
    catalog.addLabels([first as number], "defect", "ann", Date.now(), "chip");
    catalog.addLabels(rest, "good", "ann");
    const listed = catalog.list(filter({ reason: "audit", labeled: "yes" }), 100);
    expect(listed.find((s) => s.id === first)).toMatchObject({ label: "defect", label_kind: "chip" });
    expect(listed.filter((s) => s.label_kind !== null)).toHaveLength(1);
    const rejected = audits.find((s) => s.id === first)?.action === "reject";
    expect(catalog.auditCounts("good").byKind).toEqual({
      chip: { caught: rejected ? 1 : 0, missed: rejected ? 0 : 1 },
    });
  });
});

describe("export", () => {
  it("writes exactly the labeled samples: a folder per label, manifests, Label Studio; marks them", async () => {
    const ids = catalog.list(NO_FILTER, 30).map((s) => s.id);
    catalog.addLabels(ids.slice(0, 4), "good", "ann");
    catalog.addLabels(ids.slice(4, 6), "defect/crack", "ann", Date.now(), "crack");
    const out = join(dir, "out");
    const r = await exportSamples(catalog, NO_FILTER, { format: "folders", out, device: "line7-cam1" });
    expect(r).toEqual({
      exported: 6,
      byLabel: { good: 4, "defect/crack": 2 },
      ids: [...ids.slice(0, 6)].sort((a, b) => a - b),
    });
    expect(readdirSync(join(out, "good"))).toHaveLength(4);
    expect(readdirSync(join(out, safeName("defect/crack")))).toHaveLength(2);
    const jsonl = readFileSync(join(out, "manifest.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(jsonl.map((s) => s.id).sort()).toEqual(ids.slice(0, 6).sort());
    expect(jsonl[0]).toMatchObject({
      labeled_by: "ann",
      model_name: "round-parts",
      features: { brightness: 120.5 },
      device_id: "line7-cam1",
    });
    expect(readFileSync(join(out, "manifest.csv"), "utf8").trim().split("\n")).toHaveLength(7);
    const ls = JSON.parse(readFileSync(join(out, "label-studio.json"), "utf8"));
    expect(ls).toHaveLength(6);
    expect(ls[0].annotations[0].result[0].value.choices).toHaveLength(1);
    // The defect kind travels with the label: a CSV column, a JSONL field, a Label Studio choice.
    const csv = readFileSync(join(out, "manifest.csv"), "utf8").trim().split("\n");
    const kindColumn = csv[0]?.split(",").indexOf("label_kind") as number;
    expect(kindColumn).toBeGreaterThan(0);
    expect(csv.slice(1).filter((l) => l.split(",")[kindColumn] === "crack")).toHaveLength(2);
    expect(jsonl.filter((s) => s.label_kind === "crack")).toHaveLength(2);
    const kinds = ls.flatMap(
      (t: { annotations: { result: { from_name: string; value: { choices: string[] } }[] }[] }) =>
        t.annotations[0]?.result.filter((r) => r.from_name === "kind").map((r) => r.value.choices[0]),
    );
    expect(kinds).toEqual(["crack", "crack"]);
    expect(catalog.count(filter({ not_exported: "yes", labeled: "yes" }))).toBe(0);
    // Exported images are the stored bytes.
    const one = jsonl[0];
    expect(readFileSync(join(out, one.file)).equals(catalog.image(one.id) as Buffer)).toBe(true);
  });

  it("streams the same layout as a tar that tar reads", async () => {
    const ids = catalog.list(NO_FILTER, 3).map((s) => s.id);
    catalog.addLabels(ids, "good", "ann");
    const tarPath = join(dir, "x.tar");
    await exportSamples(catalog, NO_FILTER, { format: "tar", out: tarPath });
    const names = execFileSync("tar", ["-tf", tarPath], { encoding: "utf8" }).trim().split("\n").sort();
    expect(names).toEqual(
      [...ids.map((i) => `good/${i}.jpg`), "label-studio.json", "manifest.csv", "manifest.jsonl"].sort(),
    );
    const x = join(dir, "x");
    execFileSync("mkdir", ["-p", x]);
    execFileSync("tar", ["-xf", tarPath, "-C", x]);
    expect(readFileSync(join(x, `good/${ids[0]}.jpg`)).equals(catalog.image(ids[0] as number) as Buffer)).toBe(true);
  });

  it("quotes CSV fields that need it", () => {
    expect(csvLine(["a,b", 'say "hi"', null, 3])).toBe('"a,b","say ""hi""",,3\n');
  });
});
