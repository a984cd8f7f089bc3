// The text of `linesight check`'s GPIO listing (pure).
import type { GpioChip, GpioLineInfo } from "./gpio-chardev.js";
import type { WantedLine } from "./gpio-lines.js";

export interface LineListing {
  chip: GpioChip;
  lines: { wanted: WantedLine; info: GpioLineInfo | null }[];
}

/** One line per configured line under the chip's; ok is false if any cannot be requested now. */
export function formatLineListing(l: LineListing): { text: string; ok: boolean } {
  let ok = true;
  const rows = l.lines.map(({ wanted: w, info }) => {
    const dir = w.output ? `output${w.activeLow ? " (active low)" : ""}` : `input, ${w.edge ?? "rising"} edge`;
    if (!info) {
      ok = false;
      return `${w.fn}: ${w.key} ${JSON.stringify(w.spec)}: no such line on this chip (\`gpioinfo\` lists them)`;
    }
    const name = info.name ? `${info.name} (offset ${info.offset})` : `offset ${info.offset}`;
    let state = "free, can be requested";
    if (info.used) {
      ok = false;
      state = `in use by ${info.consumer ? `"${info.consumer}"` : "an unnamed consumer"}: cannot be requested`;
    }
    return `${w.fn}: ${name}, ${dir}: ${state}`;
  });
  if (rows.length === 0) rows.push("no line configured");
  const head = `chip "${l.chip.label}" -> ${l.chip.path} (${l.chip.lines} lines)`;
  return { text: [head, ...rows].join("\n    "), ok };
}
