// The device gate and an install's candidate checks, run in a worker thread. Both create
// onnxruntime sessions, and InferenceSession.create is synchronous native code on the calling
// thread (5-40 ms a load here, 550 ms for the first in a process): on the daemon's main thread,
// which reads the camera and decides frames, a frame arriving meanwhile would replace the one
// waiting in the frame slot. One short-lived worker per call (the calls are rare); it is
// terminated once it has answered. Errors cross back by value (see SerializedError): a refused
// candidate is a CandidateRefusedError again, with its code, message and report.
import { Worker } from "node:worker_threads";
import { UserFacingError } from "../errors.js";
import { workerStarted } from "../worker-started.js";
import { workerScriptUrl } from "../worker-url.js";
import { BundleRefusedError, type RefusalCode } from "./bundle-index.js";
import { type CandidateCheckOptions, CandidateRefusedError, type CandidateReport } from "./candidate-check.js";
import type { DeviceGateReport, SampleGateInput } from "./sample-gate.js";

/** What the worker is asked to do: its workerData. Every field is structured-clone-able. */
export type ModelCheckJob =
  | { kind: "gate"; input: SampleGateInput }
  | {
      kind: "check";
      dir: string;
      golden: readonly { file: string; score: number }[];
      opts: CandidateCheckOptions;
    };

/** An error as it crosses the thread boundary: structured clone would keep neither its class nor its fields. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** A UserFacingError: its message is the whole story (no stack shown to the user). */
  userFacing: boolean;
  /** BundleRefusedError's (and so CandidateRefusedError's) refusal code. */
  code?: RefusalCode;
  /** CandidateRefusedError's report. */
  report?: CandidateReport;
}

/** The worker's one message. */
export type ModelCheckReply = { ok: true; value: unknown } | { ok: false; error: SerializedError };

/** The compiled worker (see workerScriptUrl). */
export function modelChecksWorkerUrl(base: string = import.meta.url): URL {
  return workerScriptUrl("model/model-checks-worker.js", base);
}

/** gateOnSamples (sample-gate.ts) in a worker thread: same input, same report. */
export function gateOnSamplesOffThread(input: SampleGateInput): Promise<DeviceGateReport> {
  return runInWorker<DeviceGateReport>({ kind: "gate", input }, "the device gate");
}

/** checkCandidate (candidate-check.ts) in a worker thread; a refusal rejects with CandidateRefusedError. */
export function checkCandidateOffThread(
  dir: string,
  golden: readonly { file: string; score: number }[],
  opts: CandidateCheckOptions,
): Promise<CandidateReport> {
  return runInWorker<CandidateReport>({ kind: "check", dir, golden, opts }, "the candidate check");
}

async function runInWorker<T>(job: ModelCheckJob, what: string): Promise<T> {
  // The job is cloned here, so a value that cannot cross (a DataCloneError) rejects before any thread starts.
  const worker = new Worker(modelChecksWorkerUrl(), { workerData: job });
  // After the answer nothing listens: a late error must not become an uncaught 'error' event.
  worker.on("error", () => {});
  try {
    // The worker's one message settles the call, as a start would (worker-started.ts).
    return await workerStarted<ModelCheckReply, T>(worker, {
      settle: (reply) => (reply.ok ? { value: reply.value as T } : { error: deserializeError(reply.error) }),
      failed: (err) => new Error(`${what}: its worker thread failed (${err.message})`, { cause: err }),
      exited: (code) => new Error(`${what}: its worker thread exited (code ${code}) before answering`),
    });
  } finally {
    // Its sessions are already released; this ends the thread (and frees its heap) now.
    void worker.terminate();
  }
}

/** For the worker: any thrown value as a SerializedError. */
export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { name: "Error", message: String(err), userFacing: false };
  const out: SerializedError = {
    name: err.name,
    message: err.message,
    userFacing: err instanceof UserFacingError,
    ...(err.stack ? { stack: err.stack } : {}),
  };
  if (err instanceof BundleRefusedError) out.code = err.code;
  if (err instanceof CandidateRefusedError) out.report = err.report;
  return out;
}

/** The worker's error rebuilt on this thread: CandidateRefusedError and BundleRefusedError as themselves. */
export function deserializeError(e: SerializedError): Error {
  let err: Error;
  if (e.code !== undefined && e.report !== undefined) err = new CandidateRefusedError(e.code, e.message, e.report);
  else if (e.code !== undefined) err = new BundleRefusedError(e.code, e.message);
  else if (e.userFacing) err = new UserFacingError(e.message);
  else err = new Error(e.message);
  err.name = e.name;
  // The worker's stack says where it failed; this thread's would only show the message handler.
  if (e.stack) err.stack = e.stack;
  return err;
}
