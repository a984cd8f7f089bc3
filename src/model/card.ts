// MODEL_CARD.md rendered from manifest.json, so the card can never disagree with the manifest. Pure.
import { wilson } from "../monitor/audit-accuracy.js";
import { deviceDataSection } from "./card-device-data.js";
import type { ArtifactMetrics, ClassMetrics, Manifest } from "./manifest.js";
import { markdownTable } from "./markdown-table.js";

const pct = (x: number, digits = 2) => `${(x * 100).toFixed(digits)}%`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/** Metrics on data the recipe never tuned on, with 95% intervals where the counts are recorded. */
function unseenData(key: string, d: ClassMetrics & { data: string }, what: string): string[] {
  const interval = (rate: number, n: number | undefined) => {
    if (n === undefined) return pct(rate);
    const e = wilson(Math.round(rate * n), n);
    return `${pct(rate)} (${pct(e.low ?? 0, 1)}–${pct(e.high ?? 1, 1)}, n=${n})`;
  };
  const n = d.per_defect_samples;
  const defects = n ? Object.values(n).reduce((a, b) => a + b, 0) : undefined;
  const goods = defects === undefined ? undefined : d.samples - defects;
  const l = d.on_line;
  const rows: { name: string; rate: number; n: number | undefined; line: number | undefined }[] = [
    { name: "accuracy", rate: d.accuracy, n: d.samples, line: l?.accuracy },
    { name: "false rejects", rate: d.false_reject_rate, n: goods, line: l?.false_reject_rate },
    { name: "missed defects", rate: d.missed_defect_rate, n: defects, line: l?.missed_defect_rate },
    ...Object.entries(d.per_defect_recall).map(([k, v]) => ({
      name: `recall: ${k}`,
      rate: v,
      n: n?.[k],
      line: l?.per_defect_recall[k],
    })),
  ];
  return [
    `On ${d.samples} ${what} (${d.data}), **${key}** at threshold ${d.threshold}, with 95% intervals` +
      (l
        ? `; "on the line" counts the parts within the uncertain band (±${l.uncertain_band}) as rejected, as the ` +
          "daemon acts on them by default (`decision.uncertain_action: reject`):"
        : ":"),
    "",
    markdownTable(
      l ? ["measure", "at the threshold", "on the line"] : ["measure", "value"],
      rows.map((r) =>
        l
          ? [r.name, interval(r.rate, r.n), r.line === undefined ? "" : interval(r.line, r.n)]
          : [r.name, interval(r.rate, r.n)],
      ),
    ),
    "",
  ];
}

function metricsTable(metrics: Record<string, ArtifactMetrics>): string {
  const entries = Object.entries(metrics);
  const kinds = [...new Set(entries.flatMap(([, m]) => Object.keys(m.test.per_defect_recall)))].sort();
  return markdownTable(
    [
      "artifact",
      "file",
      "MACs",
      "accuracy",
      "ROC AUC",
      "threshold",
      "false rejects",
      "missed defects",
      ...kinds.map((k) => `recall ${k}`),
    ],
    entries.map(([key, m]) => [
      `**${key}**: ${m.description}`,
      kb(m.file_bytes),
      m.macs ? `${(m.macs / 1e6).toFixed(1)} M` : "–",
      pct(m.test.accuracy),
      m.test.roc_auc.toFixed(4),
      m.test.threshold.toFixed(3),
      pct(m.test.false_reject_rate),
      pct(m.test.missed_defect_rate),
      ...kinds.map((k) => {
        const r = m.test.per_defect_recall[k];
        return r === undefined ? "–" : pct(r, 1);
      }),
    ]),
  );
}

