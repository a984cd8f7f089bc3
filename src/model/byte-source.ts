// Random-access bytes of a bundle: a file read in bounded pieces, or a buffer (an MQTT payload).
import { type FileHandle, open } from "node:fs/promises";
import { UserFacingError } from "../errors.js";

export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset`; the caller keeps within `size`. */
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export function bufferSource(data: Uint8Array): ByteSource {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return {
    size: buf.length,
    read: async (offset, length) => buf.subarray(offset, offset + length),
    close: async () => {},
  };
}

export async function fileSource(path: string): Promise<ByteSource> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (err) {
    throw new UserFacingError(`cannot read the bundle ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new UserFacingError(`${path} is not a file; give the path of a .lsm bundle`);
  }
  const size = stat.size;
  return {
    size,
    async read(offset, length) {
      const out = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw new Error(`${path} shrank while being read`);
        done += bytesRead;
      }
      return out;
    },
    close: () => handle.close(),
  };
}

/** Reads `length` bytes at `offset` in chunks of at most `chunk`, for hashing or copying. */
export async function* chunksOf(source: ByteSource, offset: number, length: number, chunk = 1 << 20) {
  for (let at = 0; at < length; at += chunk) yield await source.read(offset + at, Math.min(chunk, length - at));
}
