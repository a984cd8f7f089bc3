// Tests that can pass without testing: a missing real component must fail the run, and CI must
// fail on any skip that test/skip-policy.ts does not list (issue 14, item 10).
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { mosquittoBinary, requireMosquitto } from "../helpers/mosquitto.js";
import { ALLOWED_SKIPS, unexpectedSkips } from "../skip-policy.js";

const ROOT = resolve(import.meta.dirname, "../..");

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === "fixtures" ? [] : testFiles(p);
    return e.name.endsWith(".test.ts") ? [p] : [];
  });
}

describe("finding Mosquitto", () => {
  it("looks on PATH as the test setup does, not only in /usr/sbin", () => {
    const dir = mkdtempSync(join(tmpdir(), "linesight-path-"));
    const bin = join(dir, "mosquitto");
    writeFileSync(bin, "#!/bin/sh\n");
    chmodSync(bin, 0o755);
    expect(mosquittoBinary({ PATH: dir }, [])).toBe(bin);
    expect(mosquittoBinary({ PATH: `/nonexistent:${dir}` }, ["/nonexistent-sbin"])).toBe(bin);
  });

  it("honours $MOSQUITTO_BIN", () => {
    const dir = mkdtempSync(join(tmpdir(), "linesight-bin-"));
    const bin = join(dir, "my-broker");
    writeFileSync(bin, "#!/bin/sh\n");
    chmodSync(bin, 0o755);
    expect(mosquittoBinary({ MOSQUITTO_BIN: bin, PATH: "" }, [])).toBe(bin);
  });

  it("a missing broker is an error that says how to install it, not a skip", () => {
    expect(mosquittoBinary({ PATH: "/nonexistent" }, [])).toBeNull();
    expect(() => requireMosquitto({ PATH: "/nonexistent" }, [])).toThrow(/apt-get install -y mosquitto/);
  });
});

describe("skips", () => {
  it("no test file skips on a condition except the allow-listed ones", () => {
    const allowedFiles = new Set(ALLOWED_SKIPS.map((a) => a.file));
    const offenders: string[] = [];
    for (const f of testFiles(join(ROOT, "test"))) {
      const rel = relative(ROOT, f).split("\\").join("/");
      if (rel === "test/unit/test-honesty.test.ts") continue;
      const text = readFileSync(f, "utf8");
      const skips = text.match(/\.(skipIf|runIf|skip|todo)\(|\bctx\.skip\(|\bcontext\.skip\(/g) ?? [];
      if (skips.length > 0 && !allowedFiles.has(rel)) offenders.push(`${rel}: ${skips.join(", ")}`);
    }
    expect(offenders).toEqual([]);
  });

  it("only allow-listed skips are expected", () => {
    const allowed = ALLOWED_SKIPS[0];
    expect(allowed).toBeDefined();
    if (!allowed) return;
    const other = { file: "test/integration/mqtt-security.test.ts", test: "MQTT security > TLS" };
    expect(unexpectedSkips([{ file: allowed.file, test: allowed.test }, other])).toEqual([other]);
    expect(unexpectedSkips([{ file: allowed.file, test: "another test in the same file" }])).toHaveLength(1);
  });

  it("a run with an unexpected skip writes it into the summary and fails the CI check", () => {
    const out = join(mkdtempSync(join(tmpdir(), "linesight-summary-")), "summary.json");
    const vitest = join(ROOT, "node_modules/vitest/vitest.mjs");
    const run = spawnSync(
      process.execPath,
      [vitest, "run", "--config", join(ROOT, "test/fixtures/skips/vitest.config.ts")],
      { cwd: ROOT, env: { ...process.env, LINESIGHT_TEST_SUMMARY: out }, encoding: "utf8" },
    );
    expect(run.status, run.stderr).toBe(0); // vitest itself is green: that is the problem
    expect(run.stdout).toContain("Tests: 1 passed, 0 failed, 1 skipped");
    expect(run.stdout).toContain("Unexpected skips: 1");
    const summary = JSON.parse(readFileSync(out, "utf8"));
    expect(summary.unexpectedSkips).toEqual([
      { file: "test/fixtures/skips/sample.check.ts", test: "fixture > skips as a missing component once did" },
    ]);
    const check = spawnSync(process.execPath, [join(ROOT, "scripts/check-test-summary.mjs"), out], {
      encoding: "utf8",
    });
    expect(check.status).toBe(1);
    expect(check.stderr).toContain("unexpected skip: test/fixtures/skips/sample.check.ts");

    writeFileSync(out, JSON.stringify({ ...summary, skipped: 0, skippedTests: [], unexpectedSkips: [] }));
    expect(
      execFileSync(process.execPath, [join(ROOT, "scripts/check-test-summary.mjs"), out], { encoding: "utf8" }),
    ).toContain("1 passed");
  });
});
