// At daemon start, before the model is loaded: a start during probation is counted durably, and
// too many of them (the promoted model likely crashes or hangs the daemon) roll the store back to
// `previous`, so the daemon starts on the model that ran before (greenboot's idea).
import { ModelStore } from "./model-store.js";
import { probationAtStart } from "./probation.js";
import { clearProbation, readProbation, writeProbation } from "./probation-record.js";

export interface StartupProbation {
  /** What happened, for the log and an event; null when no probation was running. */
  message: string | null;
  rolledBack: boolean;
}

export async function countProbationStart(model: {
  store: string | null;
  keep_versions: number;
  probation: { max_restarts: number };
}): Promise<StartupProbation> {
  if (!model.store) return { message: null, rolledBack: false };
  const store = await ModelStore.open(model.store, { keep: model.keep_versions });
  const record = await readProbation(model.store);
  const next = probationAtStart(record, store.state.active, new Date(), model.probation.max_restarts);
  if (next.action === "none") {
    if (record) await clearProbation(model.store);
    return { message: null, rolledBack: false };
  }
  if (next.action === "count") {
    await writeProbation(model.store, next.record);
    return {
      message: `start ${next.record.starts} of at most ${model.probation.max_restarts} while ${next.record.id} is on probation`,
      rolledBack: false,
    };
  }
  await store.rollback();
  await clearProbation(model.store);
  return { message: `rolled back: ${next.reason}`, rolledBack: true };
}
