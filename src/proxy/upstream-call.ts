/**
 * One call to an upstream as an undici dispatch handler: the response head settles the
 * forward step's promise, and the body goes straight from undici's parser into the caller's
 * response — no Readable, no pipe(), no request signal. What a stream pair would give is kept
 * by hand: backpressure (pause undici while the caller's socket is full, resume on 'drain'),
 * the send-idle limit while paused, and either side failing cuts the other.
 */
import type { ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import { undiciErrors } from '../gateway/index.js'
import { classifyUpstreamError } from '../tls/index.js'
import type { OutboundHeaders, RequestFacts, ResponseBody, UpstreamResponse } from './pipeline.js'
import type { RelayHooks } from './relay-hooks.js'
import { isClosedUnderRequest, MAX_STALE_RETRIES } from './stale-connection.js'
import { unaskedAnswer } from './unasked-answer.js'
import { markWriting, type UpstreamConnection } from './writing-call.js'
import { endWhole } from './end-whole.js'

/** Body bytes held between the response head and relayTo (one socket read, normally). */
const EARLY_LIMIT = 64 * 1024

export class UpstreamCall implements Dispatcher.DispatchHandler, ResponseBody {
  readonly #started = performance.now()
  #resolve: ((r: UpstreamResponse) => void) | undefined
  #reject: ((e: unknown) => void) | undefined
  #controller: Dispatcher.DispatchController | undefined
  #abortReason: Error | undefined
  #res: ServerResponse | undefined
  #hooks: RelayHooks | undefined
  #early: Buffer[] | undefined
  #earlyBytes = 0
  #ended = false
  /** A 204 or 304: whole at its head, whatever Content-Length it names (RFC 9112 §6.3; RFC 9110 §8.6). */
  #bodiless = false
  #held: (() => void) | undefined // heldBody() waits for the body's end (or failure)
  #failed: Error | undefined
  #waitingDrain = false
  /** The current attempt went over a connection that had carried a request before. */
  #reused = false
  #answered = false
  #aborted = false
  #retries = 0
  /** Started by the first 1xx (or the streamed request body's end, if later): undici restarts its head clock on every 1xx, so a backend sending `102 Processing` more often than the limit held the call for as long as it sent. */
  #interimTimer: NodeJS.Timeout | 'after body' | undefined
  #connection: UpstreamConnection | undefined

  /** `facts`: the access log and metrics read them when it is done; `replay` sends this call again (stale-connection.ts; undefined when a second copy could act twice); `responseMs`: the endpoint's timeouts.response (0: none); `body`: the streamed request body, if any. */
  constructor(private readonly endpoint: string, readonly facts: RequestFacts, resolve: (r: UpstreamResponse) => void, reject: (e: unknown) => void, private readonly replay?: (call: UpstreamCall) => void, private readonly responseMs = 0, private readonly body: Readable | null = null) {
    this.#resolve = resolve
    this.#reject = reject
  }

  /** Stops the call (the caller left); before the request is on a connection, as soon as it is. */
  abort(reason: Error): void {
    this.#aborted = true
    this.#stopInterimClock()
    if (this.#controller) this.#controller.abort(reason)
    else this.#abortReason ??= reason
  }

  /** Why the body failed before relayTo (nothing of it sent), if it did (a 204 or 304 is whole at its head): undici destroys the connection as soon as its parser fails (a malformed chunk) but fails the request only at its close, a loop turn later. */
  get failure(): Error | undefined {
    const c = this.#connection
    return this.#res || this.#ended || this.#bodiless ? undefined : this.#failed ?? (c?.destroyed === true ? c.errored ?? new Error('upstream connection closed') : undefined)
  }

  /** The connection this attempt is written on, and whether it carried a request before. */
  sentOn(reused: boolean, connection: UpstreamConnection): void {
    this.#reused = reused
    this.#connection = connection
  }

  /** The whole body once it has arrived (undefined if it failed), still held for relayTo: only for a small announced length. */
  async heldBody(): Promise<Buffer | undefined> {
    if (!this.#ended && !this.#failed) await new Promise<void>((r) => (this.#held = r))
    return this.#failed ? undefined : Buffer.concat(this.#early ?? [])
  }

  get whole(): boolean { return this.#ended && this.#failed === undefined } // all arrived, nothing failed (ResponseBody.whole)

  /** Sends what arrived so far and the rest of the body into `res` as it comes. */
  relayTo(res: ServerResponse, hooks?: RelayHooks): void {
    this.#res = res
    this.#hooks = hooks
    const early = this.#early
    this.#early = undefined
    if (this.whole) return endWhole(res, early)
    if (early) for (const chunk of early) res.write(chunk)
    else if (!this.#ended && !this.#failed) res.flushHeaders() // the head now, not with the body's first byte (an event stream, a long poll)
    if (this.#failed) return this.#cut(this.#failed)
    // Paused by the early buffer: the caller's socket decides from here on.
    if (this.#controller?.paused && !this.#waitingDrain) this.#controller.resume()
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    this.#reused = false
    // Aborted here, the request never reaches sendHeaders: nothing to take.
    if (this.#abortReason) controller.abort(this.#abortReason)
    else markWriting(this)
  }

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>): void {
    this.#answered = true
    if (status < 200 && status >= 100) return this.#startInterimClock() // 1xx informational: the final answer follows (forward refuses < 100)
    this.#stopInterimClock()
    this.#bodiless = status === 204 || status === 304
    this.facts.upstreamMs = performance.now() - this.#started
    const resolve = this.#resolve
    this.#resolve = this.#reject = undefined
    resolve?.({ status, headers: headers as OutboundHeaders, body: this })
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const res = this.#res
    if (res === undefined) {
      if (this.#early === undefined) this.#early = [chunk] // sized for the one chunk it nearly always holds (a push onto `[]` grows it to 17 slots)
      else this.#early.push(chunk)
      if ((this.#earlyBytes += chunk.length) >= EARLY_LIMIT) controller.pause()
      return
    }
    if (!res.write(chunk) && !this.#waitingDrain && !res.destroyed) {
      this.#waitingDrain = true
      controller.pause()
      this.#hooks?.stall?.start()
      res.once('drain', this.#drained)
    }
  }

  onResponseEnd(): void {
    if (this.#res) return void this.#res.end()
    this.#ended = true
    this.#held?.()
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.#stopInterimClock()
    const reject = this.#reject
    if (reject) {
      if (this.#isStale(err)) return this.#sendAgain()
      this.facts.upstreamMs = performance.now() - this.#started
      this.#resolve = this.#reject = undefined
      return reject(unaskedAnswer(err, this.endpoint) ?? classifyUpstreamError(err, this.endpoint))
    }
    // undici checks a 204/304's Content-Length against its (absent) body and destroys the connection:
    // that connection is gone, but this answer was whole at its head and is the caller's, not a cut one.
    if (this.#bodiless) return this.onResponseEnd()
    if (this.#res) return this.#cut(err)
    this.#failed = err
    this.#held?.()
  }

  #startInterimClock(): void {
    if (this.#interimTimer !== undefined || this.responseMs <= 0) return
    // The limit is the upstream's time to answer, not the caller's to send: while undici still reads
    // the body, its own clock (restarted by body writes) governs, and this one starts at the body's end.
    const body = this.body
    if (body && !body.readableEnded && !body.destroyed) {
      this.#interimTimer = 'after body'
      return void body.once('end', () => this.#interimTimer === 'after body' && ((this.#interimTimer = undefined), this.#startInterimClock()))
    }
    // undici's own error: classified and counted as every response timeout (504 upstream_timeout).
    this.#interimTimer = setTimeout(() => this.#controller?.abort(new (undiciErrors().HeadersTimeoutError)()), this.responseMs)
  }

  #stopInterimClock(): void {
    if (typeof this.#interimTimer === 'object') clearTimeout(this.#interimTimer)
    this.#interimTimer = undefined
  }

  /** A reused connection closed under this attempt before any answer, and a second copy is safe. */
  #isStale(err: Error): boolean {
    return this.replay !== undefined && this.#controller !== undefined && this.#reused && !this.#answered &&
      !this.#aborted && this.#retries < MAX_STALE_RETRIES && isClosedUnderRequest(err)
  }

  /** After the failing connection's close has run its course: undici is still inside it now. */
  #sendAgain(): void {
    this.#retries++
    this.facts.upstreamRetries = this.#retries
    this.#controller = undefined
    this.#reused = false
    const replay = this.replay as (call: UpstreamCall) => void
    queueMicrotask(() => replay(this))
  }

  readonly #drained = (): void => {
    this.#waitingDrain = false
    this.#hooks?.stall?.stop()
    this.#controller?.resume()
  }

  #cut(err: Error): void {
    const res = this.#res as ServerResponse
    this.#hooks?.stall?.stop()
    if (!res.writableFinished && !res.destroyed) this.#hooks?.onCut(err)
    res.destroy()
  }
}
