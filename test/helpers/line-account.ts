// The simulated line's account of every part (health `line.simulation`), and what a run that went
// right looks like: shared by the daemon's line tests on the host and in the gpio-sim VM.
import { expect } from "vitest";
import type { HealthPayload } from "../../src/mqtt/payloads.js";

export type Account = NonNullable<NonNullable<HealthPayload["line"]>["simulation"]>;

/**
 * Every part one fate, ejected = model rejects + fail-safe rejects, and the ejector fired for each
 * ejected part and for no other.
 */
export function expectAccounted(a: Account, parts: number): void {
  expect(a).toMatchObject({
    parts,
    closed: parts,
    unaccounted: 0,
    duplicate_fates: 0,
    unknown_fates: 0,
    ejected_without_pulse: 0,
    passed_with_pulse: 0,
    pulses_without_part: 0,
    ok: true,
  });
  expect(a.ejected + a.passed).toBe(parts);
  expect(a.ejected).toBe(a.model_rejects + a.fail_safe_rejects);
  expect(a.pulses).toBe(a.ejected);
}
