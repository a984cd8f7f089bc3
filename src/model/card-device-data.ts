// The card's account of the device samples a retrained model learned from (the recipe's
// `training.device_data`): which exports and devices, when, and how many of each kind went to
// training, to the threshold and to the held-out evaluation. Pure. The manifest keeps
// `training` free-form, so a record this does not recognise renders nothing rather than failing.
import { z } from "zod";
import { markdownTable } from "./markdown-table.js";

const counts = z.object({
  samples: z.number(),
  by_label: z.record(z.string(), z.number()),
  by_kind: z.record(z.string(), z.number()),
});

const deviceData = z.object({
  exports: z.array(z.string()),
  devices: z.record(z.string(), z.number()).optional(),
  decided_by: z.array(z.string()),
  captured: z.object({ from: z.string(), to: z.string() }).nullable(),
  image_sizes: z.array(z.string()),
  train: counts,
  // Older builds recorded only how many calibrated the threshold.
  calibration: z.union([counts, z.number()]).optional(),
  held_out: counts,
  skipped: z.number(),
});

type Counts = z.infer<typeof counts>;

/** Markdown lines for the card, or none when `record` is absent or not a device-data record. */
export function deviceDataSection(record: unknown): string[] {
  const parsed = deviceData.safeParse(record);
  if (!parsed.success) return [];
  const d = parsed.data;
  const devices = d.devices
    ? Object.entries(d.devices)
        .map(([id, n]) => `${id} (${n})`)
        .join(", ")
    : "not recorded";
  const facts: [string, string][] = [
    ["exports", d.exports.join(", ")],
    ["devices (samples)", devices],
    ["decided on the device by", d.decided_by.join(", ")],
    ["captured", d.captured ? `${d.captured.from} to ${d.captured.to}` : "not recorded"],
    ["image sizes", d.image_sizes.join(", ")],
    ["skipped (unreadable images)", String(d.skipped)],
  ];
  const cal = d.calibration;
  const splits: [string, Counts | number | undefined][] = [
    ["trained on", d.train],
    ["set the threshold", cal],
    ["held out (metrics below)", d.held_out],
  ];
  const shown = splits.filter(([, c]) => c !== undefined) as [string, Counts | number][];
  const kinds = [...new Set(shown.flatMap(([, c]) => (typeof c === "number" ? [] : Object.keys(c.by_kind))))].sort();
  const of = (c: Counts | number, kind: string) => (typeof c === "number" ? "" : (c.by_kind[kind] ?? 0));
  return [
    "### Device samples",
    "",
    "Labeled on the line and exported by the device (`training.device_data`); each sample is used once: " +
      "for training, for the default threshold, or held out for the metrics below.",
    "",
    markdownTable(["", ""], facts),
    "",
    markdownTable(
      ["kind", ...shown.map(([name]) => name)],
      [
        ...kinds.map((k) => [k, ...shown.map(([, c]) => of(c, k))]),
        ["**all**", ...shown.map(([, c]) => (typeof c === "number" ? c : c.samples))],
      ],
    ),
    "",
  ];
}
