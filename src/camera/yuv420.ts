// Raw YUV 4:2:0 frames (I420: a Y plane, then U, then V at half size each way), as rpicam-vid
// --codec yuv420, GStreamer's I420 and ffmpeg's yuv420p write them. Pure: only pixel arithmetic.
//
// The model needs few pixels (e.g. 160x120 from 640x480), so preprocessing does not convert the
// whole frame: it interleaves Y, U and V (at chroma resolution when the model input is at most
// half the frame's size), lets libvips resize that once, and converts only the model's pixels
// to RGB. Resizing before converting is exact, since the conversion is affine (up to clamping).

export type YuvMatrix = "bt601" | "bt709";
export type YuvRange = "limited" | "full";

export interface YuvColour {
  matrix: YuvMatrix;
  /** limited: Y 16..235, U/V 16..240 (video); full: 0..255 (JPEG). */
  range: YuvRange;
}

/** An I420 frame's layout: what the capture program was asked to write. */
export interface RawLayout {
  format: "yuv420p";
  width: number;
  height: number;
  colour: YuvColour;
}

export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Bytes of one tightly packed I420 frame (odd sizes round the chroma planes up). */
export function yuv420Bytes(width: number, height: number): number {
  return width * height + 2 * Math.ceil(width / 2) * Math.ceil(height / 2);
}

// Kr/Kb of each matrix (ITU-R BT.601 and BT.709).
const K: Record<YuvMatrix, { r: number; b: number }> = {
  bt601: { r: 0.299, b: 0.114 },
  bt709: { r: 0.2126, b: 0.0722 },
};

export interface Coefficients {
  yScale: number;
  yOffset: number;
  cScale: number;
  rv: number;
  gu: number;
  gv: number;
  bu: number;
}

/** The conversion's constants (also handed to the native preprocessing, native/jpeg-tensor). */
export function yuvColourCoefficients(c: YuvColour): Coefficients {
  const { r: kr, b: kb } = K[c.matrix];
  const kg = 1 - kr - kb;
  const limited = c.range === "limited";
  const cScale = limited ? 255 / 224 : 1;
  return {
    yScale: limited ? 255 / 219 : 1,
    yOffset: limited ? 16 : 0,
    cScale,
    rv: 2 * (1 - kr) * cScale,
    gu: ((-2 * kb * (1 - kb)) / kg) * cScale,
    gv: ((-2 * kr * (1 - kr)) / kg) * cScale,
    bu: 2 * (1 - kb) * cScale,
  };
}

/** Interleaved Y,U,V of black, for padding (contain). */
export function yuvBlack(c: YuvColour): [number, number, number] {
  return [c.range === "limited" ? 16 : 0, 128, 128];
}

/**
 * Interleaved YUV (3 bytes a pixel) to interleaved RGB, `pixels` pixels. Uint8ClampedArray both
 * rounds and clamps, which out-of-gamut YUV needs.
 */
export function yuvToRgb(yuv: Uint8Array, pixels: number, colour: YuvColour): Uint8Array {
  const k = yuvColourCoefficients(colour);
  const out = new Uint8ClampedArray(pixels * 3);
  for (let j = 0; j < pixels * 3; j += 3) {
    const y = ((yuv[j] as number) - k.yOffset) * k.yScale;
    const u = (yuv[j + 1] as number) - 128;
    const v = (yuv[j + 2] as number) - 128;
    out[j] = y + k.rv * v;
    out[j + 1] = y + k.gu * u + k.gv * v;
    out[j + 2] = y + k.bu * u;
  }
  return new Uint8Array(out.buffer, 0, out.length);
}

/**
 * The frame's `region` as interleaved Y,U,V. With `half`, at chroma resolution (each Y a 2x2
 * average; region rounded to even edges); otherwise at full resolution (each U/V sample used
 * for its 2x2 block).
 */
export function interleaveYuv420(
  data: Uint8Array,
  layout: RawLayout,
  region: Region,
  half: boolean,
): { data: Buffer; width: number; height: number } {
  const W = layout.width;
  const cw = Math.ceil(W / 2);
  const uBase = W * layout.height;
  const vBase = uBase + cw * Math.ceil(layout.height / 2);
  if (half) {
    const x0 = region.x >> 1;
    const y0 = region.y >> 1;
    const w = Math.max(1, region.width >> 1);
    const h = Math.max(1, region.height >> 1);
    const out = Buffer.allocUnsafe(w * h * 3);
    // The 2x2 block's right/bottom neighbour, clamped to the frame for odd sizes.
    const lastX = W - 1;
    const lastY = layout.height - 1;
    for (let r = 0, j = 0; r < h; r++) {
      const cy = y0 + r;
      const row0 = Math.min(2 * cy, lastY) * W;
      const row1 = Math.min(2 * cy + 1, lastY) * W;
      const crow = cy * cw;
      for (let c = 0; c < w; c++, j += 3) {
        const cx = x0 + c;
        const a = Math.min(2 * cx, lastX);
        const b = Math.min(2 * cx + 1, lastX);
        out[j] =
          ((data[row0 + a] as number) +
            (data[row0 + b] as number) +
            (data[row1 + a] as number) +
            (data[row1 + b] as number) +
            2) >>
          2;
        out[j + 1] = data[uBase + crow + cx] as number;
        out[j + 2] = data[vBase + crow + cx] as number;
      }
    }
    return { data: out, width: w, height: h };
  }
  const { x: x0, y: y0, width: w, height: h } = region;
  const out = Buffer.allocUnsafe(w * h * 3);
  for (let r = 0, j = 0; r < h; r++) {
    const y = y0 + r;
    const yRow = y * W;
    const cRow = (y >> 1) * cw;
    for (let c = 0; c < w; c++, j += 3) {
      const x = x0 + c;
      out[j] = data[yRow + x] as number;
      out[j + 1] = data[uBase + cRow + (x >> 1)] as number;
      out[j + 2] = data[vBase + cRow + (x >> 1)] as number;
    }
  }
  return { data: out, width: w, height: h };
}

/** The whole frame as interleaved RGB at full resolution (for a JPEG of it). */
export function yuv420ToRgb(data: Uint8Array, layout: RawLayout): Uint8Array {
  const { width, height } = layout;
  const yuv = interleaveYuv420(data, layout, { x: 0, y: 0, width, height }, false);
  return yuvToRgb(yuv.data, width * height, layout.colour);
}
