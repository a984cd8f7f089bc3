// The model card tells what the model does on the demo footage shipped with it, from the manifest.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderModelCard } from "../../src/model/card.js";
import { defectKinds, parseManifest } from "../../src/model/manifest.js";

const shipped = JSON.parse(readFileSync(join(import.meta.dirname, "../../models/round-parts/manifest.json"), "utf8"));

function withFootage(footage: unknown) {
  const m = structuredClone(shipped);
  m.metrics.int8.footage = footage;
  return m;
}

const footage = {
  data: "footage/round-parts",
  samples: 200,
  accuracy: 0.985,
  threshold: 0.88,
  false_reject_rate: 0.0083,
  missed_defect_rate: 0.025,
  roc_auc: 0.999,
  per_defect_recall: { crack: 0.9 },
};

describe("footage metrics in the manifest and the card", () => {
  it("renders how many footage frames the model decides right", () => {
    const card = renderModelCard(parseManifest(withFootage(footage), "manifest.json"));
    expect(card).toContain("`footage/round-parts`, 200 frames");
    expect(card).toContain("decides 197 of 200 frames right (accuracy 98.50%");
    expect(card).toContain("missed defects 2.50%");
  });

  it("says nothing about footage when the manifest records none", () => {
    const m = structuredClone(shipped);
    delete m.metrics.int8.footage;
    expect(renderModelCard(parseManifest(m, "manifest.json"))).not.toContain("demo footage");
  });

  it("rejects footage metrics that do not say which frames they are from", () => {
    const { data: _data, ...anonymous } = footage;
    expect(() => parseManifest(withFootage(anonymous), "manifest.json")).toThrow(/metrics\.int8\.footage\.data/);
  });
});

describe("defect kinds in the manifest", () => {
  it("are offered when labeling, with 'other' last and once", () => {
    expect(defectKinds(parseManifest(shipped, "manifest.json"))).toEqual([
      "crack",
      "chip",
      "burn",
      "missing_chunk",
      "other",
    ]);
    expect(defectKinds({ defect_kinds: ["other", "dent"] })).toEqual(["dent", "other"]);
    // A manifest that names none still lets labelers say "other".
    expect(defectKinds({})).toEqual(["other"]);
  });

  it("must be safe names (keys, folder names, CSV cells)", () => {
    const bad = { ...structuredClone(shipped), defect_kinds: ["crack", "Chip Edge"] };
    expect(() => parseManifest(bad, "manifest.json")).toThrow(/defect_kinds\.1: lower-case letters/);
    const proto = { ...structuredClone(shipped), defect_kinds: ["__proto__"] };
    expect(() => parseManifest(proto, "manifest.json")).toThrow(/defect_kinds\.0/);
  });
});

describe("metrics on data the recipe never tuned on", () => {
  /** The shipped manifest with fresh-render metrics: 1000 frames, 500 of them defects of two kinds. */
  const withFresh = (extra: object) => {
    const m = structuredClone(shipped);
    m.metrics.int8.fresh = {
      data: "fresh renders, seed 4242",
      samples: 1000,
      accuracy: 0.98,
      threshold: 0.88,
      false_reject_rate: 0.01,
      missed_defect_rate: 0.03,
      roc_auc: 0.998,
      per_defect_recall: { chip: 0.96, crack: 0.98 },
      per_defect_samples: { chip: 250, crack: 250 },
      ...extra,
    };
    return renderModelCard(parseManifest(m, "manifest.json"));
  };

  it("show in the card with 95% intervals per defect kind", () => {
    const card = withFresh({});
    expect(card).toContain(
      "On 1000 frames rendered with a seed neither training nor the footage used (fresh renders, seed 4242)",
    );
    // 240 of 250 chips caught: Wilson 92.8%–97.8%.
    expect(card).toMatch(/\| recall: chip \| 96\.00% \(92\.8%–97\.8%, n=250\) \|/);
    // False rejects among the 500 good frames.
    expect(card).toMatch(/\| false rejects \| 1\.00% \([\d.]+%–[\d.]+%, n=500\) \|/);
  });

  it("say beside the threshold's figures what the line does, rejecting the uncertain parts", () => {
    const card = withFresh({
      on_line: {
        uncertain_band: 0.1,
        accuracy: 0.98,
        false_reject_rate: 0.03,
        missed_defect_rate: 0.01,
        per_defect_recall: { chip: 0.98, crack: 1 },
      },
    });
    expect(card).toContain("the uncertain band (±0.1) as rejected");
    expect(card).toContain("| measure | at the threshold | on the line |");
    expect(card).toMatch(/\| false rejects \| 1\.00% \([^)]*n=500\) \| 3\.00% \([^)]*n=500\) \|/);
    expect(card).toMatch(/\| recall: chip \| 96\.00% \([^)]*\) \| 98\.00% \([^)]*n=250\) \|/);
  });
});

describe("device samples in a retrained model's card", () => {
  const counts = (good: number, crack: number) => ({
    samples: good + crack,
    by_label: { good, defect: crack },
    by_kind: { good, crack },
  });
  const deviceData = {
    exports: ["line7.tar", "line8"],
    devices: { "line7-cam1": 150, "line8-cam1": 50 },
    decided_by: ["round-parts@1.0.0"],
    captured: { from: "2026-11-20T06:00:00Z", to: "2026-11-24T22:00:00Z" },
    image_sizes: ["320x240"],
    train: counts(90, 30),
    calibration: counts(20, 8),
    held_out: counts(40, 12),
    skipped: 1,
  };

  it("says which exports and devices, when, and how many of each kind went where", () => {
    const m = structuredClone(shipped);
    m.training.device_data = deviceData;
    const card = renderModelCard(parseManifest(m, "manifest.json"));
    expect(card).toContain("### Device samples");
    expect(card).toContain("| exports | line7.tar, line8 |");
    expect(card).toContain("| devices (samples) | line7-cam1 (150), line8-cam1 (50) |");
    expect(card).toContain("| captured | 2026-11-20T06:00:00Z to 2026-11-24T22:00:00Z |");
    expect(card).toContain("| kind | trained on | set the threshold | held out (metrics below) |");
    expect(card).toContain("| crack | 30 | 8 | 12 |");
    expect(card).toContain("| **all** | 120 | 28 | 52 |");
  });

  it("renders an older record (calibration as a count, no devices) and nothing for the shipped model", () => {
    const m = structuredClone(shipped);
    const { devices: _devices, ...older } = deviceData;
    m.training.device_data = { ...older, calibration: 28 };
    const card = renderModelCard(parseManifest(m, "manifest.json"));
    expect(card).toContain("| devices (samples) | not recorded |");
    expect(card).toContain("| crack | 30 |  | 12 |");
    expect(card).toContain("| **all** | 120 | 28 | 52 |");
    expect(renderModelCard(parseManifest(shipped, "manifest.json"))).not.toContain("Device samples");
  });
});
