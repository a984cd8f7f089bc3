// Prints one plain closing line ("Tests: N passed, N failed, N skipped") that CI tools can read,
// names every skipped test the allow-list (skip-policy.ts) does not expect, and writes the same
// as JSON to build/test-artifacts/test-summary.json for .ci/run to check.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import type { Reporter, TestModule } from "vitest/node";
import { type SkippedTest, unexpectedSkips } from "./skip-policy.js";

const ROOT = resolve(import.meta.dirname, "..");
/** $LINESIGHT_TEST_SUMMARY moves it (the reporter's own test runs a second vitest). */
const SUMMARY_PATH = process.env.LINESIGHT_TEST_SUMMARY ?? join(ROOT, "build/test-artifacts/test-summary.json");

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    const skipped: SkippedTest[] = [];
    for (const m of modules) {
      const file = relative(ROOT, m.moduleId).split(sep).join("/");
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
        else skipped.push({ file, test: t.fullName });
      }
    }
    const unexpected = unexpectedSkips(skipped);
    process.stdout.write(`\nTests: ${passed} passed, ${failed} failed, ${skipped.length} skipped\n`);
    if (unexpected.length > 0) {
      process.stdout.write(`Unexpected skips: ${unexpected.length} (allowed ones are listed in test/skip-policy.ts)\n`);
      for (const s of unexpected) process.stdout.write(`  ${s.file} > ${s.test}\n`);
    }
    mkdirSync(dirname(SUMMARY_PATH), { recursive: true });
    writeFileSync(
      SUMMARY_PATH,
      `${JSON.stringify({ passed, failed, skipped: skipped.length, skippedTests: skipped, unexpectedSkips: unexpected }, null, 2)}\n`,
    );
  }
}
