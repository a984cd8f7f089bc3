// Ed25519 keys and detached signatures for model bundles, with Node's own crypto.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { UserFacingError } from "../errors.js";

export class KeyError extends UserFacingError {}

export interface PublicKey {
  id: string;
  key: KeyObject;
  /** Where it came from, for messages. */
  source: string;
}

/** A short, stable name for a public key: the first 16 hex digits of its DER's sha256. */
export function keyId(key: KeyObject): string {
  return createHash("sha256")
    .update(key.export({ type: "spki", format: "der" }))
    .digest("hex")
    .slice(0, 16);
}

export interface KeyPairFiles {
  privatePath: string;
  publicPath: string;
  id: string;
}

/** Writes `<name>.key` (PKCS#8 PEM, mode 0600) and `<name>.pub` (SPKI PEM); never overwrites. */
export async function generateKeyPair(dir: string, name = "linesight-model"): Promise<KeyPairFiles> {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const privatePath = join(dir, `${name}.key`);
  const publicPath = join(dir, `${name}.pub`);
  const exclusive = async (path: string, data: string, mode: number) => {
    try {
      await writeFile(path, data, { flag: "wx", mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST")
        throw new KeyError(`${path} already exists; keys are never overwritten (choose another --out)`);
      throw new KeyError(`cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
  };
  await exclusive(privatePath, privateKey.export({ type: "pkcs8", format: "pem" }) as string, 0o600);
  await exclusive(publicPath, publicKey.export({ type: "spki", format: "pem" }) as string, 0o644);
  return { privatePath, publicPath, id: keyId(publicKey) };
}

async function readKeyFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw new KeyError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}

export async function loadPublicKey(path: string): Promise<PublicKey> {
  const text = await readKeyFile(path, "public key");
  let key: KeyObject;
  try {
    key = createPublicKey(text);
  } catch (err) {
    throw new KeyError(
      `${path} is not a PEM public key (${(err as Error).message}); use the .pub file from 'linesight model keygen'`,
    );
  }
  if (key.asymmetricKeyType !== "ed25519")
    throw new KeyError(`${path} is a ${key.asymmetricKeyType} key; model bundles are signed with Ed25519 keys`);
  return { id: keyId(key), key, source: path };
}

/** Loads a private key, refusing one others can read (like ssh does). */
export async function loadPrivateKey(path: string): Promise<KeyObject> {
  const text = await readKeyFile(path, "private key");
  const mode = (await stat(path)).mode & 0o777;
  if (mode & 0o077)
    throw new KeyError(`${path} is readable by others (mode ${mode.toString(8)}); run: chmod 600 ${path}`);
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch (err) {
    throw new KeyError(
      `${path} is not a PEM private key (${(err as Error).message}); use the .key file from 'linesight model keygen'`,
    );
  }
  if (key.asymmetricKeyType !== "ed25519")
    throw new KeyError(`${path} is a ${key.asymmetricKeyType} key; model bundles are signed with Ed25519 keys`);
  return key;
}

export function signBytes(data: Uint8Array, privateKey: KeyObject): Buffer {
  return sign(null, data, privateKey);
}

export function verifyBytes(data: Uint8Array, signature: Uint8Array, publicKey: KeyObject): boolean {
  try {
    return verify(null, data, publicKey, signature);
  } catch {
    return false;
  }
}
