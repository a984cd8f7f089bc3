// Signed model bundles: packed from the shipped model, then every way a bundle can be wrong is
// refused with its reason, through the same verifier a device uses (and the CLI's exit codes).
import { spawnSync } from "node:child_process";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readLabelledDir } from "../../src/dataset/labelled-dir.js";
import { extractBundle, type Trust, verifyBundle, verifyUnpacked } from "../../src/model/bundle.js";
import { BundleRefusedError } from "../../src/model/bundle-index.js";
import { packBundle } from "../../src/model/bundle-pack.js";
import { bufferSource } from "../../src/model/byte-source.js";
import { selectGolden } from "../../src/model/golden.js";
import { generateKeyPair, keyId, loadPrivateKey, loadPublicKey, type PublicKey } from "../../src/model/signing.js";
import { tarHeader } from "../../src/store/tar-writer.js";
import { packTar, rebuild, unpackTar } from "../helpers/bundles.js";
import { CLI, FOOTAGE, MODEL } from "../helpers/daemon.js";

let dir: string;
let bundle: Buffer;
let bundlePath: string;
let privateKey: KeyObject;
let trusted: PublicKey;
let pubPath: string;
const MAX = 64 * 1048576;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "linesight-bundle-"));
  const keys = await generateKeyPair(dir, "release");
  pubPath = keys.publicPath;
  privateKey = await loadPrivateKey(keys.privatePath);
  trusted = await loadPublicKey(keys.publicPath);
  bundlePath = join(dir, "rp.lsm");
  await packBundle({
    modelDir: MODEL,
    out: bundlePath,
    privateKey,
    golden: selectGolden(await readLabelledDir(FOOTAGE), 6),
  });
  bundle = readFileSync(bundlePath);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const trust = (over: Partial<Trust> = {}): Trust => ({ keys: [trusted], allowUnsigned: false, ...over });

async function refusal(data: Buffer, t: Trust = trust(), maxBytes = MAX): Promise<BundleRefusedError> {
  try {
    await verifyBundle(bufferSource(data), { trust: t, maxBytes });
  } catch (err) {
    if (err instanceof BundleRefusedError) return err;
    throw err;
  }
  throw new Error("the bundle was accepted");
}

function otherKey(): KeyObject {
  return generateKeyPairSync("ed25519").privateKey;
}

describe("keygen", () => {
  it("writes a private key only its owner can read, and never overwrites one", async () => {
    expect(statSync(join(dir, "release.key")).mode & 0o777).toBe(0o600);
    await expect(generateKeyPair(dir, "release")).rejects.toThrow(/already exists; keys are never overwritten/);
  });

  it("refuses to sign with a private key others can read", async () => {
    const k = await generateKeyPair(dir, "loose");
    const { chmodSync } = await import("node:fs");
    chmodSync(k.privatePath, 0o644);
    await expect(loadPrivateKey(k.privatePath)).rejects.toThrow(/readable by others .*chmod 600/);
  });
});

describe("a packed bundle", () => {
  it("verifies, names its signer, and carries the model, card and golden frames with their scores", async () => {
    const b = await verifyBundle(bufferSource(bundle), { trust: trust(), maxBytes: MAX });
    expect(b.signedBy).toBe(trusted.id);
    expect(b.index).toMatchObject({ name: "round-parts", version: "1.0.0", manifest: "manifest.json" });
    expect(b.index.files.map((f) => f.path)).toEqual(
      expect.arrayContaining(["manifest.json", "model.onnx", "MODEL_CARD.md"]),
    );
    expect(b.index.golden).toHaveLength(6);
    expect(new Set(b.index.golden.map((g) => g.label))).toEqual(new Set(["good", "defect"]));
    for (const g of b.index.golden) expect(g.score).toBeGreaterThanOrEqual(0);
    // Each trusted key is tried by id: key rotation keeps old and new keys side by side.
    const { publicKey } = generateKeyPairSync("ed25519");
    const rotated = { id: keyId(publicKey), key: publicKey, source: "next.pub" };
    expect(
      (await verifyBundle(bufferSource(bundle), { trust: trust({ keys: [rotated, trusted] }), maxBytes: MAX }))
        .signedBy,
    ).toBe(trusted.id);
  });

  it("extracts to a folder that verifies on disk, and a changed file there is found", async () => {
    const out = join(dir, "extracted");
    const b = await verifyBundle(bufferSource(bundle), { trust: trust(), maxBytes: MAX });
    await extractBundle(b, out);
    expect((await readdir(out)).sort()).toEqual([
      "MODEL_CARD.md",
      "bundle.json",
      "bundle.sig",
      "golden",
      "manifest.json",
      "model.onnx",
    ]);
    expect((await verifyUnpacked(out, trust())).version).toBe("1.0.0");
    const onnx = readFileSync(join(out, "model.onnx"));
    onnx[onnx.length - 1] = (onnx[onnx.length - 1] as number) ^ 1;
    writeFileSync(join(out, "model.onnx"), onnx);
    await expect(verifyUnpacked(out, trust())).rejects.toThrow(/model.onnx does not match its index/);
  });
});

