// Worker thread of off-thread-checks.ts: runs one gate or one candidate check (workerData), posts
// its result or its error, and ends. The onnxruntime sessions are created and released here, so
// their synchronous loads never hold the daemon's main thread.
import { parentPort, workerData } from "node:worker_threads";
import { checkCandidate } from "./candidate-check.js";
import { type ModelCheckJob, type ModelCheckReply, serializeError } from "./off-thread-checks.js";
import { gateOnSamples } from "./sample-gate.js";

const port = parentPort;
if (!port) throw new Error("model-checks-worker runs as a worker thread");

const job = workerData as ModelCheckJob;
const run = (): Promise<unknown> =>
  job.kind === "gate" ? gateOnSamples(job.input) : checkCandidate(job.dir, job.golden, job.opts);

run().then(
  (value) => port.postMessage({ ok: true, value } satisfies ModelCheckReply),
  (err: unknown) => port.postMessage({ ok: false, error: serializeError(err) } satisfies ModelCheckReply),
);
