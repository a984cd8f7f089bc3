// A connection wrapped so that MQTT packets above a size limit never reach the MQTT parser whole
// (PacketSizeFilter). Used on both sides: the daemon's client (an oversized PUBLISH is skipped,
// acknowledged if QoS 1 so the broker does not resend it, and reported) and the embedded broker
// (a client sending one is disconnected, as Mosquitto's max_packet_size does).
import { Duplex } from "node:stream";
import { type OversizedPublish, PacketSizeFilter } from "./packet-size-filter.js";

export interface SizeGuardOptions {
  maxPacketBytes: number;
  /** An oversized PUBLISH was skipped. */
  onOversized(p: OversizedPublish): void;
  /** Acknowledge a skipped QoS 1 PUBLISH (client side): otherwise the broker keeps it in flight. */
  acknowledge: boolean;
  /** Disconnect on an oversized PUBLISH instead of skipping it (broker side). */
  disconnect: boolean;
}

class SizeGuardedStream extends Duplex {
  private readonly sizeFilter: PacketSizeFilter;

  constructor(
    private readonly inner: Duplex,
    private readonly opts: SizeGuardOptions,
  ) {
    super({ allowHalfOpen: false });
    this.sizeFilter = new PacketSizeFilter(opts.maxPacketBytes);
    inner.on("data", (chunk: Buffer) => this.onData(chunk));
    inner.once("end", () => this.push(null));
    inner.on("error", (err) => this.destroy(err));
    inner.once("close", () => this.destroy());
  }

  // Handed on at once while the connection takes it; past its high-water mark it waits here, so
  // writableLength (the publisher's congestion check) still sees the backlog.
  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.inner.write(chunk, encoding)) callback();
    else this.inner.once("drain", () => callback());
  }

  // mqtt.js corks the stream around each packet's parts: they must leave in one write, or Nagle's
  // algorithm holds the rest back for a delayed ACK (~40 ms a packet).
  override _writev(
    chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>,
    callback: (err?: Error | null) => void,
  ): void {
    this._write(Buffer.concat(chunks.map((c) => c.chunk)), "buffer" as BufferEncoding, callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.inner.end();
    callback();
  }

  override _read(): void {
    this.inner.resume();
  }

  override _destroy(err: Error | null, callback: (err: Error | null) => void): void {
    this.inner.destroy();
    callback(err);
  }

  private onData(chunk: Buffer): void {
    const out = this.sizeFilter.feed(chunk);
    for (const b of out.pass) if (!this.push(b)) this.inner.pause();
    for (const p of out.oversized) {
      this.opts.onOversized(p);
      if (this.opts.disconnect) {
        this.destroy();
        return;
      }
      // Through our own write side: in order with the MQTT client's packets, never inside one.
      if (this.opts.acknowledge && p.qos === 1 && p.packetId !== null)
        this.write(Buffer.from([0x40, 0x02, p.packetId >> 8, p.packetId & 0xff]));
    }
    if (out.fatal) {
      const err = new Error(
        `received an MQTT packet (type ${out.fatal.type}) of ${out.fatal.bytes} bytes, above the limit`,
      ) as NodeJS.ErrnoException;
      err.code = "ERR_MQTT_PACKET_TOO_LARGE";
      this.destroy(err);
    }
  }
}

export function sizeGuardedStream(inner: Duplex, opts: SizeGuardOptions): Duplex {
  return new SizeGuardedStream(inner, opts);
}
