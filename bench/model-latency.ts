// int8 vs fp32 inference latency in onnxruntime-node: batch 1, warm, median, 1 and 2 threads.
// Usage: node dist/bench/model-latency.js [--runs 2000] MODEL_DIR [MODEL_DIR ...]
// (the fp32 artifacts are written by the recipe under build/recipe/artifacts/).
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { ModelSession } from "../src/model/session.js";
import { inputSize } from "../src/model/tensor.js";
import { median, ms, percentile } from "./stats.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: "string", default: "2000" } },
});
const runs = Number(values.runs);
console.log(
  `# model latency, ${cpus()[0]?.model ?? "unknown CPU"} (${cpus().length} cores), node ${process.version}, ${process.arch}`,
);
console.log("| model | file | threads | median | p95 |");
console.log("|---|---|---|---|---|");
for (const dir of positionals) {
  for (const threads of [1, 2]) {
    const session = await ModelSession.load(dir, { threads });
    const { width, height } = inputSize(session.manifest.input);
    const tensor = new Float32Array(3 * width * height).map((_, i) => (i % 251) / 255);
    for (let i = 0; i < 200; i++) await session.run(tensor); // warm-up
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await session.run(tensor);
      times.push(performance.now() - t);
    }
    await session.release();
    const size = `${(session.files.bytes.length / 1024).toFixed(1)} KiB`;
    console.log(`| ${dir} | ${size} | ${threads} | ${ms(median(times))} | ${ms(percentile(times, 0.95))} |`);
  }
}
