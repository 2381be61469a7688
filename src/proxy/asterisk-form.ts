/**
 * `OPTIONS *` upstream (RFC 9112 §3.2.4): an OPTIONS whose absolute-form target has no path and
 * no query asks about the server as a whole, and the last proxy must send the request-target `*`.
 * undici refuses any path but one starting with "/" (or an absolute URL), so forward dispatches a
 * stand-in path and the `undici:request:create` subscriber below (subscribed at the first such
 * request), run synchronously in undici's Request constructor before anything is written, turns
 * it into `*`. The stand-in is no path an outbound request can otherwise have (those are ASCII: a
 * URL's pathname, or a checked raw path), and left unreplaced it would still name only the
 * endpoint's origin, at a path that serves nothing.
 * test/proxy/options-asterisk.test.ts shows `OPTIONS *` on the wire.
 */
import { subscribe } from 'node:diagnostics_channel'
import type { Admitted } from './pipeline.js'

const STAND_IN = '/\u00ff*'

function toAsterisk(message: unknown): void {
  const request = (message as { request?: { path?: unknown; method?: unknown } }).request
  if (request !== undefined && request.path === STAND_IN && request.method === 'OPTIONS') request.path = '*'
}

// Subscribed at the first OPTIONS * only: while a channel has no subscriber, undici publishes
// nothing, so no other request pays for a message it would build for this rare one.
let subscribed = false

function standIn(): string {
  if (!subscribed) {
    subscribe('undici:request:create', toAsterisk)
    subscribed = true
  }
  return STAND_IN
}

/**
 * The path to dispatch: the stand-in for `*` when the caller's OPTIONS named the server as a
 * whole and no step added to the path or query (a query field or OAuth parameter must travel,
 * so such a request keeps `/?…`); else `pathAndQuery` itself. An endpoint signed with OAuth 1.0a
 * keeps `/` too: RFC 5849 §3.4.1.2 has no base string URI for `*`, and verifiers build one from
 * it each their own way (`https://host*`, `https://host/*`, or a failed parse of `host:port*`
 * in python-oauthlib), so only a signature over `https://host/` sent as `/` verifies.
 */
export function dispatchPath(ctx: Admitted, pathAndQuery: string): string {
  return pathAndQuery === '/' && ctx.inbound.target.wholeServer === true && ctx.outbound.method === 'OPTIONS' && ctx.endpoint.profile === undefined ? standIn() : pathAndQuery
}
