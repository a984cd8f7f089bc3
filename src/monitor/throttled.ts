// The Raspberry Pi firmware's throttled flags (`vcgencmd get_throttled`, or the same number in
// sysfs on current kernels) in words. Pure.

export interface ThrottledFlags {
  /** Raw value, e.g. 0x50005. */
  raw: number;
  under_voltage: boolean;
  freq_capped: boolean;
  throttled: boolean;
  soft_temp_limit: boolean;
  /** The same four, latched since boot. */
  under_voltage_occurred: boolean;
  freq_capped_occurred: boolean;
  throttled_occurred: boolean;
  soft_temp_limit_occurred: boolean;
}

/** Parses "throttled=0x50005", "0x50005" or "50005" (sysfs prints hex without the prefix). */
export function parseThrottled(text: string): ThrottledFlags | null {
  const m = /(?:throttled=)?(?:0x)?([0-9a-f]+)\s*$/i.exec(text.trim());
  if (!m?.[1]) return null;
  const raw = Number.parseInt(m[1], 16);
  if (!Number.isFinite(raw)) return null;
  const bit = (n: number) => (raw & (1 << n)) !== 0;
  return {
    raw,
    under_voltage: bit(0),
    freq_capped: bit(1),
    throttled: bit(2),
    soft_temp_limit: bit(3),
    under_voltage_occurred: bit(16),
    freq_capped_occurred: bit(17),
    throttled_occurred: bit(18),
    soft_temp_limit_occurred: bit(19),
  };
}

/** What is wrong right now, in words an operator can act on; empty when nothing is. */
export function throttledProblems(f: ThrottledFlags): string[] {
  const out: string[] = [];
  if (f.under_voltage) out.push("under-voltage: use the official power supply and a short, thick cable");
  if (f.throttled) out.push("CPU throttled");
  if (f.freq_capped) out.push("CPU frequency capped");
  if (f.soft_temp_limit) out.push("soft temperature limit active: improve cooling");
  return out;
}
