// PacketSizeFilter: oversized MQTT PUBLISH packets are found from their header and skipped as
// they stream past, whatever the chunking; everything else passes byte for byte (issue 14, item 2).
import { describe, expect, it } from "vitest";
import { type OversizedPublish, PacketSizeFilter } from "../../src/mqtt/packet-size-filter.js";

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** An MQTT 3.1.1 PUBLISH packet. */
function publish(topic: string, payload: Buffer, qos = 0, id = 1): Buffer {
  const t = Buffer.from(topic);
  const body = Buffer.concat([
    Buffer.from([t.length >> 8, t.length & 0xff]),
    t,
    qos > 0 ? Buffer.from([id >> 8, id & 0xff]) : Buffer.alloc(0),
    payload,
  ]);
  return Buffer.concat([Buffer.from([0x30 | (qos << 1), ...varint(body.length)]), body]);
}

const PINGRESP = Buffer.from([0xd0, 0x00]);
const SUBACK = Buffer.from([0x90, 0x03, 0x00, 0x01, 0x01]);

/** Feeds `stream` cut into pieces of `size` bytes; returns what passed and what was skipped. */
function run(filter: PacketSizeFilter, stream: Buffer, size: number) {
  const pass: Buffer[] = [];
  const oversized: OversizedPublish[] = [];
  let fatal = null;
  for (let i = 0; i < stream.length; i += size) {
    const out = filter.feed(stream.subarray(i, i + size));
    pass.push(...out.pass);
    oversized.push(...out.oversized);
    fatal ??= out.fatal;
  }
  return { pass: Buffer.concat(pass), oversized, fatal };
}

describe("PacketSizeFilter", () => {
  const small1 = publish("linesight/all/cmd/ping", Buffer.from('{"id":"a"}'), 1, 7);
  const small2 = publish("linesight/d/cmd/get_stats", Buffer.alloc(300, 0x20), 0);
  const big = publish("linesight/all/cmd/ping", Buffer.alloc(5000, 0x41), 1, 513);
  const limit = 1024;

  it("passes packets within the limit byte for byte, however the stream is cut", () => {
    const stream = Buffer.concat([small1, PINGRESP, SUBACK, small2]);
    for (const size of [1, 2, 3, 7, 64, stream.length]) {
      const r = run(new PacketSizeFilter(limit), stream, size);
      expect(r.pass.equals(stream), `pieces of ${size}`).toBe(true);
      expect(r.oversized).toEqual([]);
    }
  });

  it("skips an oversized PUBLISH, reports its topic, size, QoS and id, and passes what follows", () => {
    const stream = Buffer.concat([small1, big, PINGRESP, small2]);
    for (const size of [1, 5, 13, 100, 4096, stream.length]) {
      const r = run(new PacketSizeFilter(limit), stream, size);
      expect(r.pass.equals(Buffer.concat([small1, PINGRESP, small2])), `pieces of ${size}`).toBe(true);
      expect(r.oversized).toEqual([{ topic: "linesight/all/cmd/ping", bytes: big.length, qos: 1, packetId: 513 }]);
      expect(r.fatal).toBeNull();
    }
  });

  it("counts the whole packet against the limit, as MQTT 5's maximum packet size does", () => {
    const exact = publish("t", Buffer.alloc(100), 0);
    expect(run(new PacketSizeFilter(exact.length), exact, 10).oversized).toHaveLength(0);
    expect(run(new PacketSizeFilter(exact.length - 1), exact, 10).oversized).toHaveLength(1);
  });

  it("holds at most the topic of a skipped message, not its body", () => {
    const filter = new PacketSizeFilter(limit);
    const huge = publish("x/cmd/ping", Buffer.alloc(2_000_000), 0);
    let passed = 0;
    for (let i = 0; i < huge.length; i += 65536) passed += filter.feed(huge.subarray(i, i + 65536)).pass.length;
    expect(passed).toBe(0);
    // The filter's buffers: nothing of the 2 MB body is kept.
    const held = JSON.stringify(filter, (_k, v) => (Buffer.isBuffer(v) ? v.length : v));
    expect(held.length).toBeLessThan(500);
  });

  it("an oversized packet that is not a PUBLISH ends the connection", () => {
    const fake = Buffer.from([0x90, ...varint(5000)]);
    const r = run(new PacketSizeFilter(limit), Buffer.concat([small1, fake]), 3);
    expect(r.fatal).toEqual({ type: 9, bytes: 5000 + 3 });
    expect(r.pass.equals(small1)).toBe(true);
  });
});
