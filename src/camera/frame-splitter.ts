/** Cuts a capture process's byte stream into frames. Pure: no I/O, no clock. */
export interface FrameSplitter {
  /** Takes the next chunk of the stream; returns the frames it completed, oldest first. */
  feed(chunk: Buffer): Buffer[];
  /** Forgets any partial frame (the process behind the stream was restarted); counts it corrupt. */
  reset(): void;
  /** Frames lost: truncated, oversize or malformed. */
  readonly corrupt: number;
  /** Bytes thrown away outside any frame (garbage between frames). */
  readonly skippedBytes: number;
}
