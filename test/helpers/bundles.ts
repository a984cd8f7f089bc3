// Builds and takes apart model bundles in tests: the tar container written with the product's
// own TarWriter, so a test can swap a file, re-sign an index or forge an entry name.
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { PassThrough } from "node:stream";
import { bufferSource } from "../../src/model/byte-source.js";
import { keyId, signBytes } from "../../src/model/signing.js";
import { readTarEntries } from "../../src/model/tar-reader.js";
import { TarWriter } from "../../src/store/tar-writer.js";

export type Entries = [name: string, data: Buffer][];

export async function unpackTar(bundle: Buffer): Promise<Entries> {
  const entries = await readTarEntries(bufferSource(bundle), 1000);
  return entries.map((e) => [e.name, Buffer.from(bundle.subarray(e.offset, e.offset + e.size))]);
}

export async function packTar(entries: Entries): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  const tar = new TarWriter(out, 0);
  for (const [name, data] of entries) await tar.file(name, data);
  await tar.end();
  out.end();
  return Buffer.concat(chunks);
}

export function signatureFor(index: Buffer, key: KeyObject): Buffer {
  const signature = signBytes(index, key).toString("base64");
  return Buffer.from(JSON.stringify({ algorithm: "ed25519", key_id: keyId(createPublicKey(key)), signature }));
}

/** Rewrites a bundle: `edit` changes its index object and entries; the result is re-signed with `key`. */
export async function rebuild(
  bundle: Buffer,
  key: KeyObject | null,
  edit: (index: Record<string, unknown>, entries: Entries) => void,
): Promise<Buffer> {
  const entries = (await unpackTar(bundle)).filter(([n]) => n !== "bundle.sig");
  const index = JSON.parse((entries[0] as [string, Buffer])[1].toString()) as Record<string, unknown>;
  edit(index, entries);
  const indexBytes = Buffer.from(JSON.stringify(index));
  entries[0] = ["bundle.json", indexBytes];
  if (key) entries.splice(1, 0, ["bundle.sig", signatureFor(indexBytes, key)]);
  return packTar(entries);
}

/** A bundle whose manifest (and index, for `version`) is edited, re-pinned and signed with `key`. */
export function withManifest(
  bundle: Buffer,
  key: KeyObject | null,
  edit: (manifest: Record<string, unknown>, index: Record<string, unknown>) => void,
): Promise<Buffer> {
  return rebuild(bundle, key, (index, entries) => {
    const at = entries.findIndex(([n]) => n === "manifest.json");
    const manifest = JSON.parse((entries[at] as [string, Buffer])[1].toString());
    edit(manifest, index);
    const data = Buffer.from(JSON.stringify(manifest, null, 2));
    entries[at] = ["manifest.json", data];
    const files = index.files as { path: string; bytes: number; sha256: string }[];
    const f = files.find((x) => x.path === "manifest.json") as { bytes: number; sha256: string };
    f.bytes = data.length;
    f.sha256 = createHash("sha256").update(data).digest("hex");
  });
}

/** The same model under another version number (manifest and index both), signed with `key`. */
export function versioned(bundle: Buffer, key: KeyObject | null, version: string): Promise<Buffer> {
  return withManifest(bundle, key, (manifest, index) => {
    manifest.version = version;
    index.version = version;
  });
}
