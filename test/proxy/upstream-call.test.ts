/**
 * The upstream call's relay without streams: what a stream pair would have done, by hand.
 * Driven with undici's handler calls in the orders a pool can make them, against a response
 * stand-in whose socket can be full.
 */
import { EventEmitter } from 'node:events'
import type { ServerResponse } from 'node:http'
import type { Dispatcher } from 'undici'
import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import type { RequestFacts, UpstreamResponse } from '../../src/proxy/pipeline.js'
import { UpstreamCall } from '../../src/proxy/upstream-call.js'

class FakeController {
  paused = false
  aborted = false
  reason: Error | null = null
  resumes = 0
  abort(reason: Error): void {
    this.aborted = true
    this.reason = reason
  }
  pause(): void {
    this.paused = true
  }
  resume(): void {
    if (this.paused) this.resumes++
    this.paused = false
  }
}

class FakeResponse extends EventEmitter {
  written: string[] = []
  full = false
  ended = false
  destroyed = false
  get writableFinished(): boolean {
    return this.ended
  }
  write(chunk: Buffer): boolean {
    this.written.push(chunk.toString())
    return !this.full
  }
  /** A whole body's last chunk comes with end() (end-whole.ts), as ServerResponse takes it. */
  end(chunk?: Buffer): void {
    if (chunk) this.written.push(chunk.toString())
    this.ended = true
  }
  destroy(): void {
    this.destroyed = true
  }
  /** Times the head was sent on its own (before any body byte). */
  headsFlushed = 0
  flushHeaders(): void {
    this.headsFlushed++
  }
}

function start(): { call: UpstreamCall; ctl: FakeController; settled: Promise<UpstreamResponse>; facts: RequestFacts } {
  const facts: RequestFacts = {}
  let call!: UpstreamCall
  const settled = new Promise<UpstreamResponse>((resolve, reject) => (call = new UpstreamCall('ep', facts, resolve, reject)))
  const ctl = new FakeController()
  call.onRequestStart(ctl as unknown as Dispatcher.DispatchController)
  return { call, ctl, settled, facts }
}

const c = (ctl: FakeController): Dispatcher.DispatchController => ctl as unknown as Dispatcher.DispatchController
const asRes = (r: FakeResponse): ServerResponse => r as unknown as ServerResponse

describe('UpstreamCall', () => {
  it('resolves at the final head (not a 1xx), keeps what arrives before relayTo and sends it first, in order', async () => {
    const { call, ctl, settled, facts } = start()
    call.onResponseStart(c(ctl), 103, {})
    call.onResponseStart(c(ctl), 200, { 'content-type': 'text/plain' })
    call.onResponseData(c(ctl), Buffer.from('a'))
    call.onResponseData(c(ctl), Buffer.from('b'))
    call.onResponseEnd()
    const head = await settled
    expect(head.status).toBe(200)
    expect(facts.upstreamMs).toBeGreaterThanOrEqual(0)
    const res = new FakeResponse()
    head.body.relayTo(asRes(res), { onCut: () => expect.unreachable() })
    expect(res.written).toEqual(['a', 'b'])
    expect(res.ended).toBe(true)
  })

  it('pauses undici while the caller\'s socket is full, runs the stall clock, and resumes on drain', async () => {
    const { call, ctl, settled } = start()
    call.onResponseStart(c(ctl), 200, {})
    const res = new FakeResponse()
    const clock: string[] = []
    ;(await settled).body.relayTo(asRes(res), { stall: { start: () => clock.push('start'), stop: () => clock.push('stop') }, onCut: () => expect.unreachable() })
    res.full = true
    call.onResponseData(c(ctl), Buffer.from('x'))
    expect(ctl.paused).toBe(true)
    expect(clock).toEqual(['start'])
    res.full = false
    res.emit('drain')
    expect(ctl.paused).toBe(false)
    expect(clock).toEqual(['start', 'stop'])
    call.onResponseData(c(ctl), Buffer.from('y'))
    call.onResponseEnd()
    expect(res.written).toEqual(['x', 'y'])
    expect(res.ended).toBe(true)
  })

  it('sends the head at relayTo when no body byte has come yet; otherwise it goes with the first bytes, or the end', async () => {
    const waiting = start()
    waiting.call.onResponseStart(c(waiting.ctl), 200, {})
    const res = new FakeResponse()
    ;(await waiting.settled).body.relayTo(asRes(res), { onCut: () => expect.unreachable() })
    expect(res.headsFlushed).toBe(1)
    for (const early of [true, false]) {
      const s = start()
      s.call.onResponseStart(c(s.ctl), 200, {})
      if (early) s.call.onResponseData(c(s.ctl), Buffer.from('a'))
      else s.call.onResponseEnd()
      const r = new FakeResponse()
      ;(await s.settled).body.relayTo(asRes(r), { onCut: () => expect.unreachable() })
      expect([r.headsFlushed, r.written, r.ended]).toEqual([0, early ? ['a'] : [], !early])
    }
  })

  it('holds at most 64 KiB before relayTo (then pauses) and resumes when relayTo takes over', async () => {
    const { call, ctl, settled } = start()
    call.onResponseStart(c(ctl), 200, {})
    call.onResponseData(c(ctl), Buffer.alloc(40 * 1024, 97))
    expect(ctl.paused).toBe(false)
    call.onResponseData(c(ctl), Buffer.alloc(40 * 1024, 98))
    expect(ctl.paused).toBe(true)
    const res = new FakeResponse()
    ;(await settled).body.relayTo(asRes(res), { onCut: () => expect.unreachable() })
    expect(res.written.join('').length).toBe(80 * 1024)
    expect(ctl.paused).toBe(false)
    expect(ctl.resumes).toBe(1)
  })

  it('an upstream failure after the head cuts the response and names the cause once; before relayTo too', async () => {
    for (const early of [false, true]) {
      const { call, ctl, settled } = start()
      call.onResponseStart(c(ctl), 200, {})
      const res = new FakeResponse()
      const cuts: string[] = []
      const relay = (): void => void settled.then((h) => h.body.relayTo(asRes(res), { onCut: (e) => void cuts.push(e.message) }))
      if (!early) await new Promise<void>((r) => (relay(), setImmediate(r)))
      call.onResponseError(c(ctl), new Error('other side closed'))
      if (early) await new Promise<void>((r) => (relay(), setImmediate(r)))
      expect({ early, cuts, destroyed: res.destroyed }).toEqual({ early, cuts: ['other side closed'], destroyed: true })
    }
  })

  it('a failure before the head rejects with the classified gateway error', async () => {
    const { call, ctl, settled } = start()
    call.onResponseError(c(ctl), Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' }))
    const err = await settled.then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(GatewayError)
    expect((err as GatewayError).reason).toMatch(/^upstream_/)
  })

  it('a caller that left before the request reached a connection aborts it as soon as it does', () => {
    const facts: RequestFacts = {}
    const call = new UpstreamCall('ep', facts, () => {}, () => {})
    call.abort(new Error('caller went away'))
    const ctl = new FakeController()
    call.onRequestStart(c(ctl))
    expect(ctl.aborted).toBe(true)
    expect(ctl.reason?.message).toBe('caller went away')
  })
})