function asLines(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

export function renderModelCard(m: Manifest): string {
  const out: string[] = [];
  const { input, output } = m;
  out.push(`# Model card: ${m.name} ${m.version}`, "");
  out.push("<!-- Generated from manifest.json by `linesight model card`; edit the manifest, not this file. -->", "");
  out.push(m.card.summary, "");
  out.push(
    markdownTable(
      ["", ""],
      [
        ["file", `\`${m.file}\` (sha256 \`${m.sha256}\`)`],
        ["created", m.created],
        ["labels", `${m.labels.join(", ")} (reject on **${m.positive_label}**)`],
        ["input", `\`${input.name}\` ${input.dtype} [${input.shape.join(", ")}] ${input.layout}, ${input.color}`],
        [
          "preprocessing",
          `resize ${input.resize.mode} (${input.resize.kernel}), value = (pixel × ${input.scale.toPrecision(6)} − mean [${input.mean.join(", ")}]) / std [${input.std.join(", ")}]`,
        ],
        ["output", `\`${output.name}\` [${output.shape.join(", ")}], ${output.kind}`],
        [
          "default threshold",
          `${m.decision.threshold} (${m.decision.policy}); uncertain band ±${m.decision.uncertain_band}`,
        ],
      ],
    ),
    "",
  );
  out.push("## Intended use", "", m.card.intended_use, "");
  out.push("## Limitations", "", ...m.card.limitations.map((l) => `- ${l}`), "");
  out.push("## Training data", "", m.card.training_data, "");
  out.push(...deviceDataSection(m.training.device_data));

  if (m.metrics) {
    out.push("## Metrics on the held-out test split", "");
    out.push(
      "Every row is an ONNX file evaluated by onnxruntime-node through the daemon's own preprocessing " +
        "(`linesight model eval`), not the training framework. False rejects: share of good parts rejected. " +
        "Missed defects: share of defective parts passed.",
      "",
      metricsTable(m.metrics),
      "",
    );
    for (const [key, a] of Object.entries(m.metrics)) {
      for (const [data, what] of [
        [a.fresh, "frames rendered with a seed neither training nor the footage used"],
        [a.device, "labeled device samples held out of its training"],
      ] as const)
        if (data) out.push(...unseenData(key, data, what));
      const f = a.footage;
      if (!f) continue;
      const wrong = Math.round((1 - f.accuracy) * f.samples);
      out.push(
        `On the demo footage shipped with it (\`${f.data}\`, ${f.samples} frames), **${key}** at threshold ${f.threshold} ` +
          `decides ${f.samples - wrong} of ${f.samples} frames right (accuracy ${pct(f.accuracy)}, false rejects ` +
          `${pct(f.false_reject_rate)}, missed defects ${pct(f.missed_defect_rate)}). A few hundred frames are a small ` +
          "sample: the test split above is the model's measure, this is what the demo shows.",
        "",
      );
    }
  }
  if (m.operating_points) {
    const prevalence = m.reference?.defect_prevalence;
    out.push("## Operating points", "");
    out.push(
      "Choose the threshold (`decision.threshold` in the config) by what a false reject and a missed defect cost on your line." +
        (prevalence === undefined
          ? ""
          : ` Rejects per 1000 parts assume ${pct(prevalence, 1)} of parts are defective.`),
      "",
      markdownTable(
        ["threshold", "false reject rate", "missed defect rate", "rejects / 1000 parts"],
        m.operating_points.map((p) => [
          p.threshold === m.decision.threshold ? `**${p.threshold}**` : p.threshold,
          pct(p.false_reject_rate),
          pct(p.missed_defect_rate),
          p.rejects_per_1000.toFixed(1),
        ]),
      ),
      "",
    );
  }
  if (m.reference) {
    const r = m.reference;
    out.push("## Reference statistics (for drift detection)", "");
    out.push(
      `From ${r.samples} frames of \`${r.data}\`. Expected reject rate at the default threshold: ${pct(r.reject_rate)}.`,
      "",
      markdownTable(
        ["feature", "mean", "std", "p01", "p50", "p99"],
        Object.entries(r.features).map(([name, h]) => [
          name,
          h.mean.toFixed(2),
          h.std.toFixed(2),
          h.quantiles.p01.toFixed(2),
          h.quantiles.p50.toFixed(2),
          h.quantiles.p99.toFixed(2),
        ]),
      ),
      "",
    );
  }
  out.push("## How it was made", "");
  const pr = m.optimization.pruning;
  const qu = m.optimization.quantization;
  out.push(`- **Pruning**: ${String(pr.method ?? "")}`);
  out.push(`- **Quantization**: ${String(qu.method ?? "")}`);
  const kernels = qu.runtime_kernels as Record<string, number> | undefined;
  if (kernels) {
    out.push(
      `- **Kernels onnxruntime runs** (optimized graph): ${Object.entries(kernels)
        .map(([op, n]) => `${op} × ${n}`)
        .join(", ")}`,
    );
  }
  const log = asLines(m.training.log);
  if (log.length > 0) out.push("", "### Build log (summary)", "", "```", ...log, "```");
  out.push("");
  return out.join("\n");
}
