// Whether a response really reached the client. 'finish' only says the last byte went to the
// kernel: megabytes may still sit in socket buffers when a browser gives up. So after the last
// byte this side closes the connection for writing and waits for the client to close its side
// in order (it has read everything, our end included); a client that drops with data unread
// resets the connection instead, and one that does neither in time counts as not delivered.
import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** Call before writeHead, with an HTTP/1.1 response whose body is chunked (no Content-Length). */
export function whenDelivered(res: ServerResponse, socket: Socket, timeoutMs: number): Promise<boolean> {
  // A client that asked for "Connection: close" would have Node destroy the socket at once,
  // and whether it read the end could no longer be seen: we close it ourselves, just later.
  res.shouldKeepAlive = true;
  return new Promise((resolve) => {
    let finished = false;
    let peerEnded = false;
    let timer: NodeJS.Timeout | null = null;
    const done = (delivered: boolean) => {
      if (timer) clearTimeout(timer);
      socket.off("end", onEnd);
      socket.off("close", onClose);
      resolve(delivered);
    };
    const onEnd = () => {
      if (finished) peerEnded = true;
    };
    const onClose = (hadError: boolean) => done(finished && peerEnded && !hadError);
    res.once("finish", () => {
      finished = true;
      if (socket.destroyed) return done(false);
      timer = setTimeout(() => {
        socket.destroy();
        done(false);
      }, timeoutMs);
      timer.unref();
      // Replaces the keep-alive timeout the server has just set: our own wait decides.
      socket.setTimeout(0);
      socket.end();
    });
    res.once("close", () => {
      if (!finished) done(false);
    });
    socket.on("end", onEnd);
    socket.once("close", onClose);
  });
}
