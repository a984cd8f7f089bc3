// `linesight samples export`: labeled samples out as a training dataset.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { SampleCatalog } from "../store/sample-catalog.js";
import { EXPORT_FORMATS, type ExportFormat, exportSamples } from "../store/sample-export.js";
import { FilterError, parseFilter } from "../store/sample-filter.js";
import { resolveConfig } from "./config-source.js";
import { UsageError } from "./usage.js";

export const SAMPLES_HELP = `Usage: linesight samples export --out DIR|FILE|- [--format FORMAT] [filters]
                                [--db FILE | --config FILE] [--device ID]

Exports the LABELED samples (the newest label of each) for training:
  folders        (default) DIR/<label>/<id>.jpg, DIR/manifest.csv, DIR/manifest.jsonl,
                 DIR/label-studio.json
  tar            the same as one tar archive (--out FILE, or - for stdout)
  jsonl, csv     the manifest alone, every stored field (--out FILE or -)
  label-studio   a Label Studio import file (tasks with the label as annotation)
Exported samples are marked (exported_at); --not-exported takes only new ones.

Filters (as on the labeling page):
  --reason reject,uncertain,ood,audit,snapshot,disagreement   --decision pass|reject|uncertain|confident
  --label NAME   --from DATE|TIME   --to DATE|TIME (exclusive; a bare date is the whole day)
  --not-exported yes   --no-mark (do not set exported_at)
  --ids-out FILE       after a complete export, write the exported sample ids there, one a line
  --ls-prefix URL   Label Studio image URL prefix (default /data/local-files/?d=)

The database is --db, else storage.path of --config / /etc/linesight/config.yaml / the demo.
Every row names the device (device_id): --device, else device.id of that config (with --db
and no --device, none). Retraining reports which devices its samples came from.
It may be exported while the daemon runs.`;

export async function samplesCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "--help" || sub === "-h" || sub === undefined) {
    console.log(SAMPLES_HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== "export") throw new UsageError(`unknown samples command "${sub}"\n\n${SAMPLES_HELP}`);
  const { values } = parseArgs({
    args: rest,
    options: {
      out: { type: "string", short: "o" },
      format: { type: "string", short: "f", default: "folders" },
      db: { type: "string" },
      config: { type: "string", short: "c" },
      reason: { type: "string" },
      decision: { type: "string" },
      label: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      "not-exported": { type: "string" },
      "no-mark": { type: "boolean", default: false },
      "ids-out": { type: "string" },
      "ls-prefix": { type: "string" },
      device: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(SAMPLES_HELP);
    return 0;
  }
  if (!values.out) throw new UsageError(`--out is required\n\n${SAMPLES_HELP}`);
  const format = values.format as ExportFormat;
  if (!EXPORT_FORMATS.includes(format))
    throw new UsageError(`--format: expected one of ${EXPORT_FORMATS.join(", ")}, got "${values.format}"`);
  let filter: ReturnType<typeof parseFilter>;
  try {
    filter = parseFilter((k) => {
      const v = (values as Record<string, unknown>)[k.replace("_", "-")];
      return typeof v === "string" ? v : null;
    });
  } catch (err) {
    if (err instanceof FilterError) throw new UsageError(`--${err.message}`);
    throw err;
  }
  const config = values.db ? null : (await resolveConfig(values.config)).config;
  const db = values.db ?? (config?.storage.path as string);
  const device = values.device ?? config?.device.id;
  const catalog = SampleCatalog.open(db);
  try {
    const result = await exportSamples(catalog, filter, {
      format,
      out: values.out,
      mark: !values["no-mark"],
      ...(device ? { device } : {}),
      ...(values["ls-prefix"] ? { labelStudioPrefix: values["ls-prefix"] } : {}),
    });
    // Written only once everything was: the operator server marks these after delivery.
    if (values["ids-out"]) writeIds(values["ids-out"], result.ids);
    const labels = Object.entries(result.byLabel)
      .map(([l, n]) => `${l} ${n}`)
      .join(", ");
    // stdout may be the archive itself: the summary goes to stderr.
    process.stderr.write(
      `exported ${result.exported} labeled sample(s)${labels ? ` (${labels})` : ""} to ${values.out === "-" ? "stdout" : values.out}\n`,
    );
  } finally {
    catalog.close();
  }
  return 0;
}

/** /dev/fd/N is written through the descriptor itself: opening the path fails when it is a socket (a Node child's pipe). */
function writeIds(out: string, ids: readonly number[]): void {
  const fd = /^\/dev\/fd\/(\d+)$/.exec(out);
  writeFileSync(fd ? Number(fd[1]) : out, ids.map((id) => `${id}\n`).join(""));
}
