// Cuts an MJPEG byte stream (JPEG after JPEG, as rpicam-vid, ffmpeg and gstreamer write them to a
// pipe) into frames. It follows the JPEG structure instead of searching for FFD8/FFD9 anywhere:
// header segments are skipped by their length (so an EXIF thumbnail's own SOI/EOI cannot cut a
// frame short), and only the entropy-coded data is scanned for markers. Every byte is looked at
// once, whatever the read sizes: the state carries over between chunks.
import type { FrameSplitter } from "./frame-splitter.js";

export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

const S = {
  /** Outside a frame, looking for FF D8. */
  Seek: 0,
  /** Outside a frame, the previous byte was FF. */
  SeekFF: 1,
  /** In the header, expecting the FF of the next marker. */
  Marker: 2,
  /** In the header, the previous byte was FF: this one is the marker code. */
  Code: 3,
  LenHi: 4,
  LenLo: 5,
  /** Inside a segment's payload, `skip` bytes left. */
  Skip: 6,
  /** Entropy-coded data after SOS. */
  Entropy: 7,
  /** Entropy-coded data, the previous byte was FF. */
  EntropyFF: 8,
} as const;
type State = (typeof S)[keyof typeof S];

const FF = Buffer.from([0xff]);

/**
 * The largest length a header segment of each kind can have (DQT: four 16-bit tables; DHT: four
 * tables of 16 counts and 256 symbols; SOF: 255 components; SOS: 4 components; DRI: fixed). A
 * larger one means the frame was cut inside its header and these are another frame's bytes:
 * trusting it would skip up to 64 KB of what follows. APPn and COM may legitimately be that long.
 */
function maxSegmentLength(code: number): number {
  if (code === 0xdb) return 2 + 4 * 129;
  if (code === 0xc4) return 2 + 4 * (1 + 16 + 256);
  if (code === 0xda) return 2 + 1 + 2 * 4 + 3;
  if (code === 0xdd) return 4;
  if (code >= 0xc0 && code <= 0xcf) return 2 + 6 + 3 * 255;
  return 0xffff;
}

export class MjpegSplitter implements FrameSplitter {
  corrupt = 0;
  skippedBytes = 0;
  private state: State = S.Seek;
  /** The current frame's bytes from earlier chunks. */
  private parts: Buffer[] = [];
  private partsLength = 0;
  private code = 0;
  private lenHi = 0;
  private skip = 0;
  private sawScan = false;
  // Per feed() call: the chunk, the frames completed, the position, where the current frame's
  // bytes begin in this chunk (0: in an earlier one), where unclaimed bytes begin while seeking
  // (-1: an FF carried over from the previous chunk).
  private chunk: Buffer = Buffer.alloc(0);
  private out: Buffer[] = [];
  private i = 0;
  private from = 0;
  private seekFrom = 0;

