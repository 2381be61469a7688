/**
 * What runs on a listener once a reload's snapshot is in force (outdated-tunnel.ts registers its
 * judges). Apart from the judges so ops can announce a reload without importing the CONNECT path,
 * which a `--workers` primary never runs.
 */
import type { Gateway } from '../gateway/index.js'

const reloadWatchers = new WeakMap<object, ((gateway: Gateway) => void)[]>()

/** Runs `watch` with each snapshot a reload puts in force on `server`. */
export function onTunnelsReloaded(server: object, watch: (gateway: Gateway) => void): void {
  reloadWatchers.set(server, [...(reloadWatchers.get(server) ?? []), watch])
}

/** A reload put `gateway` in force: `server`'s tunnels are judged under it (ops calls this on every good reload). */
export function tunnelsReloaded(server: object, gateway: Gateway): void {
  for (const fn of reloadWatchers.get(server) ?? []) fn(gateway)
}
