// The last few lines a process wrote to stderr, kept for the log when it fails. Bounded in lines
// and in line length, so a process that prints without pause cannot grow it. Lines are redacted
// (config/redact.ts): ffmpeg, for one, repeats the camera URL with its password in its errors.
import { redactText } from "../config/redact.js";

export class LineTail {
  private readonly lines: string[] = [];
  private partial = "";

  constructor(
    private readonly maxLines = 20,
    private readonly maxLineLength = 400,
  ) {}

  push(chunk: Buffer | string): void {
    const parts = (this.partial + chunk.toString()).split(/\r?\n|\r/);
    this.partial = (parts.pop() ?? "").slice(0, this.maxLineLength);
    for (const line of parts) this.add(line);
  }

  /** The kept lines, oldest first, including an unfinished last line. */
  get(): string[] {
    return this.partial ? [...this.lines, redactText(this.partial)] : [...this.lines];
  }

  clear(): void {
    this.lines.length = 0;
    this.partial = "";
  }

  private add(line: string): void {
    const trimmed = redactText(line.trimEnd());
    if (!trimmed) return;
    this.lines.push(trimmed.length > this.maxLineLength ? `${trimmed.slice(0, this.maxLineLength)}...` : trimmed);
    if (this.lines.length > this.maxLines) this.lines.shift();
  }
}
