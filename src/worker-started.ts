// Waiting for a worker thread to say it has started (e.g. opened its database), or to fail
// trying: the worker's own error or an early exit rejects, with the caller's words for each.
import type { Worker } from "node:worker_threads";

export interface StartAnswers<M, T> {
  /** A message that settles the start: `{ value }` or `{ error }`; null for any other message. */
  settle(message: M): { value: T } | { error: Error } | null;
  /** The worker failed to load or threw before answering. */
  failed(err: Error): Error;
  /** The worker exited before answering. */
  exited(code: number): Error;
}

export function workerStarted<M, T>(worker: Worker, answers: StartAnswers<M, T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (m: M) => {
      const settled = answers.settle(m);
      if (!settled) return;
      cleanup();
      if ("error" in settled) reject(settled.error);
      else resolve(settled.value);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(answers.failed(err));
    };
    const onExit = (code: number) => {
      cleanup();
      reject(answers.exited(code));
    };
    const cleanup = () => {
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
  });
}
