// A typed, synchronous event bus whose listeners belong to an owner (a part of the daemon), so
// stopping a part removes everything it listened to in one call. Listeners must only enqueue or
// update memory: they run on the thread that decides frames. A listener that throws is logged
// and the others still run.
import type { Logger } from "pino";

type Listener<P> = (payload: P) => void;

/** What a producer needs: emit only. */
export interface Emitter<E> {
  emit<K extends keyof E>(name: K, payload: E[K]): void;
}

export class EventBus<E> implements Emitter<E> {
  private readonly listeners = new Map<keyof E, { owner: string; fn: Listener<never> }[]>();

  constructor(private readonly logger: Logger) {}

  on<K extends keyof E>(owner: string, name: K, fn: Listener<E[K]>): void {
    const list = this.listeners.get(name) ?? [];
    list.push({ owner, fn: fn as Listener<never> });
    this.listeners.set(name, list);
  }

  /** Removes every listener `owner` registered. */
  off(owner: string): void {
    for (const [name, list] of this.listeners) {
      this.listeners.set(
        name,
        list.filter((l) => l.owner !== owner),
      );
    }
  }

  emit<K extends keyof E>(name: K, payload: E[K]): void {
    const list = this.listeners.get(name);
    if (!list) return;
    for (const { owner, fn } of list) {
      try {
        (fn as Listener<E[K]>)(payload);
      } catch (err) {
        this.logger.error({ err, event: String(name), part: owner }, "event listener failed");
      }
    }
  }
}
