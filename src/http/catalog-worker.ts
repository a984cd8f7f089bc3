// Worker thread entry for the labeling page's database work (lists, images, labels, audit
// counts): SQLite calls block, and on an SD card a cold read can take tens of ms, which must
// not land on the thread that decides frames. One connection, requests answered in order.
import { parentPort, workerData } from "node:worker_threads";
import { SampleCatalog } from "../store/sample-catalog.js";
import type { CatalogRequest, CatalogResponse } from "./catalog-protocol.js";

function serve(): void {
  const port = parentPort;
  if (!port) throw new Error("catalog-worker.ts must run as a worker thread (started by Catalog)");
  const { path, goodLabel } = workerData as { path: string; goodLabel: string };
  const catalog = SampleCatalog.open(path);
  // Fault injection for the tests only (test/integration/operator-catalog.test.ts): asked for this
  // sample's image, the worker dies of an uncaught error, as it would of a bug.
  const crashOn = Number(process.env.LINESIGHT_FAULT_CATALOG_CRASH_SAMPLE ?? Number.NaN);
  port.on("message", (req: CatalogRequest) => {
    if (req.op === "close") {
      catalog.close();
      port.close();
      return;
    }
    if (req.op === "image" && req.sampleId === crashOn) throw new Error(`injected fault on sample ${crashOn}`);
    let res: CatalogResponse;
    const transfer: ArrayBuffer[] = [];
    try {
      switch (req.op) {
        case "list":
          res = {
            id: req.id,
            ok: true,
            value: {
              samples: catalog.list(req.filter, req.limit, req.before),
              total: req.withTotal ? catalog.count(req.filter) : null,
            },
          };
          break;
        case "image": {
          const img = catalog.image(req.sampleId);
          // A copy we own, so it can be moved rather than cloned.
          const bytes = img ? new Uint8Array(img) : null;
          if (bytes) transfer.push(bytes.buffer as ArrayBuffer);
          res = { id: req.id, ok: true, value: bytes };
          break;
        }
        case "label":
          res = {
            id: req.id,
            ok: true,
            value: catalog.addLabels(req.sampleIds, req.label, req.by, Date.now(), req.kind),
          };
          break;
        case "undo":
          res = { id: req.id, ok: true, value: catalog.removeLabels(req.labelIds) };
          break;
        case "markExported":
          catalog.markExported(req.sampleIds);
          res = { id: req.id, ok: true, value: null };
          break;
        case "audit":
          res = { id: req.id, ok: true, value: catalog.auditCounts(goodLabel) };
          break;
      }
    } catch (err) {
      res = { id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    port.postMessage(res, transfer);
  });
  port.postMessage({ id: 0, ok: true, value: "ready" } satisfies CatalogResponse);
}

serve();
