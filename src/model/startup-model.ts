// Which model folder the daemon starts on: the store's recorded active version when a store is
// configured and holds one, else model.path (today's behaviour, and the first start of a store).
import { ModelStore } from "./model-store.js";

export interface StartupModel {
  dir: string;
  /** "store": the recorded active version; "path": model.path. */
  from: "store" | "path";
  /** name@version in the store, null for model.path. */
  id: string | null;
  store: ModelStore | null;
}

export async function startupModel(model: {
  path: string;
  store: string | null;
  keep_versions: number;
}): Promise<StartupModel> {
  if (!model.store) return { dir: model.path, from: "path", id: null, store: null };
  const store = await ModelStore.open(model.store, { keep: model.keep_versions });
  const active = store.state.active;
  if (active === null) return { dir: model.path, from: "path", id: null, store };
  return { dir: store.dirOf(active), from: "store", id: active, store };
}
