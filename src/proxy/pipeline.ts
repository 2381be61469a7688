/**
 * The request path as data: route → admit → prepare[] → forward → respond[]. The only
 * early exit is throwing GatewayError. Typed phases (Context → Routed → Admitted) let the
 * compiler prove that no step runs before the endpoint is known and the caller admitted.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import type { Endpoint, Gateway, Upstream } from '../gateway/index.js'
import type { RequestTrace } from '../tracing/index.js'
import type { Caller, OwnCredentials } from '../callers/index.js'
import type { CallerPresence } from './caller-presence.js'
import type { RelayHooks } from './relay-hooks.js'
import type { RequestTarget } from './request-target.js'
import type { UpstreamTarget } from './upstream-target.js'
import type { BufferedBodies } from '../runtime/index.js'

export type { Caller } from '../callers/index.js'

/** A request or response body: streamed, unless a step asks for its bytes (buffered once, ≤ limit). */
export interface Body {
  /** Whether the request has a body (streamed or buffered); unlike `stream`, asks for nothing (no 100 Continue). */
  readonly present: boolean
  readonly stream: Readable | undefined
  /** The whole body, buffered once; throws body_too_large beyond the limit. */
  bytes(): Promise<Buffer>
  /** Replaces the body with new bytes (the caller fixes Content-Length). */
  replace(bytes: Buffer): void
  readonly buffered: Buffer | undefined
}

export type OutboundHeaders = Record<string, string | string[]>

/** The request that will be sent upstream; steps edit this. */
export interface Outbound {
  method: string
  url: URL
  headers: OutboundHeaders
  body: Body
}

export type Mode = 'forward' | 'connect' | 'route'

/** A caller's TLS client certificate as the listener verified it. */
export interface CallerCertificate {
  readonly authorized: boolean
  readonly subjectCN?: string
  readonly sans: readonly string[]
}

export interface Context {
  readonly id: string
  readonly mode: Mode
  readonly gateway: Gateway
  readonly inbound: {
    readonly method: string
    /** What the request line names, parsed by hand (request-target.ts); never a destination by itself. */
    readonly target: RequestTarget
    readonly headers: IncomingHttpHeaders
    /** The name/value lines `headers` came from: how often a single-valued header was sent (singleHeader). */
    readonly rawHeaders: readonly string[]
    /** The caller's address as callerAddress names it (an IPv4 caller of a listener on `::` as IPv4). */
    readonly remoteAddress?: string
    /** The caller's TLS client certificate, when the listener serves TLS. */
    readonly tls?: CallerCertificate
  }
  /** Route mode: the endpoint named in the path and the rest of the path. */
  readonly route?: { readonly endpoint: string; readonly tenant?: string; readonly path: string }
  /**
   * CONNECT already authenticated the caller for the whole tunnel; each inner request checks its
   * credential again against its own snapshot: the bearer, or the CONNECT's client certificate.
   */
  readonly tunnel?: { readonly caller: Caller; readonly token?: string; readonly certificate?: CallerCertificate }
  /** Tells the forward step when the caller goes away. */
  readonly presence: CallerPresence
  outbound: Outbound
  /** Who the call is for and the OAuth token that signs it (filled by resolve_token). */
  readonly auth: AuthState
  /** Facts collected for the access log and metrics. */
  readonly facts: RequestFacts
  /** The gateway credentials the request presents, long enough to look for: found once (strip_gateway_credentials), read again by forward. Never logged. */
  ownCredentials?: OwnCredentials
  /** Set by strip_gateway_credentials once the target's path and query were judged to hold none: forward judges an unchanged one by its origin alone. */
  targetJudged?: true
}

/** An OAuth 1.0a token and the per-user fields stored with it (e.g. a PIN). */
export interface OAuthToken {
  readonly token: string
  readonly tokenSecret: string
  readonly fields?: Readonly<Record<string, string>>
}

export interface AuthState {
  user?: string
  token?: OAuthToken
}

export interface RequestFacts {
  endpoint?: string
  caller?: string
  upstreamMs?: number
  /** Attempts sent again after a reused connection closed under them (stale-connection.ts). */
  upstreamRetries?: number
  tenant?: string
  /** The request's spans, when tracing is on. */
  trace?: RequestTrace
  /**
   * The upstream connection that carried the request, set by the ops' observer (ops/upstream-facts.ts)
   * as undici writes it: a property of the request's own facts, not a WeakMap entry per request.
   */
  upstream?: Readonly<UpstreamFacts>
}

/** What the access log says about the upstream side of one request. */
export interface UpstreamFacts {
  address?: string
  tlsVersion?: string
  /** The request went over an already open keep-alive connection. */
  reused: boolean
  /** The connection's TLS session was resumed. */
  resumed: boolean
  /** Connect + TLS handshake of the connection (also on reuse: the connection's own cost). */
  handshakeMs?: number
}

export interface Routed extends Context {
  readonly endpoint: Endpoint
  /** The destination, built from the endpoint alone (upstream-target.ts); forward dials only this. */
  readonly target: UpstreamTarget
  /** The tenant's pool when it has its own bundle, else the endpoint's. */
  readonly upstream: Upstream
  readonly tenant?: string
}

export interface Admitted extends Routed {
  readonly caller: Caller
}

/** An upstream response body still arriving: relayed into the caller's response, or abandoned. */
export interface ResponseBody {
  /** Sends the body into `res` as it arrives (backpressure, send-idle, either side failing cuts both; `hooks` only absent for a whole body). */
  relayTo(res: ServerResponse, hooks?: RelayHooks): void
  /** The body has all arrived (nothing failed): relayTo sends it at once and nothing of the relay runs later, so it needs no hooks. */
  readonly whole?: boolean
  /** Stops the upstream call. */
  abort(reason: Error): void
  /** Why the body failed, when it did before relayTo (in the head's own read): nothing of it is sent yet. */
  readonly failure?: Error | undefined
}

export interface UpstreamResponse {
  status: number
  headers: OutboundHeaders
  body: ResponseBody
}

export interface Step {
  readonly name: string
  run(ctx: Admitted): void | Promise<void>
}

export interface ResponseStep {
  readonly name: string
  run(ctx: Admitted, res: UpstreamResponse): void
}

export interface Pipeline {
  readonly route: (ctx: Context) => Routed
  /** A promise only when admission must wait (a bearer lookup); the open gateway admits at once. */
  readonly admit: (ctx: Routed) => Admitted | Promise<Admitted>
  readonly prepare: readonly Step[]
  readonly forward: (ctx: Admitted) => Promise<UpstreamResponse>
  readonly respond: readonly ResponseStep[]
  /** The process's budget for bodies buffered whole (limits.maxBufferedTotal); absent: bodies are bounded one by one only. */
  readonly bufferedBodies?: BufferedBodies
}

/** Step names in order, so a test can pin the order. */
export function stepNames(p: Pipeline): string[] {
  return ['route', 'admit', ...p.prepare.map((s) => s.name), 'forward', ...p.respond.map((s) => s.name)]
}