describe("refused bundles", () => {
  it("truncated anywhere", async () => {
    // Every block boundary and points inside blocks: the header table, the index, the model, the end marker.
    const cuts = new Set<number>([
      0,
      1,
      100,
      511,
      512,
      1000,
      bundle.length - 1,
      bundle.length - 512,
      bundle.length - 1024,
    ]);
    for (let at = 512; at < bundle.length; at += 512 * 37) cuts.add(at).add(at + 200);
    for (const at of cuts) {
      const r = await refusal(bundle.subarray(0, at));
      expect(["truncated", "corrupt"], `cut at ${at}: ${r.message}`).toContain(r.code);
    }
    expect((await refusal(bundle.subarray(0, bundle.length - 100))).message).toMatch(
      /truncated: the end marker is cut short/,
    );
  });

  it("corrupt: a flipped bit in a header, in the signed index, in the model", async () => {
    const entries = await unpackTar(bundle);
    const flip = (offset: number) => {
      const copy = Buffer.from(bundle);
      copy[offset] = (copy[offset] as number) ^ 0x10;
      return copy;
    };
    expect((await refusal(flip(10))).message).toMatch(/header checksum wrong at byte 0/);
    expect((await refusal(flip(512 + 40))).code).toBe("bad_signature");
    // The model's data: find it after the headers of the entries before it.
    const modelAt = bundle.indexOf(entries.find(([n]) => n === "model.onnx")?.[1].subarray(0, 64) as Buffer);
    const r = await refusal(flip(modelAt + 1000));
    expect(r.code).toBe("hash_mismatch");
    expect(r.message).toMatch(/model.onnx has sha256 .* but the signed index says .*changed after signing/);
    expect((await refusal(Buffer.from("not a bundle at all, just text".repeat(40)))).code).toBe("corrupt");
  });

  it("oversized, before reading it", async () => {
    const r = await refusal(bundle, trust(), 100_000);
    expect(r.code).toBe("too_large");
    expect(r.message).toMatch(/over the limit of 0\.1 MB \(model\.max_bundle_mb\)/);
  });

  it("signed by an unknown key, unsigned, or signed by a trusted key over different bytes", async () => {
    const stranger = await rebuild(bundle, otherKey(), () => {});
    const r = await refusal(stranger);
    expect(r.code).toBe("unknown_key");
    expect(r.message).toContain(`not trusted (model.trusted_keys: ${trusted.id})`);
    const unsigned = await rebuild(bundle, null, () => {});
    expect((await refusal(unsigned)).code).toBe("unsigned");
    expect((await refusal(unsigned)).message).toMatch(/model\.allow_unsigned/);
    // The demo setting accepts both, but says it is unsigned.
    for (const b of [unsigned, stranger])
      expect(
        (await verifyBundle(bufferSource(b), { trust: trust({ allowUnsigned: true }), maxBytes: MAX })).signedBy,
      ).toBeNull();
    // A real signature taken from another index is still refused, even with allow_unsigned.
    const sig = (await unpackTar(bundle))[1] as [string, Buffer];
    const spliced = await rebuild(bundle, null, (index, entries) => {
      index.version = "9.9.9";
      entries.splice(1, 0, sig);
    });
    expect((await refusal(spliced, trust({ allowUnsigned: true }))).code).toBe("bad_signature");
  });

  it("a valid signature over an index whose model file was swapped", async () => {
    const entries = await unpackTar(bundle);
    const swapped = entries.map(([n, d]): [string, Buffer] => {
      if (n !== "model.onnx") return [n, d];
      const other = Buffer.from(d);
      other.write("not the signed model", 5000);
      return [n, other];
    });
    const r = await refusal(await packTar(swapped));
    expect(r.code).toBe("hash_mismatch");
    expect(r.message).toMatch(/^model.onnx has sha256/);
    // Swapping manifest and model together (the manifest re-pinned to the new model) does not help.
    const manifest = JSON.parse((entries.find(([n]) => n === "manifest.json") as [string, Buffer])[1].toString());
    manifest.sha256 = "0".repeat(64);
    const both = swapped.map(([n, d]): [string, Buffer] => [
      n,
      n === "manifest.json" ? Buffer.from(JSON.stringify(manifest)) : d,
    ]);
    expect((await refusal(await packTar(both))).code).toBe("hash_mismatch");
  });

  it("entries that are not plain files listed in the index", async () => {
    const entries = await unpackTar(bundle);
    expect((await refusal(await packTar([...entries, ["extra.txt", Buffer.from("x")]]))).message).toMatch(
      /holds extra.txt, which its signed index does not list/,
    );
    for (const name of ["../evil", "/etc/passwd", "golden/../../x", ".hidden", "a/b/c"]) {
      const r = await refusal(await packTar([...entries.slice(0, 2), [name, Buffer.from("x")], ...entries.slice(2)]));
      expect(r.message, name).toMatch(/is not a plain relative file name/);
    }
    expect((await refusal(await packTar([...entries, ["model.onnx", Buffer.from("x")]]))).message).toMatch(
      /appears twice/,
    );
    // A symlink entry: the same header with type 2 and its checksum fixed.
    const link = tarHeader("golden", 0, 0);
    link.write("2", 156, 1, "ascii");
    link.write("        ", 148, 8, "ascii");
    let sum = 0;
    for (const b of link) sum += b;
    link.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
    const good = await packTar(entries);
    const withLink = Buffer.concat([link, good]);
    expect((await refusal(withLink)).message).toMatch(/not a regular file \(type "2"\); links and folders are refused/);
  });

  it("any damage: random byte changes, cuts and splices are refused with a reason or change nothing signed", async () => {
    const { prng } = await import("../helpers/prng.js");
    const { readTarEntries } = await import("../../src/model/tar-reader.js");
    const rand = prng(16);
    const headerAt = (await readTarEntries(bufferSource(bundle), 200)).map((e) => e.offset - 512);
    const good = await verifyBundle(bufferSource(bundle), { trust: trust(), maxBytes: MAX });
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      const copy = Buffer.from(bundle);
      const kind = i % 4;
      let damaged: Buffer = copy;
      if (kind === 0) {
        for (let k = 0; k < 1 + (i % 5); k++) {
          const at = Math.floor(rand() * copy.length);
          copy[at] = Math.floor(rand() * 256);
        }
      } else if (kind === 1) {
        // Damage aimed at the header blocks (names, sizes, types, checksums).
        const at = (headerAt[Math.floor(rand() * headerAt.length)] as number) + Math.floor(rand() * 512);
        copy[at] = Math.floor(rand() * 256);
      } else if (kind === 2) damaged = copy.subarray(0, Math.floor(rand() * copy.length));
      else {
        // A piece of the bundle repeated somewhere else in it.
        const from = Math.floor(rand() * copy.length);
        const to = Math.floor(rand() * copy.length);
        const len = Math.floor(rand() * 4096);
        damaged = Buffer.concat([copy.subarray(0, to), copy.subarray(from, from + len), copy.subarray(to)]);
      }
      try {
        const b = await verifyBundle(bufferSource(damaged), { trust: trust(), maxBytes: MAX });
        // Accepted only when the damage hit bytes nothing reads (padding, after the end marker):
        // the signed contents are then exactly the original's.
        expect(b.indexSha256).toBe(good.indexSha256);
      } catch (err) {
        if (!(err instanceof BundleRefusedError)) throw err;
        expect(err.message.length).toBeGreaterThan(20);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(300);
  });

  it("an index whose manifest disagrees with it", async () => {
    const b = await rebuild(bundle, privateKey, (index) => {
      index.version = "1.0.1";
    });
    const r = await refusal(b);
    expect(r.code).toBe("invalid_manifest");
    expect(r.message).toMatch(/manifest says round-parts 1\.0\.0 but the signed index says round-parts 1\.0\.1/);
  });
});

describe("linesight model keygen|pack|verify", () => {
  it("exit 0 for a good bundle, 1 with the reason for a refused one", () => {
    const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, "model", ...args], { encoding: "utf8" });
    const keys = join(dir, "cli-keys");
    const kg = cli("keygen", "--out", keys);
    expect(kg.status, kg.stderr).toBe(0);
    const out = join(dir, "cli.lsm");
    const p = cli("pack", MODEL, "--key", join(keys, "linesight-model.key"), "--out", out, "--golden-count", "3");
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/packed round-parts@1\.0\.0 .*3 golden frames, signed by key [0-9a-f]{16}/);
    const ok = cli("verify", out, "--key", join(keys, "linesight-model.pub"));
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ok: round-parts 1\.0\.0, signed by key/);
    const wrong = cli("verify", out, "--key", pubPath);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/^refused \(unknown_key\): the bundle is signed by key/);
    const noKey = cli("pack", MODEL, "--out", join(dir, "x.lsm"));
    expect(noKey.status).toBe(2);
    expect(noKey.stderr).toMatch(/pack needs --key KEY/);
  });
});
