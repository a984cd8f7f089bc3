// Which GPIO lines the `line:` section asks for, and how they resolve on a chip (pure: the
// backend and `linesight check` feed it the chip's line info).
import type { LineConfig } from "../config/schema.js";
import { LineSetupError } from "./backend.js";
import type { GpioLineInfo } from "./gpio-chardev.js";

export type LineFunction = "trigger" | "reject" | "ready" | "heartbeat";

/** A configured line, as the output worker receives it (structured-clone safe). */
export interface WantedLine {
  fn: LineFunction;
  /** The config key that names it, for messages. */
  key: string;
  /** A line name as the chip reports it, or an offset. */
  spec: string | number;
  output: boolean;
  /** Outputs: active when the line is low (the request starts at the inactive level). */
  activeLow: boolean;
  /** Input only. */
  edge?: "rising" | "falling";
  bias?: "as_is" | "pull_up" | "pull_down" | "disabled";
}

export interface GpioSetup {
  /** `line.gpio_chip`: label or /dev path. */
  chip: string;
  /** The consumer name the kernel shows for the lines (gpioinfo, and our busy message). */
  consumer: string;
  lines: WantedLine[];
}

export const GPIO_CONSUMER = "linesight";

/** The lines `c` needs; an unwired output (line: null) is left out. */
export function wantedLines(c: LineConfig): WantedLine[] {
  const out: WantedLine[] = [];
  if (c.trigger.source === "gpio" && c.trigger.line !== null)
    out.push({
      fn: "trigger",
      key: "line.trigger.line",
      spec: c.trigger.line,
      output: false,
      activeLow: false,
      // Only the edge that makes a part. Debounce stays in the part tracker, on the kernel's
      // exact timestamps: the kernel's (software) debounce stamps an edge when it settles.
      edge: c.trigger.edge,
      bias: c.trigger.bias,
    });
  for (const fn of ["reject", "ready", "heartbeat"] as const) {
    const o = c[fn];
    if (o.line !== null) out.push({ fn, key: `line.${fn}.line`, spec: o.line, output: true, activeLow: o.active_low });
  }
  return out;
}

export function gpioSetup(c: LineConfig): GpioSetup {
  if (c.gpio_chip === null)
    throw new LineSetupError(
      "line.gpio_chip: the GPIO chip's label is needed (e.g. pinctrl-rp1; `gpiodetect` lists them)",
    );
  return { chip: c.gpio_chip, consumer: GPIO_CONSUMER, lines: wantedLines(c) };
}

export interface ResolvedLine extends WantedLine {
  offset: number;
  info: GpioLineInfo;
}

/** Each wanted line's offset on the chip; a LineSetupError naming the key when one is not there. */
export function resolveLines(
  wanted: readonly WantedLine[],
  infos: readonly GpioLineInfo[],
  chip: string,
): ResolvedLine[] {
  return wanted.map((w) => {
    const info = findLineInfo(infos, w.spec);
    if (!info) {
      const named = infos.filter((i) => i.name).map((i) => i.name);
      const hint =
        typeof w.spec === "number"
          ? `${chip} has ${infos.length} lines (offsets 0-${infos.length - 1})`
          : named.length > 0
            ? `${chip}'s lines are named ${named.slice(0, 12).join(", ")}${named.length > 12 ? ", ..." : ""}`
            : `${chip}'s lines have no names: use the offset`;
      throw new LineSetupError(`${w.key}: no line ${JSON.stringify(w.spec)} on ${hint} (\`gpioinfo\` lists them)`);
    }
    return { ...w, offset: info.offset, info };
  });
}

/** A line by offset, or by name (exact, else ignoring case). */
export function findLineInfo(infos: readonly GpioLineInfo[], spec: string | number): GpioLineInfo | null {
  if (typeof spec === "number") return infos.find((i) => i.offset === spec) ?? null;
  const lower = spec.toLowerCase();
  return infos.find((i) => i.name === spec) ?? infos.find((i) => i.name.toLowerCase() === lower) ?? null;
}

/** "line.reject.line GPIO27 (offset 27)" */
export function describeLine(l: ResolvedLine): string {
  return `${l.key} ${l.info.name || `offset ${l.offset}`}${l.info.name ? ` (offset ${l.offset})` : ""}`;
}

/** A message for lines someone else holds, naming the holder. */
export function busyMessage(lines: readonly ResolvedLine[], infos: readonly GpioLineInfo[], chip: string): string {
  const held = lines
    .map((l) => ({ l, now: infos.find((i) => i.offset === l.offset) }))
    .filter((x) => x.now?.used)
    .map((x) => `${describeLine(x.l)} is in use by ${x.now?.consumer ? `"${x.now.consumer}"` : "an unnamed consumer"}`);
  const what = held.length > 0 ? held.join("; ") : "a line is in use by another consumer";
  return `${chip}: ${what}: stop that program (or the kernel driver, see \`gpioinfo\`) or choose another line`;
}
