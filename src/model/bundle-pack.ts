// Packs a model folder into one signed bundle file (format: bundle-index.ts).

import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { createWriteStream } from "node:fs";
import { access, readFile, rename, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { finished } from "node:stream/promises";
import type { LabelledFrame } from "../dataset/labelled-dir.js";
import { UserFacingError } from "../errors.js";
import { version as linesightVersion } from "../package-info.js";
import { TarWriter } from "../store/tar-writer.js";
import { BUNDLE_FORMAT, type BundleIndex, INDEX_NAME, SIGNATURE_NAME, versionId } from "./bundle-index.js";
import { scoreImages } from "./golden.js";
import { readModelFiles } from "./model-file.js";
import { ModelSession } from "./session.js";
import { keyId, signBytes } from "./signing.js";
import { SAFE_NAME } from "./tar-reader.js";
import { parseVersion } from "./version.js";

export class PackError extends UserFacingError {}

export interface PackOptions {
  modelDir: string;
  out: string;
  /** null: an unsigned bundle (accepted only where model.allow_unsigned is true). */
  privateKey: KeyObject | null;
  publicKey?: KeyObject;
  golden: readonly LabelledFrame[];
}

export interface PackResult {
  id: string;
  index: BundleIndex;
  keyId: string | null;
  bytes: number;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

export async function packBundle(o: PackOptions): Promise<PackResult> {
  const model = await readModelFiles(o.modelDir);
  const m = model.manifest;
  try {
    parseVersion(m.version);
  } catch (err) {
    throw new PackError(
      `${join(o.modelDir, "manifest.json")}: ${(err as Error).message}; devices order versions for rollback protection`,
    );
  }
  const cardPath = join(o.modelDir, "MODEL_CARD.md");
  try {
    await access(cardPath);
  } catch {
    throw new PackError(`${cardPath} is missing; render it first: linesight model card ${o.modelDir}`);
  }
  if (o.golden.length === 0)
    throw new PackError("no golden frames: give --golden FRAMES with at least one labelled frame");

  const files: { path: string; data: Buffer }[] = [
    { path: "manifest.json", data: await readFile(join(o.modelDir, "manifest.json")) },
    { path: m.file, data: model.bytes },
    { path: "MODEL_CARD.md", data: await readFile(cardPath) },
  ];
  if (!SAFE_NAME.test(m.file) || m.file.includes("/"))
    throw new PackError(`manifest file "${m.file}" must be a plain file name in the model folder`);
  const session = await ModelSession.load(o.modelDir, { threads: 1 });
  let scores: number[];
  try {
    scores = await scoreImages(
      session,
      o.golden.map((g) => g.path),
    );
  } finally {
    await session.release();
  }
  const golden = o.golden.map((g, i) => {
    const path = `golden/${basename(g.file)}`;
    if (!SAFE_NAME.test(path)) throw new PackError(`golden frame name ${g.file} is not a plain file name`);
    return { file: path, label: g.label, kind: g.kind, score: scores[i] as number };
  });
  for (const g of o.golden) files.push({ path: `golden/${basename(g.file)}`, data: await readFile(g.path) });
  if (new Set(files.map((f) => f.path)).size !== files.length)
    throw new PackError("two golden frames share a file name");

  const index: BundleIndex = {
    format: BUNDLE_FORMAT,
    format_version: 1,
    name: m.name,
    version: m.version,
    created: new Date().toISOString(),
    packed_by: `linesight ${linesightVersion}`,
    manifest: "manifest.json",
    files: files.map((f) => ({ path: f.path, bytes: f.data.length, sha256: sha(f.data) })),
    golden,
  };
  const indexBytes = Buffer.from(`${JSON.stringify(index, null, 2)}\n`);
  let signedBy: string | null = null;
  let sigBytes: Buffer | null = null;
  if (o.privateKey) {
    signedBy = keyId(o.publicKey ?? createPublicKey(o.privateKey));
    const signature = signBytes(indexBytes, o.privateKey).toString("base64");
    sigBytes = Buffer.from(`${JSON.stringify({ algorithm: "ed25519", key_id: signedBy, signature })}\n`);
  }

  // Written beside the target and renamed: a failed pack never leaves a half bundle under its name.
  const tmp = `${o.out}.partial`;
  const stream = createWriteStream(tmp);
  try {
    const tar = new TarWriter(stream);
    await tar.file(INDEX_NAME, indexBytes);
    if (sigBytes) await tar.file(SIGNATURE_NAME, sigBytes);
    for (const f of files) await tar.file(f.path, f.data);
    await tar.end();
    stream.end();
    await finished(stream);
    await rename(tmp, o.out);
  } catch (err) {
    stream.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
  const bytes = files.reduce((n, f) => n + f.data.length, 0);
  return { id: versionId(index), index, keyId: signedBy, bytes };
}
