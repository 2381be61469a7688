/**
 * A hot reload behaves like a fresh start for CONNECT tunnels opened before it. An intercepted
 * tunnel was set up under one snapshot: its leaf signed by that snapshot's interception CA, its
 * host intercepted (endpoints, not passThrough). When a reload changes that (a new CA, the host
 * moved to passThrough, its endpoints or interception removed, listen.waysIn without `connect`) the tunnel is outdated: a fresh
 * CONNECT would get another leaf, a raw pass-through tunnel or a 403. At the reload the idle
 * outdated tunnels close (as caller trust's refused connections do, untrusted-connection.ts); an
 * inner request in flight finishes on its snapshot; the next inner request on such a tunnel (one
 * pipelined behind it, judged at its turn: pin-snapshot.ts; one partly received at the reload,
 * whose tunnel is not idle: request-progress.ts) is answered with `Connection: close`: 403 endpoint_not_configured when a fresh CONNECT would be
 * refused (503 while a new CA is outside its validity), else 421 tunnel_outdated (reconnect). Pass-through tunnels are judged again at the
 * reload (pass-through.ts) rather than only at their next byte.
 */
import type { Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { GatewayError } from '../errors.js'
import { matchName } from '../config/index.js'
import { wayInRefusal, type Gateway } from '../gateway/index.js'
import { interceptionUnavailable, type InterceptionCa } from '../tls/index.js'
import { tunnelOf, type Tunnel } from './connect.js'
import type { ConnectionGuard } from './connection-guard.js'
import { rejudgeAtReload } from './pass-through.js'
import { onTunnelsReloaded } from './reload-watchers.js'
import { closeUntrustedOnReload, refuseUntrusted } from './untrusted-connection.js'
import type { AuthFailure } from '../callers/index.js'

/** Counts a refused caller (caller_auth_failures_total) under its closed-set reason. */
export type OnAuthFailure = (label: AuthFailure) => void

/** Same CA bytes: what signed the tunnel's leaf is what a fresh CONNECT would be signed by. */
const sameCa = (a: InterceptionCa, b: InterceptionCa): boolean => a === b || (a.certPem === b.certPem && a.key.equals(b.key))

/** `host:port` as CONNECT authorities are spelled (IPv6 in brackets). */
const authorityOf = (p: { host: string; port: number }): string => `${p.host.includes(':') ? `[${p.host}]` : matchName(p.host)}:${p.port}`

/** The verdicts of one snapshot, per tunnel: judged once per tunnel and snapshot. */
const verdicts = new WeakMap<Gateway, WeakMap<Tunnel, GatewayError | null>>()

/** Verdicts of a replaced CA: a new CONNECT gets the new CA's leaf only while that CA is within its validity. */
const caReplaced = new WeakSet<GatewayError>()

/** Why `tunnel` no longer stands under `gateway` (what its next inner request is answered), or undefined while it does. */
export function outdatedTunnel(tunnel: Tunnel, gateway: Gateway): GatewayError | undefined {
  let known = verdicts.get(gateway)
  if (!known) verdicts.set(gateway, (known = new WeakMap()))
  let verdict = known.get(tunnel)
  if (verdict === undefined) known.set(tunnel, (verdict = judge(tunnel, gateway) ?? null))
  // The CA in force expired or not valid yet: a new CONNECT is its 503, not "open a new CONNECT" (judged now, as each CONNECT's is).
  if (verdict !== null && caReplaced.has(verdict) && gateway.interception) return interceptionUnavailable(gateway.interception, tunnel.authority) ?? verdict
  return verdict ?? undefined
}

function judge(tunnel: Tunnel, gateway: Gateway): GatewayError | undefined {
  const { authority, ca } = tunnel
  const since = 'since this tunnel was opened'
  // listen.waysIn without `connect`: a new CONNECT is refused before anything else, so is the tunnel.
  const disabled = wayInRefusal(gateway, 'connect')
  if (disabled) return disabled
  const interception = gateway.config.interception
  if (!interception || !gateway.interception) return new GatewayError('endpoint_not_configured', `tunnel to ${authority} refused: TLS interception is no longer configured (interception.caCert): a reload turned it off ${since}; a new CONNECT is refused`)
  if ((gateway.byHost.get(authority)?.length ?? 0) === 0) {
    if (interception.passThrough.some((p) => authorityOf(p) === authority)) return new GatewayError('tunnel_outdated', `CONNECT to ${authority}: a reload made this host a pass-through host (interception.passThrough) ${since}: open a new CONNECT, which is tunnelled without interception`)
    return new GatewayError('endpoint_not_configured', `CONNECT to ${authority}: a reload removed this host's endpoints ${since}; a new CONNECT is refused`)
  }
  if (sameCa(ca, gateway.interception)) return undefined
  const replaced = new GatewayError('tunnel_outdated', `CONNECT to ${authority}: a reload replaced the interception CA ${since} (this tunnel's certificate was signed by the old one): open a new CONNECT for a certificate of "${gateway.interception.subject}"`)
  caReplaced.add(replaced)
  return replaced
}

/**
 * The refusal of a request on `socket` after a reload, or undefined: the caller trust in force
 * (untrusted-connection.ts, judged by the CONNECT's connection inside a tunnel) first, then
 * whether the intercepted tunnel it came through is outdated under `gateway`.
 */
export function refuseAfterReload(socket: Duplex, tunnel: Tunnel | undefined, gateway: Gateway, onAuthFailure: OnAuthFailure | undefined): GatewayError | undefined {
  return refuseUntrusted(tunnel?.connection ?? socket, 'listen.tls', onAuthFailure) ?? (tunnel ? outdatedTunnel(tunnel, gateway) : undefined)
}

/**
 * At each reload, closes what `guard` (and the tunnels' inner guard it adopted) holds that the
 * new snapshot outdates: idle intercepted tunnels (busy ones, a request partly received included,
 * finish their request first), and
 * pass-through tunnels its rejudge refuses; on a TLS listener, also what a changed caller trust refuses.
 */
export function closeRefusedOnReload(server: Server, tls: boolean, guard: Pick<ConnectionGuard, 'closeRefused'>): void {
  if (tls) closeUntrustedOnReload(server, guard, (s) => tunnelOf(s)?.connection ?? s)
  const watch = (gateway: Gateway): void =>
    guard.closeRefused((s) => {
      const tunnel = tunnelOf(s)
      // A pass-through tunnel is judged again now (asynchronously: its bearer too) and closes itself when refused.
      return tunnel ? outdatedTunnel(tunnel, gateway) !== undefined : (rejudgeAtReload(s), false)
    })
  onTunnelsReloaded(server, watch)
}
