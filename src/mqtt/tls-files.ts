// Reads the TLS material named in mqtt.tls once at start, with errors that name the key and the fix.
import { readFile } from "node:fs/promises";
import type { Config } from "../config/schema.js";
import { readSecret, SecretError } from "../config/secrets.js";

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
}

async function readPem(key: string, path: string): Promise<Buffer> {
  let pem: Buffer;
  try {
    pem = await readFile(path);
  } catch (err) {
    throw new SecretError(
      `mqtt.tls.${key}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check the path and that the service user may read it`,
    );
  }
  if (!pem.includes("-----BEGIN ")) {
    throw new SecretError(`mqtt.tls.${key}: ${path} is not a PEM file (no "-----BEGIN" line); convert it with openssl`);
  }
  return pem;
}

export async function readTlsFiles(tls: Config["mqtt"]["tls"]): Promise<TlsMaterial> {
  const out: TlsMaterial = { rejectUnauthorized: tls.reject_unauthorized };
  if (tls.ca_file) out.ca = await readPem("ca_file", tls.ca_file);
  if (tls.cert_file) out.cert = await readPem("cert_file", tls.cert_file);
  if (tls.key_file) out.key = await readPem("key_file", tls.key_file);
  else if (tls.key_credential) {
    const key = await readSecret({ credential: tls.key_credential });
    if (!key.includes("-----BEGIN "))
      throw new SecretError(`mqtt.tls.key_credential: credential "${tls.key_credential}" is not a PEM private key`);
    out.key = Buffer.from(`${key}\n`);
  }
  return out;
}
