/**
 * Bodies stream by default. A step that needs the bytes (payload fields, OAuth form
 * parameters, body hash) calls bytes(): buffered once, refused beyond the limit.
 * Nothing is read before someone asks: that is when a caller waiting on
 * `Expect: 100-continue` is told to send (onDemand), so a refused request never uploads.
 * A buffered body is also charged to the process's budget (limits.maxBufferedTotal): the
 * declared length before a byte is read, then each chunk beyond it; over budget → 503.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import { GatewayError } from '../errors.js'
import type { BodyHold } from '../runtime/index.js'
import type { Body } from './pipeline.js'

/** Limits and hooks of one inbound body. */
export interface BodyOptions {
  /** Largest body bytes() buffers. */
  limit: number
  /** The Content-Length the caller declared, if any. */
  declaredLength?: number
  /** Called once, when the body is first asked for (stream or bytes). */
  onDemand?: () => void
  /** Called once, when a step starts buffering the whole body. */
  onBuffer?: () => void
  /** How the 413 names the limit (default: the config key limits.maxBufferedBody). */
  limitName?: string
  /** This request's share of the process's budget, opened when buffering starts (whoever passes it releases it). */
  hold?: () => BodyHold
}

/** True when the request carries a body (a non-zero Content-Length, or Transfer-Encoding). */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length']
  return (length !== undefined && length !== '0') || headers['transfer-encoding'] !== undefined
}

/** Expect: 100-continue, the one expectation the gateway meets (others get 417, expectation_failed). */
export const expectsContinue = (req: IncomingMessage): boolean => req.headers.expect !== undefined && /100-continue/i.test(req.headers.expect)

/** The 417 of an Expect the gateway does not meet, on every listener (Node's own has no body: answerHeadsInHandlers). */
export function expectationRefusal(req: IncomingMessage): GatewayError | undefined {
  return req.headers.expect === undefined || expectsContinue(req) ? undefined : new GatewayError('expectation_failed', 'the Expect header supports only 100-continue')
}

/**
 * What sends `100 Continue` once the body is needed (BodyOptions.onDemand), if the request asks for it.
 * Never to HTTP/1.0 (RFC 9110 §10.1.1, §15.2): its 100-continue is ignored, its body comes anyway, and
 * a 1.0 client, or a 1.0 hop before the gateway, took the 100 for the answer.
 */
export function continueSender(req: IncomingMessage, res: ServerResponse): (() => void) | undefined {
  return expectsContinue(req) && req.httpVersionMinor !== 0 ? () => res.writeContinue() : undefined
}

/** Wraps an inbound stream (undefined when the request has no body). */
export function createBody(stream: Readable | undefined, o: BodyOptions): Body {
  return new InboundBody(stream, o)
}

/** A class rather than an object literal with getters: a literal makes fresh accessor closures per request. */
class InboundBody implements Body {
  readonly #stream: Readable | undefined
  readonly #o: BodyOptions
  #buffered: Buffer | undefined = undefined
  #pending: Promise<Buffer> | undefined = undefined
  #demanded = false

  constructor(stream: Readable | undefined, o: BodyOptions) {
    this.#stream = stream
    this.#o = o
  }

  get present(): boolean {
    return this.#buffered !== undefined || this.#stream !== undefined
  }

  get stream(): Readable | undefined {
    if (this.#buffered !== undefined) return undefined
    this.#demand()
    return this.#stream
  }

  get buffered(): Buffer | undefined {
    return this.#buffered
  }

  bytes(): Promise<Buffer> {
    if (this.#buffered) return Promise.resolve(this.#buffered)
    const stream = this.#stream
    if (!stream) return Promise.resolve((this.#buffered = Buffer.alloc(0)))
    const o = this.#o
    if (o.declaredLength !== undefined && o.declaredLength > o.limit) return Promise.reject(tooLarge(o))
    if (!this.#pending) {
      const hold = o.hold?.()
      // Refused before the caller is told to send (100-continue) and before a byte is read.
      if (hold && !hold.take(o.declaredLength ?? 0)) return Promise.reject(budgetFull())
      this.#demand()
      o.onBuffer?.()
      this.#pending = readAll(stream, o, hold).then((b) => (this.#buffered = b))
    }
    return this.#pending
  }

  replace(bytes: Buffer): void {
    this.#buffered = bytes
  }

  #demand(): void {
    if (this.#demanded || !this.#stream) return
    this.#demanded = true
    this.#o.onDemand?.()
  }
}

function tooLarge(o: BodyOptions): GatewayError {
  return new GatewayError('body_too_large', `request body exceeds the ${o.limit}-byte limit for bodies the gateway must read (${o.limitName ?? 'limits.maxBufferedBody'})`)
}

/** Names the key, never the body: the 503 of a full budget (retry: other bodies will have gone). */
function budgetFull(): GatewayError {
  return new GatewayError('buffered_bodies_full', 'the gateway holds as many request bodies in memory as limits.maxBufferedTotal allows; retry shortly', { headers: { 'retry-after': String(RETRY_AFTER_S) } })
}

/** Seconds a refused caller is asked to wait: long enough for a few held bodies to be sent on. */
const RETRY_AFTER_S = 5

/**
 * Reads to the end, or stops (paused, not destroyed: the connection must carry the 413 or
 * 503) beyond `limit` or when the budget refuses a chunk beyond the declared length.
 */
function readAll(stream: Readable, o: BodyOptions, hold: BodyHold | undefined): Promise<Buffer> {
  const limit = o.limit
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    // What the hold already covers (the declared length, taken up front).
    let charged = o.declaredLength ?? 0
    const settle = (fn: () => void): void => {
      stream.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose)
      fn()
    }
    const onData = (b: Buffer): void => {
      size += b.length
      if (size > limit) return stop(tooLarge(o))
      if (hold && size > charged) {
        if (!hold.take(size - charged)) return stop(budgetFull())
        charged = size
      }
      chunks.push(b)
    }
    const stop = (err: GatewayError): void => {
      stream.pause()
      settle(() => reject(err))
    }
    const onEnd = (): void => settle(() => resolve(Buffer.concat(chunks, size)))
    const onError = (e: Error): void => settle(() => reject(e))
    const onClose = (): void => settle(() => reject(new Error('the caller closed the connection during the body')))
    stream.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose)
  })
}
