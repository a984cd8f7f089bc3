// Opens a model bundle (.lsm) and refuses it unless everything checks: size, archive structure,
// signature by a trusted key, every file's sha256 against the signed index, and a manifest that
// agrees with the index. Then extracts it, hashing again as it copies.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  type BundleIndex,
  BundleRefusedError,
  bundleIndexSchema,
  INDEX_NAME,
  MAX_ENTRIES,
  MAX_INDEX_BYTES,
  MAX_SIGNATURE_BYTES,
  SIGNATURE_NAME,
  signatureSchema,
} from "./bundle-index.js";
import { type ByteSource, chunksOf } from "./byte-source.js";
import { fsyncDir, writeFileSynced } from "./durable-fs.js";
import { type Manifest, ManifestError, parseManifest } from "./manifest.js";
import { type PublicKey, verifyBytes } from "./signing.js";
import { readTarEntries, type TarEntry, TarFormatError } from "./tar-reader.js";

export interface Trust {
  /** Public keys whose signatures are accepted (several, for key rotation). */
  keys: readonly PublicKey[];
  /** Accept bundles without a signature, or signed by a key not in `keys` (the demo). */
  allowUnsigned: boolean;
}

export interface VerifiedBundle {
  index: BundleIndex;
  manifest: Manifest;
  /** Id of the trusted key that signed it; null when accepted unsigned. */
  signedBy: string | null;
  /** sha256 of bundle.json: the identity of this exact bundle. */
  indexSha256: string;
  entries: ReadonlyMap<string, TarEntry>;
  source: ByteSource;
}

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;

function parseJson(bytes: Buffer, what: string, code: "invalid_index" | "invalid_manifest"): unknown {
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new BundleRefusedError(code, `${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Checks the signature of index bytes; returns the signing key's id, or null if accepted unsigned. */
export function checkSignature(indexBytes: Buffer, sigBytes: Buffer | null, trust: Trust): string | null {
  if (sigBytes === null) {
    if (trust.allowUnsigned) return null;
    throw new BundleRefusedError(
      "unsigned",
      "the bundle is not signed; sign it with 'linesight model pack --key', or set model.allow_unsigned: true (demo only)",
    );
  }
  const parsed = signatureSchema.safeParse(parseJson(sigBytes, SIGNATURE_NAME, "invalid_index"));
  if (!parsed.success)
    throw new BundleRefusedError("invalid_index", `${SIGNATURE_NAME} is malformed: ${parsed.error.issues[0]?.message}`);
  const sig = parsed.data;
  const key = trust.keys.find((k) => k.id === sig.key_id);
  if (!key) {
    if (trust.allowUnsigned) return null;
    const known = trust.keys.map((k) => k.id).join(", ") || "none";
    throw new BundleRefusedError(
      "unknown_key",
      `the bundle is signed by key ${sig.key_id}, which is not trusted (model.trusted_keys: ${known}); ` +
        "add that public key to model.trusted_keys if you trust its owner",
    );
  }
  if (!verifyBytes(indexBytes, Buffer.from(sig.signature, "base64"), key.key))
    throw new BundleRefusedError(
      "bad_signature",
      `the signature does not match the bundle's index for key ${key.id} (${key.source}): the bundle was altered after signing`,
    );
  return key.id;
}

/** Checks that the manifest agrees with the signed index (same model, same file, same hash). */
function checkManifest(index: BundleIndex, manifestBytes: Buffer): Manifest {
  let manifest: Manifest;
  try {
    manifest = parseManifest(parseJson(manifestBytes, index.manifest, "invalid_manifest"), `bundle ${index.manifest}`);
  } catch (err) {
    if (err instanceof ManifestError) throw new BundleRefusedError("invalid_manifest", err.message);
    throw err;
  }
  if (manifest.name !== index.name || manifest.version !== index.version)
    throw new BundleRefusedError(
      "invalid_manifest",
      `the manifest says ${manifest.name} ${manifest.version} but the signed index says ${index.name} ${index.version}`,
    );
  const model = index.files.find((f) => f.path === manifest.file);
  if (!model)
    throw new BundleRefusedError("invalid_manifest", `the manifest's model file ${manifest.file} is not in the bundle`);
  if (model.sha256 !== manifest.sha256)
    throw new BundleRefusedError(
      "invalid_manifest",
      `the manifest pins ${manifest.file} at sha256 ${manifest.sha256} but the bundle's file is ${model.sha256}`,
    );
  return manifest;
}

