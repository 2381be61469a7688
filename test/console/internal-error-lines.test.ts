/**
 * The console's internal-error lines (a 500, its stack logged) are capped by logging.callerFaults
 * like its refusal lines: whatever caused one may be anyone's to repeat, so a flood writes the
 * first `burst` lines of a window whole, then one summary naming the addresses held back. And a
 * sign-in whose caller leaves in the middle of its body (anyone's to send, no credentials needed)
 * is no internal error at all: it was one, a line with a stack each, uncapped.
 */
import { connect } from 'node:net'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GatewayConfig } from '../../src/config/index.js'
import { capRefusalLines } from '../../src/console/refusal-lines.js'
import { startProviderlessConsole, type ProviderlessConsole } from './console-support.js'

const BURST = 2
const SENT = 7

describe('the console\'s internal-error lines', () => {
  it('a flood writes the first lines whole (with the stack), then one summary naming the addresses', () => {
    const lines: Record<string, unknown>[] = []
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) })
    const config = { logging: { callerFaults: { burst: BURST, intervalMs: 600_000 } } } as unknown as GatewayConfig
    const cap = capRefusalLines(pino({ base: null }, sink), () => config, () => undefined, () => undefined)
    for (let i = 0; i < SENT; i++) cap.internalError(i === SENT - 1 ? '198.51.100.7' : '203.0.113.9', new Error(`boom ${i}`))
    cap.flush()
    return new Promise<void>((resolve) => setImmediate(() => {
      const errors = lines.filter((l) => l.msg === 'console: internal error')
      expect(errors.map((l) => [l.level, (l.err as { stack: string }).stack.split('\n')[0]])).toEqual([[50, 'Error: boom 0'], [50, 'Error: boom 1']])
      const summaries = lines.filter((l) => String(l.msg).startsWith('suppressed '))
      expect(summaries.map((s) => [s.listener, s.reason, s.suppressed, s.clients])).toEqual([['console', 'internal', SENT - BURST, { '203.0.113.9': SENT - BURST - 1, '198.51.100.7': 1 }]])
      resolve()
    }))
  })
})

describe('a sign-in whose caller leaves in the middle of its body', () => {
  let c: ProviderlessConsole
  beforeAll(async () => {
    c = await startProviderlessConsole('console-internal-lines-', `logging:\n  callerFaults: { burst: ${BURST}, interval: 10m }\n`)
  })
  afterAll(async () => {
    await c?.close()
  })

  /** A same-origin sign-in that announces a 100-byte body, sends 9 bytes of it, and resets the connection. */
  async function abandonedSignIn(): Promise<void> {
    const { port } = new URL(c.ops.adminUrl)
    const socket = connect(Number(port), '127.0.0.1')
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
    const head = ['POST /console/api/login HTTP/1.1', `Host: 127.0.0.1:${port}`, `Origin: ${c.session.origin}`, 'Content-Type: application/json', 'Content-Length: 100']
    socket.write(`${head.join('\r\n')}\r\n\r\n{"token":`)
    await new Promise((r) => setTimeout(r, 100))
    await new Promise<void>((resolve) => (socket.once('close', () => resolve()), socket.resetAndDestroy()))
  }

  it('is no internal error: no error line, and the console goes on serving', async () => {
    for (let i = 0; i < SENT; i++) await abandonedSignIn()
    // The console still answers (a request after the resets was served, so they were handled first).
    expect((await c.get('session')).status).toBe(200)
    await c.ops.gw.close()
    const entries = c.ops.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(entries.filter((e) => String(e.msg).includes('internal error') || e.reason === 'internal')).toEqual([])
  })
})