  constructor(private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  feed(chunk: Buffer): Buffer[] {
    const len = chunk.length;
    this.chunk = chunk;
    this.out = [];
    this.i = 0;
    this.from = 0;
    this.seekFrom = this.state === S.SeekFF ? -1 : 0;

    while (this.i < len) {
      const i = this.i;
      switch (this.state) {
        case S.Seek: {
          const j = chunk.indexOf(0xff, i);
          if (j < 0) {
            this.i = len;
          } else {
            this.i = j + 1;
            this.state = S.SeekFF;
          }
          break;
        }
        case S.SeekFF: {
          const b = chunk[i] as number;
          if (b === 0xd8) {
            this.skippedBytes += Math.max(0, (i > 0 ? i - 1 : -1) - this.seekFrom); // bytes before the FF
            this.startFrame();
          } else if (b !== 0xff) {
            this.state = S.Seek;
          }
          this.i++;
          break;
        }
        case S.Marker: {
          if (chunk[i] !== 0xff)
            this.dropFrame(); // lost sync inside the header
          else this.state = S.Code;
          this.i++;
          break;
        }
        case S.Code: {
          this.onMarker(chunk[i] as number);
          this.i++;
          break;
        }
        case S.LenHi: {
          this.lenHi = chunk[i] as number;
          this.state = S.LenLo;
          this.i++;
          break;
        }
        case S.LenLo: {
          const length = (this.lenHi << 8) | (chunk[i] as number);
          if (length < 2 || length > maxSegmentLength(this.code)) {
            this.dropFrame();
          } else {
            if (this.code === 0xda) this.sawScan = true;
            this.skip = length - 2;
            this.state = this.skip > 0 ? S.Skip : this.afterSegment();
          }
          this.i++;
          break;
        }
        case S.Skip: {
          const n = Math.min(this.skip, len - i);
          this.i += n;
          this.skip -= n;
          if (this.skip === 0) this.state = this.afterSegment();
          break;
        }
        case S.Entropy: {
          const j = chunk.indexOf(0xff, i);
          if (j < 0) {
            this.i = len;
          } else {
            this.i = j + 1;
            this.state = S.EntropyFF;
          }
          break;
        }
        case S.EntropyFF: {
          const b = chunk[i] as number;
          if (b === 0x00 || b === 0x01 || (b >= 0xd0 && b <= 0xd7)) {
            this.state = S.Entropy; // stuffed FF00, TEM or a restart marker: still image data
          } else if (b !== 0xff) {
            this.onMarker(b); // EOI, a new SOI (truncated frame), or a segment between scans
          }
          this.i++;
          break;
        }
      }
    }

    if (this.state === S.Seek || this.state === S.SeekFF) {
      // A trailing FF may begin the next frame's SOI: count it only once it turns out not to.
      this.skippedBytes += Math.max(0, len - this.seekFrom - (this.state === S.SeekFF ? 1 : 0));
    } else {
      this.parts.push(chunk.subarray(this.from));
      this.partsLength += len - this.from;
      if (this.partsLength > this.maxFrameBytes) {
        // No end in sight: drop what we have rather than grow without bound.
        this.corrupt++;
        this.clearFrame();
      }
    }
    const out = this.out;
    this.out = [];
    this.chunk = Buffer.alloc(0);
    return out;
  }

  reset(): void {
    if (this.state !== S.Seek && this.state !== S.SeekFF) this.corrupt++;
    if (this.state === S.SeekFF) this.skippedBytes++;
    this.clearFrame();
  }

  /** A marker code inside a frame (after an FF). */
  private onMarker(b: number): void {
    if (b === 0xd8) {
      // A new frame began before this one ended: this one was truncated.
      this.corrupt++;
      this.startFrame();
    } else if (b === 0xd9) {
      this.endFrame();
    } else if (b === 0xff) {
      this.state = S.Code; // fill byte before a marker
    } else if (b === 0x01 || (b >= 0xd0 && b <= 0xd7)) {
      this.state = S.Marker; // markers without a length
    } else if (b < 0xc0) {
      this.dropFrame(); // FF00 or a reserved code: not a marker in a header
    } else {
      this.code = b;
      this.state = S.LenHi;
    }
  }

  private afterSegment(): State {
    return this.code === 0xda ? S.Entropy : S.Marker;
  }

  /** At the D8 of an SOI; its FF is just before, possibly at the end of the previous chunk. */
  private startFrame(): void {
    const ffHere = this.i > 0;
    this.parts = ffHere ? [] : [FF];
    this.partsLength = ffHere ? 0 : 1;
    this.from = ffHere ? this.i - 1 : this.i;
    this.sawScan = false;
    this.state = S.Marker;
  }

  /** At the D9 of an EOI. */
  private endFrame(): void {
    if (!this.sawScan) {
      this.dropFrame(); // SOI..EOI without image data cannot be decoded
      return;
    }
    const tail = this.chunk.subarray(this.from, this.i + 1);
    this.out.push(this.parts.length === 0 ? Buffer.from(tail) : Buffer.concat([...this.parts, tail]));
    this.clearFrame();
    this.seekFrom = this.i + 1;
  }

  private dropFrame(): void {
    this.corrupt++;
    this.clearFrame();
    this.seekFrom = this.i + 1;
  }

  private clearFrame(): void {
    this.parts = [];
    this.partsLength = 0;
    this.state = S.Seek;
  }
}
