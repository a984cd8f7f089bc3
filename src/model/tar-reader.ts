// Reads the entry table of a ustar archive defensively: only what `TarWriter` writes (regular
// files, short relative names) is accepted, every header's checksum is checked, sizes are
// bounded by the file, and the end-of-archive blocks must be there, so truncation anywhere shows.
import type { ByteSource } from "./byte-source.js";

const BLOCK = 512;

export interface TarEntry {
  name: string;
  /** Offset of the file's bytes in the archive. */
  offset: number;
  size: number;
}

export class TarFormatError extends Error {}

/** Relative names of at most two plain segments (e.g. golden/a.jpg); no "..", no hidden files. */
export const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}(\/[A-Za-z0-9_][A-Za-z0-9_.-]{0,99})?$/;

function field(h: Buffer, offset: number, length: number): string {
  const raw = h.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? length : end).toString("latin1");
}

function octal(h: Buffer, offset: number, length: number, what: string): number {
  const text = field(h, offset, length).trim();
  if (!/^[0-7]{1,12}$/.test(text)) throw new TarFormatError(`bad ${what} field "${text}"`);
  return Number.parseInt(text, 8);
}

export async function readTarEntries(source: ByteSource, maxEntries: number): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  const names = new Set<string>();
  let at = 0;
  for (;;) {
    if (at + BLOCK > source.size)
      throw new TarFormatError(`truncated: the archive ends at byte ${source.size} without its end marker`);
    const h = await source.read(at, BLOCK);
    if (h.every((b) => b === 0)) {
      // End of archive: two zero blocks. Anything after them is not ours.
      if (at + 2 * BLOCK > source.size) throw new TarFormatError("truncated: the end marker is cut short");
      const second = await source.read(at + BLOCK, BLOCK);
      if (!second.every((b) => b === 0)) throw new TarFormatError(`corrupt: a lone zero block at byte ${at}`);
      return entries;
    }
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (h[i] as number);
    if (octal(h, 148, 8, "checksum") !== sum) throw new TarFormatError(`corrupt: header checksum wrong at byte ${at}`);
    const name = field(h, 0, 100);
    const type = String.fromCharCode(h[156] as number);
    if (type !== "0" && type !== "\0")
      throw new TarFormatError(`entry "${name}" is not a regular file (type "${type}"); links and folders are refused`);
    if (field(h, 345, 155) !== "") throw new TarFormatError(`entry "${name}" uses a long-name prefix; refused`);
    if (!SAFE_NAME.test(name)) throw new TarFormatError(`entry name "${name}" is not a plain relative file name`);
    if (names.has(name)) throw new TarFormatError(`entry "${name}" appears twice`);
    names.add(name);
    const size = octal(h, 124, 12, "size");
    const offset = at + BLOCK;
    if (offset + size > source.size)
      throw new TarFormatError(
        `truncated: "${name}" needs ${size} bytes but the archive ends ${source.size - offset} bytes in`,
      );
    entries.push({ name, offset, size });
    if (entries.length > maxEntries) throw new TarFormatError(`more than ${maxEntries} entries`);
    at = offset + Math.ceil(size / BLOCK) * BLOCK;
  }
}
