// A single-producer, single-consumer message ring in shared memory. The output worker and the
// main thread talk through two of these instead of MessagePorts: a port's queue is guarded by a
// mutex both threads take, so a main thread preempted while holding it (a loaded machine) would
// stall the real-time output thread behind it. Here each side only reads the other's index
// (Atomics) and writes its own: no lock is shared.
const HEAD = 0; // next byte to read (consumer's)
const TAIL = 1; // next byte to write (producer's)
const DROPPED = 2; // messages refused because the ring was full
const HEADER_BYTES = 16;

export class SpscRing {
  private readonly index: Int32Array;
  private readonly data: Uint8Array;
  private readonly mask: number;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  /** Shared memory for a ring of `capacity` bytes (a power of two). */
  static allocate(capacity: number): SharedArrayBuffer {
    if (capacity < 64 || (capacity & (capacity - 1)) !== 0) throw new RangeError("ring capacity: a power of two >= 64");
    return new SharedArrayBuffer(HEADER_BYTES + capacity);
  }

  constructor(buffer: SharedArrayBuffer) {
    this.index = new Int32Array(buffer, 0, 4);
    this.data = new Uint8Array(buffer, HEADER_BYTES);
    this.mask = this.data.length - 1;
  }

  /** Messages refused because the ring was full (the consumer stopped reading). */
  get dropped(): number {
    return Atomics.load(this.index, DROPPED);
  }

  /** Producer side: false (and counted) when there is no room. */
  push(message: unknown): boolean {
    const bytes = this.encoder.encode(JSON.stringify(message));
    const head = Atomics.load(this.index, HEAD);
    const tail = this.index[TAIL] as number;
    const used = (tail - head) >>> 0;
    if (used + 4 + bytes.length > this.data.length) {
      Atomics.add(this.index, DROPPED, 1);
      return false;
    }
    let at = tail;
    const n = bytes.length;
    for (let s = 24; s >= 0; s -= 8) this.data[at++ & this.mask] = (n >>> s) & 0xff;
    for (let i = 0; i < n; i++) this.data[at++ & this.mask] = bytes[i] as number;
    // Publish only after the bytes are written.
    Atomics.store(this.index, TAIL, at | 0);
    return true;
  }

  /** Consumer side: the oldest message, or undefined when empty. */
  pop(): unknown {
    const tail = Atomics.load(this.index, TAIL);
    let at = this.index[HEAD] as number;
    if (at === tail) return undefined;
    let n = 0;
    for (let i = 0; i < 4; i++) n = (n << 8) | (this.data[at++ & this.mask] as number);
    n >>>= 0;
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = this.data[at++ & this.mask] as number;
    Atomics.store(this.index, HEAD, at | 0);
    return JSON.parse(this.decoder.decode(bytes));
  }
}
