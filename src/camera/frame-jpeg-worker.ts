// Worker thread of FrameJpegEncoder: raw I420 frame -> RGB -> JPEG, off the pipeline's thread.
import { parentPort, workerData } from "node:worker_threads";
import sharp from "sharp";
import type { JpegJob, JpegResult } from "./frame-jpeg.js";
import { yuv420ToRgb } from "./yuv420.js";

sharp.concurrency(1);
sharp.cache(false);
const quality = (workerData as { quality: number }).quality;
const port = parentPort;
if (!port) throw new Error("frame-jpeg-worker runs as a worker thread");

port.on("message", (job: JpegJob) => {
  const { width, height } = job.layout;
  let reply: Promise<JpegResult>;
  try {
    const rgb = yuv420ToRgb(job.data, job.layout);
    reply = sharp(rgb, { raw: { width, height, channels: 3 } })
      .jpeg({ quality })
      .toBuffer()
      .then((jpeg) => ({ id: job.id, jpeg: new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.length) }));
  } catch (err) {
    reply = Promise.reject(err);
  }
  reply.then(
    (r) => port.postMessage(r, r.jpeg ? [r.jpeg.buffer as ArrayBuffer] : []),
    (err: Error) => port.postMessage({ id: job.id, error: err.message } satisfies JpegResult),
  );
});
