// One frame through the native preprocessing (native/jpeg-tensor) of an installed linesight, for
// deploy/test-arm64.sh: `--write` records this machine's pixels, otherwise the installed build
// (arm64 under QEMU) must give the same ones. Integer arithmetic throughout (no FMA), so the same
// bytes are expected; up to 1 level is allowed for libjpeg-turbo's SIMD IDCTs.
//   node deploy/jpeg-tensor-check.mjs APP_ROOT FRAME.jpg REF.bin [--write]
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [app, frame, ref, mode] = process.argv.slice(2);
const load = (p) => import(pathToFileURL(join(app, "dist", "src", p)).href);
const { jpegTensorAddon } = await load("model/jpeg-tensor-addon.js");
const { nativeParams } = await load("model/preprocess-native.js");
const { frameFeatures, featuresFromArray } = await load("monitor/frame-features.js");
const spec = {
  name: "image",
  shape: [1, 3, 120, 160],
  layout: "NCHW",
  dtype: "float32",
  color: "RGB",
  resize: { mode: "fill", kernel: "turbo-dct-box" },
  scale: 1 / 255,
  mean: [0, 0, 0],
  std: [1, 1, 1],
};
const tensor = new Float32Array(160 * 120 * 3);
const rgb = new Uint8Array(160 * 120 * 3);
const roi = { x: 17, y: 9, width: 250, height: 201 }; // a finer DCT scale and the area average too
const features = new Float64Array(6);
const out = [];
for (const r of [undefined, roi]) {
  const res = jpegTensorAddon().jpegSync(readFileSync(frame), nativeParams(spec, r), tensor, rgb, features);
  if (Math.abs(tensor[100] - rgb[300] / 255) > 1e-6) throw new Error("the tensor is not the RGB pixels scaled");
  // The drift features from the same pass: bit for bit what the JavaScript computes of the same pixels.
  const native = JSON.stringify(featuresFromArray(features));
  const js = JSON.stringify(frameFeatures(rgb, 160, 120));
  if (native !== js) throw new Error(`jpeg-tensor on ${process.arch}: features ${native}, JavaScript ${js}`);
  out.push(Buffer.from(rgb), Buffer.from(Int32Array.from(res).buffer));
}
const got = Buffer.concat(out);
if (mode === "--write") {
  writeFileSync(ref, got);
  process.exit(0);
}
const want = readFileSync(ref);
if (want.length !== got.length) throw new Error(`jpeg-tensor: ${got.length} bytes, expected ${want.length}`);
let max = 0;
let differ = 0;
for (let i = 0; i < got.length; i++) {
  const d = Math.abs(got[i] - want[i]);
  if (d) differ++;
  max = Math.max(max, d);
}
console.log(`jpeg-tensor on ${process.arch}: ${differ} of ${got.length} bytes differ from the reference, max ${max}`);
process.exit(max <= 1 ? 0 : 1);
