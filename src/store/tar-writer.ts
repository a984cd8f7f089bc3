// A minimal streaming tar (ustar) writer: enough for an export of files with short names, no
// dependency, and it writes each file as it comes, so memory stays flat. Readable by tar,
// 7-Zip, Python's tarfile and Windows 10+'s bsdtar. Zip would need CRCs and a central directory
// kept until the end; gzip on top would cost the Pi CPU for JPEGs that do not compress.
import { once } from "node:events";
import type { Writable } from "node:stream";

const BLOCK = 512;

export class TarWriter {
  constructor(
    private readonly out: Writable,
    private readonly mtime = Math.floor(Date.now() / 1000),
  ) {}

  /** Writes one file; waits when the stream is full (backpressure), never buffers ahead. */
  async file(name: string, data: Uint8Array): Promise<void> {
    await this.write(tarHeader(name, data.byteLength, this.mtime));
    await this.write(data);
    await this.pad(data.byteLength);
  }

  /** Writes one file whose bytes come in chunks; `size` must be known up front (tar needs it). */
  async fileFrom(name: string, size: number, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    await this.write(tarHeader(name, size, this.mtime));
    let written = 0;
    for await (const c of chunks) {
      written += c.byteLength;
      await this.write(c);
    }
    if (written !== size) throw new Error(`tar: ${name} was ${written} bytes, announced ${size}`);
    await this.pad(size);
  }

  /** Two empty blocks end the archive. */
  async end(): Promise<void> {
    await this.write(Buffer.alloc(BLOCK * 2));
  }

  private async pad(size: number): Promise<void> {
    const rest = size % BLOCK;
    if (rest) await this.write(Buffer.alloc(BLOCK - rest));
  }

  private async write(b: Uint8Array): Promise<void> {
    if (!this.out.write(b)) await once(this.out, "drain");
  }
}

export function tarHeader(name: string, size: number, mtime: number): Buffer {
  const nameBytes = Buffer.from(name);
  if (nameBytes.length > 100) throw new Error(`tar: file name over 100 bytes: ${name}`);
  const h = Buffer.alloc(BLOCK);
  nameBytes.copy(h, 0);
  const octal = (value: number, offset: number, length: number) =>
    h.write(`${value.toString(8).padStart(length - 1, "0")}\0`, offset, length, "ascii");
  octal(0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(mtime, 136, 12);
  h.write("        ", 148, 8, "ascii"); // checksum counts as spaces while summing
  h.write("0", 156, 1, "ascii"); // regular file
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
  return h;
}
