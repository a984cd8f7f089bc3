// Secrets (MQTT and camera passwords, HTTP token) come from a file or a systemd credential, never inline.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { UserFacingError } from "../errors.js";

export class SecretError extends UserFacingError {}

/** The secret's text (one trailing newline dropped). `key` names the config key in errors. */
export async function readSecret(ref: {
  file?: string | undefined;
  credential?: string | undefined;
  key?: string;
}): Promise<string> {
  const where = ref.key ? `${ref.key}: ` : "";
  let path: string;
  if (ref.file) {
    path = ref.file;
  } else if (ref.credential) {
    const dir = process.env.CREDENTIALS_DIRECTORY;
    if (!dir) {
      throw new SecretError(
        `${where}systemd credential "${ref.credential}" requested but $CREDENTIALS_DIRECTORY is not set: add LoadCredential=${ref.credential}:/path/to/file to the unit, or use a *_file setting`,
      );
    }
    path = join(dir, ref.credential);
  } else {
    throw new SecretError(`${where}no secret file or credential given`);
  }
  try {
    return (await readFile(path, "utf8")).replace(/\r?\n$/, "");
  } catch (err) {
    throw new SecretError(
      `${where}cannot read secret file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}
