import { describe, expect, it } from "vitest";
import { compareVersions, downgradeRefusal, parseVersion } from "../../src/model/version.js";

describe("model versions", () => {
  it("orders as semver does, build metadata ignored", () => {
    const ordered = [
      "0.9.9",
      "1.0.0-alpha",
      "1.0.0-alpha.1",
      "1.0.0-alpha.beta",
      "1.0.0-beta.2",
      "1.0.0-beta.11",
      "1.0.0-rc.1",
      "1.0.0",
      "1.0.1",
      "1.2.0",
      "1.10.0",
      "2.0.0",
    ];
    for (let i = 0; i + 1 < ordered.length; i++) {
      expect(compareVersions(ordered[i] as string, ordered[i + 1] as string)).toBeLessThan(0);
      expect(compareVersions(ordered[i + 1] as string, ordered[i] as string)).toBeGreaterThan(0);
    }
    expect(compareVersions("1.2.3+build.7", "1.2.3")).toBe(0);
  });

  it("refuses what is not MAJOR.MINOR.PATCH with a clear message", () => {
    for (const bad of ["1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0/../x", ""])
      expect(() => parseVersion(bad)).toThrow(/is not MAJOR.MINOR.PATCH/);
  });

  it("refuses an older bundle than the active model unless a downgrade is asked for", () => {
    expect(downgradeRefusal("1.0.0", "1.1.0", false)).toMatch(/1\.0\.0 is older than the active model's 1\.1\.0/);
    expect(downgradeRefusal("1.0.0", "1.1.0", true)).toBeNull();
    expect(downgradeRefusal("1.1.0", "1.1.0", false)).toBeNull();
    expect(downgradeRefusal("1.2.0-rc.1", "1.1.0", false)).toBeNull();
    expect(downgradeRefusal("1.0.0", null, false)).toBeNull();
  });
});
