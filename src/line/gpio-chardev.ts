// The GPIO character device through linesight's native addon (native/gpio-chardev): chips on
// /dev/gpiochip*, found by label, their lines, and errors that say what to do. Loaded on first
// use only, so a daemon without `line.backend: gpio` never needs the addon.
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { packageRoot } from "../package-info.js";
import { LineSetupError } from "./backend.js";

export interface GpioLineInfo {
  offset: number;
  name: string;
  /** Who holds the line ("" if nobody or an anonymous holder). */
  consumer: string;
  used: boolean;
  output: boolean;
  activeLow: boolean;
  bias: "as_is" | "pull_up" | "pull_down" | "disabled";
  edge: "none" | "rising" | "falling" | "both";
  debounceUs: number;
}

export interface GpioLineRequest {
  offset: number;
  output: boolean;
  /** Outputs: the physical level set by the request itself. */
  value?: boolean;
  edge?: "none" | "rising" | "falling" | "both";
  bias?: "as_is" | "pull_up" | "pull_down" | "disabled";
  /** Inputs: the kernel's debounce (0: none). */
  debounceUs?: number;
}

export interface GpioEvent {
  offset: number;
  rising: boolean;
  /** CLOCK_MONOTONIC, ns. */
  timestampNs: bigint;
  seqno: number;
  lineSeqno: number;
}

/** The addon's functions (native/gpio-chardev/gpio_chardev.c). Masks: bit i = line i of the request. */
export interface GpioChardev {
  chipInfo(path: string): { name: string; label: string; lines: number };
  lineInfos(path: string): GpioLineInfo[];
  request(path: string, consumer: string, lines: GpioLineRequest[]): number;
  setValues(fd: number, mask: number, bits: number): void;
  getValues(fd: number, mask: number): number;
  readEvents(fd: number): GpioEvent[];
  poll(fd: number, timeoutMs: number): boolean;
  release(fd: number): void;
}

export const ADDON_PATH = join(packageRoot, "native/gpio-chardev/build/Release/gpio_chardev.node");

let addon: GpioChardev | null = null;

/** The addon, loaded on first use; a LineSetupError if it is not built. */
export function gpioChardev(): GpioChardev {
  if (addon) return addon;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as GpioChardev;
  } catch (err) {
    throw new LineSetupError(
      `line.backend gpio: the GPIO addon cannot be loaded (${ADDON_PATH}: ${(err as Error).message.split("\n")[0]}); build it with \`node scripts/setup.mjs\``,
    );
  }
  return addon;
}

export interface GpioChip {
  path: string;
  name: string;
  label: string;
  lines: number;
}

/** Every chip on this machine; chips that cannot be opened are listed with their error. */
export function listChips(dev = "/dev"): { chips: GpioChip[]; unreadable: { path: string; error: Error }[] } {
  const g = gpioChardev();
  const chips: GpioChip[] = [];
  const unreadable: { path: string; error: Error }[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(dev).filter((n) => /^gpiochip\d+$/.test(n));
  } catch {}
  names.sort((a, b) => Number(a.slice(8)) - Number(b.slice(8)));
  for (const n of names) {
    const path = join(dev, n);
    try {
      chips.push({ path, ...g.chipInfo(path) });
    } catch (err) {
      unreadable.push({ path, error: err as Error });
    }
  }
  return { chips, unreadable };
}

/** The chip for `line.gpio_chip`: its label, or a path (/dev/gpiochipN) for boards without labels. */
export function findChip(spec: string, dev = "/dev"): GpioChip {
  if (spec.startsWith("/")) {
    try {
      return { path: spec, ...gpioChardev().chipInfo(spec) };
    } catch (err) {
      throw gpioSetupError(err, { key: "line.gpio_chip", path: spec });
    }
  }
  const { chips, unreadable } = listChips(dev);
  const found = chips.find((c) => c.label === spec);
  if (found) return found;
  const denied = unreadable.find((u) => (u.error as NodeJS.ErrnoException).code === "EACCES");
  if (denied) throw gpioSetupError(denied.error, { key: "line.gpio_chip", path: denied.path });
  const here = chips.map((c) => `${c.path} "${c.label}"`).join(", ");
  throw new LineSetupError(
    chips.length === 0
      ? `line.gpio_chip: no GPIO chip on this machine (no ${dev}/gpiochip*), so none labelled "${spec}": is this the board the config is for, and does its kernel have the GPIO character device?`
      : `line.gpio_chip: no GPIO chip labelled "${spec}"; chips here: ${here} (\`gpiodetect\` lists them; set the label, never a number)`,
  );
}

const PERMISSION_FIX =
  "add the service user to the gpio group (`usermod -aG gpio linesight`; on boards without that group a udev rule: " +
  'SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"), and under systemd ' +
  "`DeviceAllow=char-gpiochip rw` with `SupplementaryGroups=gpio` (docs/line-io.md)";

/** An addon error as a LineSetupError naming the config key, the chip and the fix. */
export function gpioSetupError(err: unknown, where: { key: string; path: string; line?: string }): LineSetupError {
  const e = err as NodeJS.ErrnoException;
  const what = `${where.key}: ${where.path}${where.line ? ` line ${where.line}` : ""}`;
  switch (e.code) {
    case "ENOENT":
      return new LineSetupError(`${what}: no such GPIO chip (\`gpiodetect\` lists the chips; configure the label)`);
    case "EACCES":
    case "EPERM":
      return new LineSetupError(`${what}: permission denied: ${PERMISSION_FIX}`);
    case "ENOTTY":
      return new LineSetupError(`${what}: not a GPIO chip, or the kernel has no GPIO character device (uAPI v2)`);
    default:
      return new LineSetupError(`${what}: ${e.message}`);
  }
}
