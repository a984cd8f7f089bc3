// Reads a model directory: manifest.json validated, model.onnx present and matching its sha256.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { UserFacingError } from "../errors.js";
import { type Manifest, ManifestError, parseManifest } from "./manifest.js";

export class ModelRefusedError extends UserFacingError {}

export interface ModelFiles {
  dir: string;
  manifest: Manifest;
  onnxPath: string;
  bytes: Buffer;
}

export function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

export async function readManifest(dir: string): Promise<Manifest> {
  const path = join(dir, "manifest.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ModelRefusedError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelRefusedError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  try {
    return parseManifest(json, path);
  } catch (err) {
    if (err instanceof ManifestError) throw new ModelRefusedError(err.message);
    throw err;
  }
}

/** Loads and verifies the files; refuses (throws ModelRefusedError) on any mismatch. */
export async function readModelFiles(dir: string): Promise<ModelFiles> {
  const manifest = await readManifest(dir);
  const onnxPath = join(dir, manifest.file);
  let bytes: Buffer;
  try {
    bytes = await readFile(onnxPath);
  } catch (err) {
    throw new ModelRefusedError(`cannot read model file ${onnxPath}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const actual = sha256(bytes);
  if (actual !== manifest.sha256) {
    throw new ModelRefusedError(
      `${onnxPath} has sha256 ${actual} but manifest.json says ${manifest.sha256}: ` +
        "the file is corrupt or was replaced without updating the manifest",
    );
  }
  return { dir, manifest, onnxPath, bytes };
}
