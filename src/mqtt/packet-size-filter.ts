// Finds MQTT packets larger than a limit in a byte stream, from their fixed header, before their
// body arrives: an oversized PUBLISH is skipped byte by byte as it streams past and never held in
// memory (only its topic and packet id, at most 64 KiB, are read, to acknowledge and report it).
// Everything else passes through unchanged. Pure: bytes in, bytes and findings out.
// MQTT 3.1.1 has no way to tell a broker the largest packet a client takes (MQTT 5 announces it in
// CONNECT), so without this the client's parser would buffer a 10 MB message whole.

const PUBLISH = 3;

export interface OversizedPublish {
  /** The topic, or "" if it could not be read (malformed). */
  topic: string;
  /** Whole packet size in bytes (fixed header included). */
  bytes: number;
  qos: number;
  /** For QoS 1 and 2: the id to acknowledge; null for QoS 0. */
  packetId: number | null;
}

export interface FilterOutput {
  /** Bytes to hand on to the MQTT parser, in order. */
  pass: Buffer[];
  /** Oversized PUBLISH packets skipped in this chunk, reported once their topic and id were read. */
  oversized: OversizedPublish[];
  /** An oversized packet that is not a PUBLISH (a broken or hostile peer): the connection must go. */
  fatal: { type: number; bytes: number } | null;
}

type Mode = "header" | "pass" | "drop-head" | "drop-skip";

export class PacketSizeFilter {
  private mode: Mode = "header";
  private readonly header: number[] = [];
  /** Body bytes of the current packet not yet seen. */
  private remaining = 0;
  private head: Buffer[] = [];
  private headLength = 0;
  private current: { bytes: number; qos: number } = { bytes: 0, qos: 0 };
  private failed = false;

  constructor(readonly maxPacketBytes: number) {
    if (!(maxPacketBytes >= 2)) throw new RangeError(`maxPacketBytes must be at least 2, got ${maxPacketBytes}`);
  }

  feed(chunk: Buffer): FilterOutput {
    const out: FilterOutput = { pass: [], oversized: [], fatal: null };
    if (this.failed) return out;
    let pos = 0;
    while (pos < chunk.length) {
      switch (this.mode) {
        case "header": {
          this.header.push(chunk[pos++] as number);
          const parsed = this.parseHeader();
          if (parsed === "more") break;
          if (parsed === "malformed") {
            // Not ours to judge: hand everything on and let the MQTT parser report it.
            out.pass.push(Buffer.from(this.header), chunk.subarray(pos));
            this.header.length = 0;
            this.failed = true;
            return out;
          }
          this.remaining = parsed;
          const bytes = this.header.length + parsed;
          const first = this.header[0] as number;
          if (bytes <= this.maxPacketBytes) {
            out.pass.push(Buffer.from(this.header));
            this.header.length = 0;
            this.mode = parsed > 0 ? "pass" : "header";
            break;
          }
          this.header.length = 0;
          if (first >> 4 !== PUBLISH) {
            out.fatal = { type: first >> 4, bytes };
            this.failed = true;
            return out;
          }
          this.current = { bytes, qos: (first >> 1) & 3 };
          this.head = [];
          this.headLength = 0;
          this.mode = "drop-head";
          break;
        }
        case "pass": {
          const n = Math.min(this.remaining, chunk.length - pos);
          out.pass.push(chunk.subarray(pos, pos + n));
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.mode = "header";
          break;
        }
        case "drop-head": {
          // Topic length (2), topic, and for QoS > 0 the packet id (2): bounded by 64 KiB + 4.
          const need = this.headNeed();
          const n = Math.min(need - this.headLength, chunk.length - pos, this.remaining);
          this.head.push(chunk.subarray(pos, pos + n));
          this.headLength += n;
          pos += n;
          this.remaining -= n;
          if (this.headLength >= this.headNeed() || this.remaining === 0) {
            out.oversized.push(this.describeDropped());
            this.head = [];
            this.mode = this.remaining > 0 ? "drop-skip" : "header";
          }
          break;
        }
        case "drop-skip": {
          const n = Math.min(this.remaining, chunk.length - pos);
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.mode = "header";
          break;
        }
      }
    }
    return out;
  }

  /** Remaining length from the header bytes so far: a number, "more" bytes needed, or "malformed". */
  private parseHeader(): number | "more" | "malformed" {
    const h = this.header;
    if (h.length < 2) return "more";
    let value = 0;
    let multiplier = 1;
    for (let i = 1; i < h.length; i++) {
      const b = h[i] as number;
      value += (b & 0x7f) * multiplier;
      if ((b & 0x80) === 0) return value;
      multiplier *= 128;
      if (i === 4) return "malformed";
    }
    return "more";
  }

  private headNeed(): number {
    const head = this.headLength >= 2 ? Buffer.concat(this.head) : null;
    if (!head) return 2;
    const topicLength = head.readUInt16BE(0);
    return 2 + topicLength + (this.current.qos > 0 ? 2 : 0);
  }

  private describeDropped(): OversizedPublish {
    const head = Buffer.concat(this.head);
    const { bytes, qos } = this.current;
    if (head.length < 2) return { topic: "", bytes, qos, packetId: null };
    const topicLength = head.readUInt16BE(0);
    const complete = head.length >= 2 + topicLength + (qos > 0 ? 2 : 0);
    const topic = head.subarray(2, Math.min(head.length, 2 + topicLength)).toString("utf8");
    const packetId = qos > 0 && complete ? head.readUInt16BE(2 + topicLength) : null;
    return { topic, bytes, qos, packetId };
  }
}
