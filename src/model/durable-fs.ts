// Writes that survive power loss: data fsynced before it becomes visible under its final name,
// and the directory fsynced after a rename so the name itself is on disk.
import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates `path` (never overwrites), writes all chunks and fsyncs it. */
export async function writeFileSynced(
  path: string,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  mode = 0o644,
): Promise<void> {
  const handle = await open(path, "wx", mode);
  try {
    for await (const c of chunks) await handle.write(c);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces `path` atomically: a reader (or a restart after kill -9) sees the old bytes or the new. */
export async function replaceFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${randomBytes(4).toString("hex")}`);
  try {
    await writeFileSynced(tmp, [typeof data === "string" ? Buffer.from(data) : data]);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dirname(path));
}