function checkIndexShape(index: BundleIndex): void {
  const paths = new Set(index.files.map((f) => f.path));
  if (paths.size !== index.files.length) throw new BundleRefusedError("invalid_index", "the index lists a file twice");
  for (const p of [INDEX_NAME, SIGNATURE_NAME])
    if (paths.has(p)) throw new BundleRefusedError("invalid_index", `the index must not list ${p}`);
  if (!paths.has(index.manifest))
    throw new BundleRefusedError("invalid_index", `the index's manifest ${index.manifest} is not one of its files`);
  for (const g of index.golden)
    if (!paths.has(g.file))
      throw new BundleRefusedError("invalid_index", `golden frame ${g.file} is not one of the files`);
}

function parseIndex(bytes: Buffer): BundleIndex {
  const parsed = bundleIndexSchema.safeParse(parseJson(bytes, INDEX_NAME, "invalid_index"));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new BundleRefusedError("invalid_index", `${INDEX_NAME} is not a valid bundle index: ${problems}`);
  }
  checkIndexShape(parsed.data);
  return parsed.data;
}

async function hashEntry(source: ByteSource, entry: TarEntry): Promise<string> {
  const h = createHash("sha256");
  for await (const c of chunksOf(source, entry.offset, entry.size)) h.update(c);
  return h.digest("hex");
}

/** Verifies a bundle; throws BundleRefusedError with the reason. Does not close `source`. */
export async function verifyBundle(
  source: ByteSource,
  options: { trust: Trust; maxBytes: number },
): Promise<VerifiedBundle> {
  if (source.size > options.maxBytes)
    throw new BundleRefusedError(
      "too_large",
      `the bundle is ${mb(source.size)}, over the limit of ${mb(options.maxBytes)} (model.max_bundle_mb)`,
    );
  let list: TarEntry[];
  try {
    list = await readTarEntries(source, MAX_ENTRIES);
  } catch (err) {
    if (!(err instanceof TarFormatError)) throw err;
    const code = err.message.startsWith("truncated") ? "truncated" : "corrupt";
    throw new BundleRefusedError(code, `not a complete model bundle: ${err.message}`);
  }
  const entries = new Map(list.map((e) => [e.name, e]));
  const first = list[0];
  if (!first || first.name !== INDEX_NAME)
    throw new BundleRefusedError("corrupt", `not a model bundle: its first entry must be ${INDEX_NAME}`);
  if (first.size > MAX_INDEX_BYTES)
    throw new BundleRefusedError("invalid_index", `${INDEX_NAME} is over ${MAX_INDEX_BYTES} bytes`);
  const indexBytes = await source.read(first.offset, first.size);
  const sigEntry = entries.get(SIGNATURE_NAME);
  if (sigEntry && sigEntry.size > MAX_SIGNATURE_BYTES)
    throw new BundleRefusedError("invalid_index", `${SIGNATURE_NAME} is over ${MAX_SIGNATURE_BYTES} bytes`);
  // The signature before anything else in the index is believed.
  const signedBy = checkSignature(
    indexBytes,
    sigEntry ? await source.read(sigEntry.offset, sigEntry.size) : null,
    options.trust,
  );
  const index = parseIndex(indexBytes);

  const listed = new Set(index.files.map((f) => f.path));
  for (const e of list)
    if (e.name !== INDEX_NAME && e.name !== SIGNATURE_NAME && !listed.has(e.name))
      throw new BundleRefusedError("corrupt", `the bundle holds ${e.name}, which its signed index does not list`);
  for (const f of index.files) {
    const e = entries.get(f.path);
    if (!e) throw new BundleRefusedError("corrupt", `${f.path} is listed in the index but missing from the bundle`);
    if (e.size !== f.bytes)
      throw new BundleRefusedError(
        "hash_mismatch",
        `${f.path} is ${e.size} bytes but the signed index says ${f.bytes}`,
      );
    const actual = await hashEntry(source, e);
    if (actual !== f.sha256)
      throw new BundleRefusedError(
        "hash_mismatch",
        `${f.path} has sha256 ${actual} but the signed index says ${f.sha256}: the file was changed after signing`,
      );
  }
  const manifestEntry = entries.get(index.manifest) as TarEntry;
  const manifest = checkManifest(index, await source.read(manifestEntry.offset, manifestEntry.size));
  const indexSha256 = createHash("sha256").update(indexBytes).digest("hex");
  return { index, manifest, signedBy, indexSha256, entries, source };
}

