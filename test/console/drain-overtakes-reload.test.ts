/**
 * The console's "Reload config" that a drain overtakes (the reload had started, then the drain
 * began) answers as one asked during the drain (drain-reload.test.ts): 503, the gateway's error
 * body, `draining: reload abandoned …`, one audit line `abandoned`. Before, it answered 200 with
 * `{"ok":false,…}`, which the page showed as "Reload failed; the last good config stays in force".
 *
 * They are made to meet: the process serving the console (the primary with --workers) is stopped
 * (SIGSTOP), the reload's request is written on a connection it had already accepted, SIGTERM is
 * sent, and it is continued. Usually it reads the request first and the drain begins before the
 * reload could be put in force, but it may also take SIGTERM first (then the reload is one asked
 * while draining: 503 `draining: no reload …`) or finish the reload first (200, then the drain). An
 * attempt that met another order is checked for what that order must do, and the case runs again
 * until the overtaken order came (test/support/until-order.ts); it fails if it never does.
 */
import { Agent, request } from 'node:http'
import { describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { exitedOf } from '../support/process.js'
import { eventually } from '../support/eventually.js'
import { whileStopped } from '../support/stopped-process.js'
import { untilOrder } from '../support/until-order.js'
import type { Reply } from '../support/admin-request.js'
import { apiSession } from './console-support.js'
import { useDrainConsoleRig } from './drain-console-rig.js'
import { sendSignal } from '../support/signals.js'

const rig = useDrainConsoleRig('console-overtaken-reload')
const ABANDONED = 'draining: reload abandoned (the instance is shutting down; start the next one with the new config)'

/** A console request on `agent`'s one kept-alive connection; `written` once its bytes are with the kernel. */
function consoleRequest(agent: Agent, url: string, headers: Record<string, string>, body?: string): { written: Promise<void>; reply: Promise<Reply> } {
  let written = (): void => {}
  const wrote = new Promise<void>((resolve) => (written = resolve))
  const reply = new Promise<Reply>((resolve, reject) => {
    const u = new URL(url)
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: body === undefined ? 'GET' : 'POST', headers, agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('error', reject)
    req.end(body, () => written())
  })
  return { written: wrote, reply }
}

const ADOPTED_LINE = /^(config reloaded|reload accepted by every worker)$/
const REFUSED = 'draining: no reload (the instance is shutting down; start the next one with the new config)'
type Order = 'overtaken' | 'drain-first' | 'reload-first'

describe("the console's reload that a drain overtakes", () => {
  for (const workers of [1, 2]) {
    it(`answers 503 "draining: reload abandoned …" like one asked while draining (--workers ${workers}); exit 0`, async () => {
      const { upstream } = rig
      await untilOrder<Order>('overtaken', 6, async (attempt) => {
        const { gp, consoleUrl } = await rig.spawn(workers, attempt)
        const agent = new Agent({ keepAlive: true, maxSockets: 1 })
        try {
          const s = await apiSession(consoleUrl)
          const headers = { cookie: s.cookie, origin: s.origin }
          // The connection the reload will come on, accepted (and kept) before the process stops.
          expect((await consoleRequest(agent, `${consoleUrl}api/overview`, headers).reply).status).toBe(200)
          const inFlight = send(gp.url, '/proxy/held/held')
          await eventually(() => upstream.waiting.length === 1, 30_000, 'the upstream to hold the request')
          const exit = exitedOf(gp.child)
          const pid = gp.child.pid as number
          const from = gp.output.length
          let reload: Promise<Reply> | undefined
          await whileStopped(pid, async () => {
            const r = consoleRequest(agent, `${consoleUrl}api/reload`, { ...headers, 'x-csrf-token': s.csrf, 'content-type': 'application/json' }, '{}')
            reload = r.reply
            await r.written
            sendSignal(pid, 'SIGTERM')
          })
          // The drain closes a kept-alive connection it finds idle: one whose request it had not read yet.
          const answered = await (reload as Promise<Reply>).catch((e: NodeJS.ErrnoException) => e)
          upstream.release()
          expect((await inFlight).status).toBe(200)
          expect(await exit).toBe(0)
          await gp.ended
          const after = gp.logEntries(from)
          const audits = after.filter((e) => e.audit === 'console' && e.action === 'reload')
          if (answered instanceof Error) {
            // SIGTERM was taken before the request was read: the connection was closed unanswered, nothing reloaded.
            expect(answered.code ?? answered.message).toMatch(/^(ECONNRESET|EPIPE|socket hang up)$/)
            expect(after.filter((e) => e.msg === 'draining: reload abandoned' || ADOPTED_LINE.test(String(e.msg)))).toEqual([])
            expect(audits).toEqual([])
            return 'drain-first'
          }
          if (answered.status === 200) {
            // Put in force before the drain began: the page's ordinary answer, nothing abandoned or refused.
            expect(JSON.parse(answered.text)).toMatchObject({ ok: true })
            expect(after.filter((e) => e.msg === 'draining: reload abandoned' || e.msg === 'draining: no reload')).toEqual([])
            return 'reload-first'
          }
          expect(answered.status).toBe(503)
          expect(Number(answered.headers['content-length'])).toBe(Buffer.byteLength(answered.text))
          const { errors } = JSON.parse(answered.text) as { errors: { msg: string; code: number }[] }
          if (errors[0]?.msg === REFUSED) {
            // Asked while draining (drain-reload.test.ts holds this path): never the overtaken line.
            expect(errors).toEqual([{ msg: REFUSED, code: 503 }])
            expect(after.filter((e) => e.msg === 'draining: reload abandoned')).toEqual([])
            return 'drain-first'
          }
          expect(errors).toEqual([{ msg: ABANDONED, code: 503 }])
          // The overtaken path (not the refusal of one asked while draining): said once, by the console's process.
          expect(after.filter((e) => e.msg === 'draining: reload abandoned')).toMatchObject([{ pid, trigger: 'console' }])
          expect(after.filter((e) => e.msg === 'draining: no reload')).toEqual([])
          expect(audits).toMatchObject([{ result: 'abandoned' }])
          return 'overtaken'
        } finally {
          agent.destroy()
          for (const w of upstream.waiting.splice(0)) w.res.destroy()
          await gp.stop('SIGKILL')
        }
      })
    }, 600_000)
  }
})
