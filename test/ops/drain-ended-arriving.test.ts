/**
 * A request whose head completes once a drain's end has begun (its grace ran out, or a second
 * signal came) is never started: the drain's end closes every connection within half a second, so
 * it would be cut. It gets the drain's answer, `503` `drain_ended` with `Connection: close`, saying
 * it was not sent upstream, and its own access line; so does a `CONNECT` (its 503 written on the raw
 * socket); one pipelined behind it is not answered (that answer closes the connection) and has its
 * line too. Before, the drain's end ended only connections with a request in hand: such a request
 * started, went upstream (a CONNECT was admitted and answered 200), and was cut a moment later, a
 * `499` `caller_aborted` though its caller had done nothing.
 *
 * Deterministic: the connection has sent part of a head when the drain begins (so the drain keeps
 * it open: a request in progress), and the drain's end begins as the rest arrives, before the
 * gateway parses it (a signal handled in the same poll phase, before that read, does the same). A
 * seeded property over what arrives and whether a request is running on another connection then.
 * In-process gateway, raw TCP callers, a real mTLS upstream.
 */
import type { Socket } from 'node:net'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseRawResponse, rawClient } from '../support/raw-client.js'
import { useDrainEndRig } from './drain-end-rig.js'
import { eventually, startOpsGateway } from './helpers.js'

const rig = useDrainEndRig('drain-arriving')

const SHUTTING = 'the gateway is shutting down: a second signal ended its drain'
const ARRIVING = `${SHUTTING} as this request arrived (never started: not sent upstream)`
const RUNNING = `${SHUTTING} before this request was answered (its upstream may have received it)`
const get = (id: string): string => `GET /proxy/partner/${id} HTTP/1.1\r\nHost: gw\r\nX-Request-Id: ${id}\r\n\r\n`
const connect = (): string => `CONNECT api.partner.test:${rig.upstream.server.port} HTTP/1.1\r\nHost: api.partner.test:${rig.upstream.server.port}\r\n\r\n`
/** What arrives: the bytes (from the first head's final CRLF on, held back until the drain's end began), the request ids, the CONNECTs among them. */
const ARRIVALS = {
  'a GET': { text: (tag: string) => get(`${tag}-late`), ids: (tag: string) => [`${tag}-late`], connects: 0 },
  'two pipelined GETs': { text: (tag: string) => get(`${tag}-late`) + get(`${tag}-behind`), ids: (tag: string) => [`${tag}-late`, `${tag}-behind`], connects: 0 },
  'a CONNECT': { text: () => connect(), ids: () => [], connects: 1 },
}

/** `what` arrives on a connection once the drain's end has begun (with a request `running` on another); its answer, the lines, the exit codes. */
async function arrivingAtDrainEnd(what: keyof typeof ARRIVALS, running: boolean, tag: string): Promise<{ answers: string; lines: unknown[][]; exits: number[] }> {
  const exits: number[] = []
  mkdirSync(join(rig.dir, tag))
  const g = await startOpsGateway(join(rig.dir, tag), rig.yaml(), { exit: (code) => void exits.push(code) })
  try {
    const arrival = ARRIVALS[what]
    const text = arrival.text(tag)
    const split = text.indexOf('\r\n\r\n') + 2
    // The gateway's side of the arriving connection: how much of the head it has read; the drain's end, begun as the rest comes.
    const seen = { bytes: 0, endAtNext: false }
    g.gw.server.on('connection', (s: Socket) => s.prependListener('data', (d: Buffer) => {
      if (seen.endAtNext) g.gw.ops?.drain('SIGTERM')
      seen.bytes += d.length
    }))
    const c = await rawClient(g.gw.port)
    c.socket.write(text.slice(0, split))
    await eventually(() => seen.bytes === split, 30_000, 'the gateway to read the head but its final CRLF')
    const a = running ? await rawClient(g.gw.port) : undefined
    a?.socket.write(get(`held-${tag}`))
    if (a) await eventually(() => rig.upstream.waiting.length === 1, 30_000, 'the upstream to hold the running request')
    g.gw.ops?.drain('SIGTERM')
    seen.endAtNext = true
    c.socket.write(text.slice(split))
    await Promise.all([c.closed(30_000), a?.closed(30_000)])
    // The drain exits once the gateway's side of each connection closed too (its answer left first).
    await eventually(() => exits.length > 0, 30_000, 'the cut drain to exit')
    const ids = [...arrival.ids(tag), ...(running ? [`held-${tag}`] : [])]
    const lines = await eventually(() => {
      const all = g.access()
      const mine = ids.map((id) => all.find((l) => l.reqId === id))
      const connects = all.filter((l) => l.method === 'CONNECT')
      return !mine.includes(undefined) && connects.length === arrival.connects && [...mine, ...connects].map((l) => [l?.method, l?.status, l?.reason, l?.error])
    }, 30_000, `an access line for each of ${ids.join(', ')} and ${arrival.connects} CONNECT(s)`)
    return { answers: c.received().toString('latin1'), lines, exits }
  } finally {
    rig.upstream.waiting.splice(0).forEach((w) => w.res.destroy())
    await g.gw.close()
  }
}

describe('a request whose head completes once a drain\'s end has begun', () => {
  it('is answered 503 drain_ended with Connection: close and never started; one behind it is not answered; each has its line, none caller_aborted (seeded property)', async () => {
    let run = 0
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...(Object.keys(ARRIVALS) as (keyof typeof ARRIVALS)[])), fc.boolean(), async (what, running) => {
        const tag = `r${run++}`
        const { answers, lines, exits } = await arrivingAtDrainEnd(what, running, tag)
        expect(exits).toEqual([1])
        // One answer on the arriving connection: the drain's, which closes it.
        expect(answers.match(/HTTP\/1\.1 /g)).toHaveLength(1)
        const reply = parseRawResponse(Buffer.from(answers, 'latin1'))
        expect([reply.status, reply.headers.connection, JSON.parse(reply.body.toString('utf8'))]).toEqual([503, 'close', { errors: [{ msg: ARRIVING, code: 503 }] }])
        const method = what === 'a CONNECT' ? 'CONNECT' : 'GET'
        const arrived = Array.from({ length: what === 'two pipelined GETs' ? 2 : 1 }, () => [method, 503, 'drain_ended', ARRIVING])
        const runningLine = running ? [['GET', 503, 'drain_ended', RUNNING]] : []
        expect(lines).toEqual(what === 'a CONNECT' ? [...runningLine, ...arrived] : [...arrived, ...runningLine])
        expect(rig.upstream.reached.filter((id) => id.split('-').includes(tag))).toEqual(running ? [`held-${tag}`] : [])
      }),
      { seed: 0xd7a1, numRuns: 10 },
    )
  }, 240_000)
})
