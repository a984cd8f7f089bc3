// `linesight model keygen|pack|verify`: signed model bundles, for the ML engineer's machine and the device.
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { readLabelledDir } from "../dataset/labelled-dir.js";
import { type Trust, verifyBundle } from "../model/bundle.js";
import { BundleRefusedError } from "../model/bundle-index.js";
import { packBundle } from "../model/bundle-pack.js";
import { fileSource } from "../model/byte-source.js";
import { selectGolden } from "../model/golden.js";
import { generateKeyPair, loadPrivateKey, loadPublicKey } from "../model/signing.js";
import { packageRoot } from "../package-info.js";
import { UsageError } from "./usage.js";

export const BUNDLE_HELP = `Usage:
  linesight model keygen --out DIR [--name NAME]
      Creates an Ed25519 signing key pair: DIR/NAME.key (private, mode 0600: keep it off the
      devices) and DIR/NAME.pub (give it to devices in model.trusted_keys). NAME: linesight-model.
  linesight model pack MODEL_DIR --key KEY --out FILE.lsm [--golden FRAMES] [--golden-count 6]
  linesight model pack MODEL_DIR --unsigned --out FILE.lsm ...
      Packs manifest, model, MODEL_CARD.md and a few golden frames (taken from FRAMES, a folder
      with labels.csv; default: the bundled footage) with the scores this model gives them, into
      one file signed with KEY.
  linesight model verify FILE --key PUB [--key PUB2 ...] [--allow-unsigned] [--max-mb 64]
      Checks a bundle as a device would: structure, size, signature by one of the keys, every
      file's sha256. Exit 0 when it would be accepted, 1 with the reason when refused.`;

export const DEFAULT_MAX_BUNDLE_MB = 64;

export async function loadTrust(keyPaths: readonly string[], allowUnsigned: boolean): Promise<Trust> {
  return { keys: await Promise.all(keyPaths.map((p) => loadPublicKey(resolve(p)))), allowUnsigned };
}

function positiveNumber(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number, got "${value}"`);
  return n;
}

export async function bundleCommand(sub: string, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: "string" },
      name: { type: "string" },
      key: { type: "string", multiple: true },
      unsigned: { type: "boolean" },
      golden: { type: "string" },
      "golden-count": { type: "string" },
      "allow-unsigned": { type: "boolean" },
      "max-mb": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(BUNDLE_HELP);
    return 0;
  }
  switch (sub) {
    case "keygen": {
      if (!values.out) throw new UsageError(`linesight model keygen needs --out DIR\n\n${BUNDLE_HELP}`);
      await mkdir(values.out, { recursive: true, mode: 0o700 });
      const k = await generateKeyPair(values.out, values.name ?? "linesight-model");
      console.log(
        `key ${k.id}\n  private: ${k.privatePath} (keep secret)\n  public:  ${k.publicPath} (for model.trusted_keys)`,
      );
      return 0;
    }
    case "pack": {
      const dir = positionals[0];
      if (!dir || !values.out)
        throw new UsageError(`linesight model pack needs MODEL_DIR and --out FILE\n\n${BUNDLE_HELP}`);
      const keys = values.key ?? [];
      if (keys.length > 1) throw new UsageError("pack signs with one --key");
      if (keys.length === 0 && !values.unsigned)
        throw new UsageError("pack needs --key KEY to sign the bundle (or --unsigned for a demo bundle)");
      const frames = await readLabelledDir(resolve(values.golden ?? join(packageRoot, "footage/round-parts")));
      const count = Math.floor(positiveNumber(values["golden-count"], "--golden-count", 6));
      const r = await packBundle({
        modelDir: resolve(dir),
        out: resolve(values.out),
        privateKey: keys[0] ? await loadPrivateKey(resolve(keys[0])) : null,
        golden: selectGolden(frames, count),
      });
      console.log(
        `packed ${r.id} into ${values.out}: ${r.index.files.length} files, ${r.index.golden.length} golden frames, ` +
          (r.keyId ? `signed by key ${r.keyId}` : "UNSIGNED"),
      );
      return 0;
    }
    case "verify": {
      const file = positionals[0];
      if (!file) throw new UsageError(`linesight model verify needs a bundle FILE\n\n${BUNDLE_HELP}`);
      const keys = values.key ?? [];
      if (keys.length === 0 && !values["allow-unsigned"])
        throw new UsageError("verify needs --key PUB (the public keys the device trusts), or --allow-unsigned");
      const trust = await loadTrust(keys, values["allow-unsigned"] ?? false);
      const maxBytes = positiveNumber(values["max-mb"], "--max-mb", DEFAULT_MAX_BUNDLE_MB) * 1048576;
      const source = await fileSource(resolve(file));
      try {
        const b = await verifyBundle(source, { trust, maxBytes });
        console.log(
          `ok: ${b.index.name} ${b.index.version}, ${b.signedBy ? `signed by key ${b.signedBy}` : "accepted UNSIGNED"}, ` +
            `${b.index.files.length} files verified, ${b.index.golden.length} golden frames`,
        );
        return 0;
      } catch (err) {
        if (!(err instanceof BundleRefusedError)) throw err;
        console.error(`refused (${err.code}): ${err.message}`);
        return 1;
      } finally {
        await source.close();
      }
    }
    default:
      throw new UsageError(`unknown command "model ${sub}"\n\n${BUNDLE_HELP}`);
  }
}
