// What installing a model bundle costs on this device: verify (signature, every file's sha256),
// then install into a store (extract with fsync, the golden-frame and latency checks skipped
// here, atomic record). For the shipped model and for a bundle padded to model.max_bundle_mb, to
// show the size limit's cost in time and memory. Runs off the frame loop in the daemon, but the
// figures say how long a model install keeps the CPU and disk busy.
//
//   node dist/bench/model-bundle.js [--mb 32] [--rounds 3]
import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { PassThrough } from "node:stream";
import { parseArgs } from "node:util";
import { readLabelledDir } from "../src/dataset/labelled-dir.js";
import { verifyBundle } from "../src/model/bundle.js";
import { packBundle } from "../src/model/bundle-pack.js";
import { fileSource } from "../src/model/byte-source.js";
import { selectGolden } from "../src/model/golden.js";
import { ModelStore } from "../src/model/model-store.js";
import { keyId, signBytes } from "../src/model/signing.js";
import { readTarEntries } from "../src/model/tar-reader.js";
import { packageRoot } from "../src/package-info.js";
import { TarWriter } from "../src/store/tar-writer.js";
import { median } from "./stats.js";

const { values } = parseArgs({
  options: { mb: { type: "string", default: "32" }, rounds: { type: "string", default: "3" } },
});
const rounds = Number(values.rounds);
const dir = mkdtempSync(join(tmpdir(), "linesight-bench-bundle-"));
const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const trust = { keys: [{ id: keyId(publicKey), key: publicKey, source: "bench" }], allowUnsigned: false };

/** The shipped bundle with a listed filler file, so the whole is `mb` MB (a bigger model's weight). */
async function padded(small: Buffer, mb: number): Promise<Buffer> {
  const src = {
    size: small.length,
    read: async (o: number, l: number) => small.subarray(o, o + l),
    close: async () => {},
  };
  const entries = (await readTarEntries(src, 200)).filter((e) => e.name !== "bundle.sig");
  const files = entries.map((e) => [e.name, small.subarray(e.offset, e.offset + e.size)] as [string, Buffer]);
  const filler = Buffer.alloc(Math.max(0, mb * 1048576 - small.length - 4096));
  for (let i = 0; i < filler.length; i += 4096) filler.writeUInt32LE((i * 2654435761) >>> 0, i);
  const index = JSON.parse((files[0] as [string, Buffer])[1].toString());
  index.files.push({
    path: "weights-extra.bin",
    bytes: filler.length,
    sha256: createHash("sha256").update(filler).digest("hex"),
  });
  const indexBytes = Buffer.from(JSON.stringify(index));
  const sig = Buffer.from(
    JSON.stringify({
      algorithm: "ed25519",
      key_id: keyId(publicKey),
      signature: signBytes(indexBytes, privateKey).toString("base64"),
    }),
  );
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  const tar = new TarWriter(out, 0);
  await tar.file("bundle.json", indexBytes);
  await tar.file("bundle.sig", sig);
  for (const [name, data] of files.slice(1)) await tar.file(name, data);
  await tar.file("weights-extra.bin", filler);
  await tar.end();
  return Buffer.concat(chunks);
}

async function measure(name: string, path: string): Promise<void> {
  const verify: number[] = [];
  const install: number[] = [];
  const rss0 = process.memoryUsage().rss;
  let rssMax = rss0;
  for (let r = 0; r < rounds; r++) {
    const src = await fileSource(path);
    let t = performance.now();
    await verifyBundle(src, { trust, maxBytes: 1024 * 1048576 });
    verify.push(performance.now() - t);
    const store = await ModelStore.open(join(dir, `store-${name}-${r}`), { keep: 3 });
    t = performance.now();
    await store.install(src, { trust, maxBytes: 1024 * 1048576 });
    install.push(performance.now() - t);
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
    await src.close();
  }
  const size = statSync(path).size / 1048576;
  console.log(
    `${name.padEnd(22)} ${size.toFixed(2).padStart(6)} MB  verify ${median(verify).toFixed(1)} ms  ` +
      `install (verify + extract + fsync + record) ${median(install).toFixed(1)} ms  ` +
      `(${(size / (median(install) / 1000)).toFixed(0)} MB/s)  RSS +${((rssMax - rss0) / 1048576).toFixed(1)} MB`,
  );
}

try {
  const small = join(dir, "shipped.lsm");
  await packBundle({
    modelDir: join(packageRoot, "models/round-parts"),
    out: small,
    privateKey,
    golden: selectGolden(await readLabelledDir(join(packageRoot, "footage/round-parts")), 6),
  });
  const big = join(dir, "padded.lsm");
  writeFileSync(big, await padded(readFileSync(small), Number(values.mb)));
  console.log(`model bundles, median of ${rounds} rounds, in ${tmpdir()}`);
  await measure("shipped round-parts", small);
  await measure(`padded to ${values.mb} MB`, big);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
