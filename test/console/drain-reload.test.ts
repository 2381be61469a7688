/**
 * The console's "Reload config" while the instance drains reloads nothing, as a SIGHUP or a
 * watched file's change then does (signals.ts): 503 `draining: no reload …`, no reload line, the
 * held request finishes, exit 0. Before, it reloaded the draining process and, with `--workers`,
 * relayed the reload to the draining workers.
 */
import { describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { exitedOf } from '../support/process.js'
import { eventually } from '../support/eventually.js'
import { adminRequest, apiSession } from './console-support.js'
import { useDrainConsoleRig } from './drain-console-rig.js'

const rig = useDrainConsoleRig('console-drain-reload')

describe("the console's reload while the instance drains", () => {
  for (const workers of [1, 2]) {
    it(`is refused with 503 "draining: no reload" and reloads nothing (--workers ${workers})`, async () => {
      const { gp, consoleUrl } = await rig.spawn(workers)
      const { upstream } = rig
      try {
        const s = await apiSession(consoleUrl)
        const reload = () => adminRequest(`${consoleUrl}api/reload`, { method: 'POST', cookie: s.cookie, origin: s.origin, csrf: s.csrf, body: {} })
        // The same button before the drain reloads (so the refusal below is the drain's).
        const before = await reload()
        expect([before.status, JSON.parse(before.text)]).toEqual([200, { ok: true, endpoints: 2 }])
        const reply = send(gp.url, '/proxy/held/held')
        await eventually(() => upstream.waiting.length === 1, 30_000, 'the upstream to hold the request')
        const exit = exitedOf(gp.child)
        gp.child.kill('SIGTERM')
        await eventually(() => gp.logEntries().filter((e) => e.msg === 'draining: no new connections, waiting for in-flight requests').length === workers, 30_000, 'every process draining')
        // Lines are written in batches per process: the earlier reload's may come out later, but with their own time.
        const refusedAt = Date.now()
        const refused = await reload()
        expect([refused.status, JSON.parse(refused.text)]).toEqual([503, { errors: [{ msg: 'draining: no reload (the instance is shutting down; start the next one with the new config)', code: 503 }] }])
        expect(Number(refused.headers['content-length'])).toBe(Buffer.byteLength(refused.text))
        upstream.release()
        expect((await reply).status).toBe(200)
        expect(await exit).toBe(0)
        await gp.ended
        const reloadLines = gp.logEntries().filter((e) => /reload: relaying|config reloaded|reload accepted|config reload failed/.test(String(e.msg)))
        expect(reloadLines.length).toBeGreaterThan(0)
        expect(reloadLines.filter((e) => Date.parse(String(e.time)) >= refusedAt)).toEqual([])
      } finally {
        for (const w of upstream.waiting.splice(0)) w.res.destroy()
        await gp.stop('SIGKILL')
      }
    }, 180_000)
  }
})
