/**
 * Which gateway call undici is writing on which upstream connection, read from undici's
 * `undici:client:sendHeaders` channel: the facts logs and metrics attach to a connection, and
 * the count of requests each connection carried (stale-connection.ts sends again only on a
 * reused one).
 */
import { subscribe } from 'node:diagnostics_channel'
import type { RequestFacts } from './pipeline.js'

/** What this module needs of an upstream call (upstream-call.ts). */
export interface WritingCall {
  readonly facts: RequestFacts
  /** Told once its headers went out: on `connection`, which carried a request before (`reused`) or is new. */
  sentOn(reused: boolean, connection: UpstreamConnection): void
}

/** What a call may read of the connection its attempt is written on. */
export interface UpstreamConnection {
  readonly destroyed: boolean
  readonly errored: Error | null
}

/**
 * The call undici is writing on a connection right now. undici calls a handler's
 * onRequestStart and then publishes `undici:client:sendHeaders` (which names the socket) in
 * one synchronous run, so a subscriber reads it there and knows which request went over
 * which connection without reading any header: a caller's own X-Request-Id, repeated by
 * concurrent calls, cannot mix two requests' facts up.
 */
let writing: WritingCall | undefined
/** undici's request object the call was first read for: a later one finds it stale. */
let writingRequest: object | undefined

function writingCall(request: object): WritingCall | undefined {
  if (writing === undefined) return undefined
  if (writingRequest === undefined) writingRequest = request
  else if (writingRequest !== request) return void (writing = writingRequest = undefined)
  return writing
}

/**
 * The facts of the request whose headers undici is sending (`request`: the sendHeaders
 * message's), for every subscriber of that one message; undefined for a request the gateway
 * did not start (another client's, on an in-process dispatcher).
 */
export function writingFacts(request: object): RequestFacts | undefined {
  return writingCall(request)?.facts
}

/**
 * Requests written on each upstream connection so far: an attempt on a connection that
 * carried one before is the only kind sent again (stale-connection.ts). Counted here, beside
 * the request path, so the policy holds however the gateway is run (with or without the
 * observers that read the same channel for logs and metrics).
 */
const requestsSent = new WeakMap<object, number>()
subscribe('undici:client:sendHeaders', (message) => {
  const { request, socket } = message as { request?: object; socket?: UpstreamConnection }
  const call = request ? writingCall(request) : undefined
  if (socket === undefined) return
  const before = requestsSent.get(socket) ?? 0
  requestsSent.set(socket, before + 1)
  call?.sentOn(before > 0, socket)
})

/** Called by a call's onRequestStart: undici publishes sendHeaders for it in the same synchronous run. */
export function markWriting(call: WritingCall): void {
  writing = call
  writingRequest = undefined
}
