// Real JPEG frames for splitter tests, made with sharp: noisy pictures (lots of stuffed FF00 bytes
// in the entropy data), progressive ones (several scans), and one carrying an EXIF-style thumbnail
// (a whole JPEG, SOI to EOI, inside an APP1 segment).
import sharp from "sharp";
import { prng } from "./prng.js";

export async function noisyJpeg(
  width: number,
  height: number,
  seed: number,
  opts: { quality?: number; progressive?: boolean } = {},
): Promise<Buffer> {
  const rand = prng(seed);
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(rand() * 256);
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: opts.quality ?? 85, progressive: opts.progressive ?? false })
    .toBuffer();
}

/** `frame` with an APP1 segment holding `thumbnail` (a complete JPEG) right after its SOI. */
export function withEmbeddedThumbnail(frame: Buffer, thumbnail: Buffer): Buffer {
  const payload = Buffer.concat([Buffer.from("Exif\0\0"), thumbnail]);
  const header = Buffer.from([0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]);
  return Buffer.concat([frame.subarray(0, 2), header, payload, frame.subarray(2)]);
}

/** Index of the first entropy-coded byte (just after the SOS header). */
export function scanStart(jpeg: Buffer): number {
  let i = 2;
  for (;;) {
    const code = jpeg[i + 1] as number;
    const length = ((jpeg[i + 2] as number) << 8) | (jpeg[i + 3] as number);
    i += 2 + length;
    if (code === 0xda) return i;
  }
}
