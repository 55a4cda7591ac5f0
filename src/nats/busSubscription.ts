import type { NatsConnection, Subscription } from 'nats';
import { decodeBusMessage, type BusMessage } from './payloads.js';
import { wildcardFor } from './subjects.js';

/** Receives each bus message, decoded (null when not even its positions can be read). */
export type BusHandler = (message: BusMessage | null, subject: string) => void;

interface Shared {
  readonly subscription: Subscription;
  readonly handlers: Set<BusHandler>;
}

const byConnection = new WeakMap<NatsConnection, Map<string, Shared>>();

/**
 * Subscribes `handler` to `<prefix>.>` on `nc`. Engines of one process that share
 * a connection share one NATS subscription: the server sends each message once,
 * and it is decoded and validated once (a `BusMessage` is deeply frozen, so every
 * engine can hold it).
 */
export function subscribeBus(nc: NatsConnection, prefix: string, handler: BusHandler): { unsubscribe(): void } {
  let subjects = byConnection.get(nc);
  if (!subjects) {
    subjects = new Map();
    byConnection.set(nc, subjects);
  }
  let shared = subjects.get(prefix);
  if (!shared) {
    const handlers = new Set<BusHandler>();
    const subscription = nc.subscribe(wildcardFor(prefix), {
      callback: (error, msg) => {
        if (error) return;
        const message = decodeBusMessage(msg.subject, msg.data, prefix);
        for (const h of [...handlers]) h(message, msg.subject);
      },
    });
    shared = { subscription, handlers };
    subjects.set(prefix, shared);
  }
  const entry = shared;
  const map = subjects;
  entry.handlers.add(handler);
  return {
    unsubscribe() {
      if (!entry.handlers.delete(handler) || entry.handlers.size > 0) return;
      map.delete(prefix);
      if (!nc.isClosed()) entry.subscription.unsubscribe();
    },
  };
}
