// `linesight check`'s GPIO listing: the chip found by its label, each configured line with its
// offset, direction and whether it can be requested now (who holds it if not).
import type { LineConfig } from "../config/schema.js";
import { LineSetupError } from "./backend.js";
import { findChip, type GpioLineInfo, gpioChardev, gpioSetupError } from "./gpio-chardev.js";
import { findLineInfo, wantedLines } from "./gpio-lines.js";
import { formatLineListing, type LineListing } from "./gpio-listing.js";

/** The listing; throws (with the listing in the message) when a line is missing or busy. */
export function checkGpioLines(c: LineConfig): string {
  if (c.gpio_chip === null) throw new LineSetupError("line.gpio_chip: not set (the chip's label, e.g. pinctrl-rp1)");
  const chip = findChip(c.gpio_chip);
  let infos: GpioLineInfo[];
  try {
    infos = gpioChardev().lineInfos(chip.path);
  } catch (err) {
    throw gpioSetupError(err, { key: "line.gpio_chip", path: chip.path });
  }
  const listing: LineListing = {
    chip,
    lines: wantedLines(c).map((w) => ({ wanted: w, info: findLineInfo(infos, w.spec) })),
  };
  const { text, ok } = formatLineListing(listing);
  if (!ok) throw new Error(text);
  return text;
}
