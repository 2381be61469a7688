/**
 * The config snapshot a request is served under is the one in force when its turn comes
 * (pipelined.ts), not when Node parsed it: a request pipelined behind a slow one is parsed at
 * once, and a reload while it waits is in force for it, as for a request arriving after a fresh
 * start with the new file (its outdated-tunnel and caller checks included). The listener reads
 * the snapshot only here, once the turn is held; whoever counts requests per snapshot (ops'
 * in-flight tracking: a reload closes the old snapshot's pools once no request pinned to it
 * runs) learns of each pin as it is made.
 */
import type { ServerResponse } from 'node:http'
import type { Gateway } from '../gateway/index.js'

/** Called with each request's snapshot as the request pins it; its response's 'close' ends the pin. */
export type PinObserver = (gateway: Gateway, res: ServerResponse) => void

const observers = new WeakMap<object, PinObserver[]>()

/** Hears of every snapshot pinned by `server`'s requests (tunnelled ones included); returns the remover. */
export function observePins(server: object, fn: PinObserver): () => void {
  observers.set(server, [...(observers.get(server) ?? []), fn])
  return () => void observers.set(server, (observers.get(server) ?? []).filter((f) => f !== fn))
}

/** The snapshot in force (`ref.current`) for the request answered by `res` on `server`, which starts now. */
export function pinSnapshot(server: object, ref: { readonly current: Gateway }, res: ServerResponse): Gateway {
  const gateway = ref.current
  // Most processes observe nothing (the bare pipeline; tests): no empty array made per request for them.
  const fns = observers.get(server)
  if (fns !== undefined) for (const fn of fns) fn(gateway, res)
  return gateway
}
