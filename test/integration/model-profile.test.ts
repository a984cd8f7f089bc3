// `linesight model profile --reference`: a retrained model's drift reference comes from the new
// line's frames while its test metrics still come from --data (what the recipe's --from-export
// build runs).
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, cleanup, FOOTAGE, MODEL, tempDir } from "../helpers/daemon.js";

const dir = tempDir("linesight-profile-");
afterAll(() => cleanup(dir));

/** A labelled folder of some of the footage's frames: `good` good ones and `defects` defective ones. */
function newLine(name: string, good: number, defects: number): string {
  const out = join(dir, name);
  mkdirSync(out);
  const [header, ...rows] = readFileSync(join(FOOTAGE, "labels.csv"), "utf8").trim().split("\n");
  const kept = [
    ...rows.filter((r) => r.split(",")[1] === "good").slice(0, good),
    ...rows.filter((r) => r.split(",")[1] === "defect").slice(0, defects),
  ];
  for (const r of kept) copyFileSync(join(FOOTAGE, r.split(",")[0] as string), join(out, r.split(",")[0] as string));
  writeFileSync(join(out, "labels.csv"), `${[header, ...kept].join("\n")}\n`);
  return out;
}

describe("model profile --reference", () => {
  it("takes the reference statistics from the given frames and the metrics from --data", () => {
    const model = join(dir, "model");
    cpSync(MODEL, model, { recursive: true });
    const before = JSON.parse(readFileSync(join(model, "manifest.json"), "utf8"));
    const line = newLine("new-line", 30, 20);
    execFileSync(process.execPath, [CLI, "model", "profile", model, "--data", FOOTAGE, "--reference", line], {
      encoding: "utf8",
    });
    const after = JSON.parse(readFileSync(join(model, "manifest.json"), "utf8"));
    expect(after.reference).toMatchObject({ data: "new-line", samples: 50, class_samples: { good: 30, defect: 20 } });
    expect(after.operating_points.length).toBeGreaterThan(0);
    expect(after.decision.threshold).toBe(before.decision.threshold);
    // Without --reference the reference is --data's again.
    execFileSync(process.execPath, [CLI, "model", "profile", model, "--data", FOOTAGE], { encoding: "utf8" });
    const again = JSON.parse(readFileSync(join(model, "manifest.json"), "utf8"));
    expect(again.reference).toMatchObject({ data: "round-parts", samples: 200 });
  }, 120_000);

  it("refuses reference frames of one class only, saying why", () => {
    const model = join(dir, "model-2");
    cpSync(MODEL, model, { recursive: true });
    const r = spawnSync(
      process.execPath,
      [CLI, "model", "profile", model, "--data", FOOTAGE, "--reference", newLine("good-only", 40, 0)],
      { encoding: "utf8" },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /40 good and 0 defect frames; the reference statistics need labelled frames of both classes/,
    );
    expect(readFileSync(join(model, "manifest.json"), "utf8")).toBe(readFileSync(join(MODEL, "manifest.json"), "utf8"));
  }, 120_000);
});
