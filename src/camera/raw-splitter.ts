// Cuts a stream of uncompressed frames of one known size (e.g. `ffmpeg -f rawvideo`, or
// `rpicam-vid --codec yuv420`) into frames. Raw frames carry no markers, so a lost byte cannot be
// detected here: the capture process's exit (and the restart, which calls reset()) is what
// realigns the stream.
import type { FrameSplitter } from "./frame-splitter.js";
import { yuv420Bytes } from "./yuv420.js";

export type RawPixelFormat = "yuv420p" | "nv12" | "rgb24" | "bgr24" | "gray";

/** Bytes in one frame of `format` at width x height. */
export function rawFrameBytes(format: RawPixelFormat, width: number, height: number): number {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`frame size ${width}x${height} is not a positive integer size`);
  }
  switch (format) {
    case "yuv420p":
    case "nv12":
      return yuv420Bytes(width, height);
    case "rgb24":
    case "bgr24":
      return width * height * 3;
    case "gray":
      return width * height;
  }
}

export class RawSplitter implements FrameSplitter {
  corrupt = 0;
  readonly skippedBytes = 0;
  private parts: Buffer[] = [];
  private partsLength = 0;

  constructor(readonly frameBytes: number) {
    if (!Number.isInteger(frameBytes) || frameBytes <= 0) throw new RangeError(`frame size ${frameBytes} bytes`);
  }

  feed(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    if (this.partsLength > 0) {
      const need = this.frameBytes - this.partsLength;
      if (chunk.length < need) {
        this.parts.push(chunk);
        this.partsLength += chunk.length;
        return out;
      }
      out.push(Buffer.concat([...this.parts, chunk.subarray(0, need)]));
      this.parts = [];
      this.partsLength = 0;
      i = need;
    }
    while (chunk.length - i >= this.frameBytes) {
      out.push(Buffer.from(chunk.subarray(i, i + this.frameBytes)));
      i += this.frameBytes;
    }
    if (i < chunk.length) {
      this.parts.push(chunk.subarray(i));
      this.partsLength = chunk.length - i;
    }
    return out;
  }

  reset(): void {
    if (this.partsLength > 0) this.corrupt++;
    this.parts = [];
    this.partsLength = 0;
  }
}