/**
 * Copies a verified bundle's files into `dir` (which must be empty or absent), fsyncing each
 * file and folder. Hashes again while copying: the source could have changed since it was verified.
 */
export async function extractBundle(bundle: VerifiedBundle, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const copy = async (name: string, expected: string | null) => {
    const e = bundle.entries.get(name) as TarEntry;
    const target = join(dir, name);
    await mkdir(dirname(target), { recursive: true });
    const h = createHash("sha256");
    const src = bundle.source;
    await writeFileSynced(
      target,
      (async function* () {
        for await (const c of chunksOf(src, e.offset, e.size)) {
          h.update(c);
          yield c;
        }
      })(),
    );
    if (expected !== null && h.digest("hex") !== expected)
      throw new BundleRefusedError("hash_mismatch", `${name} changed while it was being installed`);
  };
  await copy(INDEX_NAME, null);
  if (bundle.entries.has(SIGNATURE_NAME)) await copy(SIGNATURE_NAME, null);
  for (const f of bundle.index.files) await copy(f.path, f.sha256);
  for (const sub of new Set(bundle.index.files.map((f) => dirname(f.path)).filter((d) => d !== ".")))
    await fsyncDir(join(dir, sub));
  await fsyncDir(dir);
}

/**
 * Re-checks an extracted bundle on disk (the store's integrity check): its index, the signature
 * when `trust` is given, and every file's size and sha256. Returns the index.
 */
export async function verifyUnpacked(dir: string, trust: Trust | null): Promise<BundleIndex> {
  const read = async (name: string) => {
    try {
      return await readFile(join(dir, name));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return null;
      throw err;
    }
  };
  const indexBytes = await read(INDEX_NAME);
  if (!indexBytes) throw new BundleRefusedError("corrupt", `${dir} has no ${INDEX_NAME}`);
  if (trust) checkSignature(indexBytes, await read(SIGNATURE_NAME), trust);
  const index = parseIndex(indexBytes);
  for (const f of index.files) {
    const bytes = await read(f.path);
    if (!bytes) throw new BundleRefusedError("corrupt", `${join(dir, f.path)} is missing`);
    const actual = createHash("sha256").update(bytes).digest("hex");
    if (bytes.length !== f.bytes || actual !== f.sha256)
      throw new BundleRefusedError("hash_mismatch", `${join(dir, f.path)} does not match its index (sha256 ${actual})`);
  }
  checkManifest(index, (await read(index.manifest)) as Buffer);
  const extra = (await readdir(dir)).filter(
    (n) =>
      n !== INDEX_NAME && n !== SIGNATURE_NAME && !index.files.some((f) => f.path === n || f.path.startsWith(`${n}/`)),
  );
  if (extra.length > 0)
    throw new BundleRefusedError("corrupt", `${dir} holds files its index does not list: ${extra.join(", ")}`);
  return index;
}
