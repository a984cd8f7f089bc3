// Splits a pipeline written as text in the config (e.g. a GStreamer source
// `v4l2src device=/dev/video2 ! image/jpeg,width=1280 ! jpegdec`) into argv tokens the way a
// POSIX shell would for quoting only: whitespace separates, '...' is literal, "..." allows \" and
// \\, a backslash escapes the next character. Nothing is expanded ($, `, *, ~, ;, |, > are plain
// characters) and no shell ever runs: the tokens are handed to spawn() as an argument array.

export function splitPipeline(text: string): string[] {
  const tokens: string[] = [];
  let token = "";
  let inToken = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      if (inToken) tokens.push(token);
      token = "";
      inToken = false;
      i++;
      continue;
    }
    inToken = true;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' quote at character ${i + 1}`);
      token += text.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated " quote');
        const d = text[i] as string;
        if (d === '"') break;
        if (d === "\\" && (text[i + 1] === '"' || text[i + 1] === "\\")) {
          token += text[i + 1];
          i += 2;
        } else {
          token += d;
          i++;
        }
      }
      i++;
    } else if (c === "\\") {
      if (i + 1 >= text.length) throw new Error("a backslash at the end escapes nothing");
      token += text[i + 1];
      i += 2;
    } else {
      token += c;
      i++;
    }
  }
  if (inToken) tokens.push(token);
  if (tokens.length === 0) throw new Error("the pipeline is empty");
  return tokens;
}
