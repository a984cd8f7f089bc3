// What a model bundle (.lsm) holds and what its signature covers. Pure.
//
// A bundle is a ustar archive, in this order:
//   bundle.json   the signed index: name, version, every other file with its size and sha256,
//                 and the golden frames with the scores this model must reproduce
//   bundle.sig    a detached Ed25519 signature over the exact bytes of bundle.json (absent when unsigned)
//   manifest.json, the model file, MODEL_CARD.md, golden/<frames>
// The index comes first so a reader can check the signature before touching the large files.
import { z } from "zod";
import { UserFacingError } from "../errors.js";
import { SAFE_NAME } from "./tar-reader.js";
import { VERSION_PATTERN } from "./version.js";

export const INDEX_NAME = "bundle.json";
export const SIGNATURE_NAME = "bundle.sig";
export const BUNDLE_FORMAT = "linesight-model-bundle";

export const MAX_INDEX_BYTES = 1 << 20;
export const MAX_SIGNATURE_BYTES = 4096;
export const MAX_ENTRIES = 128;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, "64 lower-case hex digits");
const fileName = z.string().regex(SAFE_NAME, "a plain relative file name");

export const bundleIndexSchema = z.strictObject({
  format: z.literal(BUNDLE_FORMAT),
  format_version: z.literal(1),
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/),
  version: z.string().regex(VERSION_PATTERN, "MAJOR.MINOR.PATCH"),
  created: z.string().min(1),
  packed_by: z.string(),
  manifest: fileName,
  files: z
    .array(z.strictObject({ path: fileName, bytes: z.number().int().nonnegative(), sha256 }))
    .min(2)
    .max(MAX_ENTRIES - 2),
  golden: z
    .array(
      z.strictObject({
        file: fileName,
        label: z.string().min(1),
        kind: z.string().min(1),
        score: z.number().min(0).max(1),
      }),
    )
    .max(64),
});
export type BundleIndex = z.infer<typeof bundleIndexSchema>;

export const signatureSchema = z.strictObject({
  algorithm: z.literal("ed25519"),
  key_id: z.string().regex(/^[0-9a-f]{16}$/),
  signature: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, "a base64 Ed25519 signature"),
});
export type BundleSignature = z.infer<typeof signatureSchema>;

export type RefusalCode =
  | "too_large"
  | "truncated"
  | "corrupt"
  | "invalid_index"
  | "unsigned"
  | "unknown_key"
  | "bad_signature"
  | "hash_mismatch"
  | "invalid_manifest"
  | "downgrade"
  | "conflict"
  | "incompatible"
  | "session"
  | "golden"
  | "latency";

/** A bundle that must not be installed; `code` is stable for replies and events. */
export class BundleRefusedError extends UserFacingError {
  constructor(
    readonly code: RefusalCode,
    message: string,
  ) {
    super(message);
  }
}

/** The store's name for an installed version: safe as a folder name (both parts are restricted). */
export function versionId(index: Pick<BundleIndex, "name" | "version">): string {
  return `${index.name}@${index.version}`;
}
