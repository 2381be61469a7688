/**
 * listen.waysIn: which ways into the one listener it serves. Judged under the snapshot in force
 * for each request, each CONNECT, each inner request of a tunnel and an open pass-through tunnel
 * at a reload, before any endpoint is matched, credential attached or address dialled: with
 * `forward` left out, an absolute-form target cannot pass a front proxy's `/proxy/…` path rule.
 */
import { GatewayError } from '../errors.js'
import type { WayIn } from '../config/index.js'
import type { Gateway } from './compile.js'

const NAMES: Readonly<Record<WayIn, string>> = {
  forward: 'the forward proxy (an absolute-form request target)',
  connect: 'CONNECT (and every request inside its tunnels)',
  route: 'route mode (/proxy/<endpoint>/…)',
  api: 'the gateway API (/gateway/…)',
}

const isWayIn = (way: string): way is WayIn => Object.hasOwn(NAMES, way)

/** The 403 of a request on a way in `gateway`'s listen.waysIn leaves out; undefined when served, or for no way in (a 404 follows). */
export function wayInRefusal(gateway: Gateway, way: string): GatewayError | undefined {
  if (!isWayIn(way) || gateway.config.listen.waysIn.includes(way)) return undefined
  return new GatewayError('way_in_disabled', `${NAMES[way]} is not served on this listener: add "${way}" to listen.waysIn to serve it`)
}

/** Throws wayInRefusal's 403 when `way` is left out. */
export function checkWayIn(gateway: Gateway, way: string): void {
  const refusal = wayInRefusal(gateway, way)
  if (refusal) throw refusal
}
