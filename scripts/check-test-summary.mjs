#!/usr/bin/env node
// CI gate after `npm test`: fails when the run skipped a test that test/skip-policy.ts does not
// allow (e.g. a real component missing and a test skipping instead of failing, or a stray .only).
import { readFileSync } from "node:fs";
import { join } from "node:path";

const path = process.argv[2] ?? join(import.meta.dirname, "..", "build/test-artifacts/test-summary.json");
let summary;
try {
  summary = JSON.parse(readFileSync(path, "utf8"));
} catch (err) {
  console.error(`check-test-summary: cannot read ${path} (${err.message}); did the test run finish?`);
  process.exit(1);
}
const { passed, failed, skipped, unexpectedSkips } = summary;
console.log(`check-test-summary: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (!Array.isArray(unexpectedSkips)) {
  console.error("check-test-summary: the summary has no unexpectedSkips list");
  process.exit(1);
}
if (failed > 0 || passed === 0 || unexpectedSkips.length > 0) {
  for (const s of unexpectedSkips) console.error(`  unexpected skip: ${s.file} > ${s.test}`);
  console.error("check-test-summary: failed (a skip needs an entry with its reason in test/skip-policy.ts)");
  process.exit(1);
}
