/**
 * One process's reloader (ops/reload.ts) over any interleaving of reloads asked for (own triggers
 * and relayed ones), turns of the event loop and one drain: once draining, no config is put in
 * force; every reload asked for settles; each run the drain overtook is abandoned, said in one line
 * for an own trigger (a relayed one is the primary's to say), and counted nowhere. The spawned
 * processes (drain-overtakes-reload.test.ts) show the same on one interleaving; this covers them all.
 */
import fc from 'fast-check'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import type { GatewayConfig } from '../../src/config/index.js'
import type { Gateway } from '../../src/gateway/index.js'
import type { Metrics } from '../../src/ops/metrics.js'
import { createReloader, RELOAD_ABANDONED, type ReloadResult } from '../../src/ops/reload.js'

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('reload and drain', () => {
  it('once draining, adopts nothing; every reload settles; each overtaken run is said once (own triggers) and not counted', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom('own', 'relayed', 'turn', 'drain'), { minLength: 1, maxLength: 30 }), async (steps) => {
        const lines: Record<string, unknown>[] = []
        const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) })
        let draining = false
        let swapsWhileDraining = 0
        let counted = 0
        const gateway = { endpoints: new Map(), close: () => Promise.resolve() } as unknown as Gateway
        const reloader = createReloader({
          configFile: '/nonexistent/gateway.yaml', ref: { current: gateway }, log,
          load: () => ({}) as GatewayConfig,
          compile: () => ({ endpoints: new Map(), close: () => Promise.resolve() }) as unknown as Gateway,
          onSwap: () => void (draining && swapsWhileDraining++),
          retire: () => undefined,
          draining: () => draining,
          metrics: { configReload: () => void counted++, configLoaded: () => undefined } as unknown as Metrics,
        })
        const asked: { result: Promise<ReloadResult>; afterDrain: boolean }[] = []
        for (const step of steps) {
          if (step === 'turn') await turn()
          else if (step === 'drain') draining = true
          // A relayed reload builds from the primary's bytes (here none a parser would take: refused, unless abandoned first).
          else asked.push({ result: step === 'own' ? reloader.reload('SIGHUP') : reloader.reload('relayed', { text: '', files: {} }), afterDrain: draining })
        }
        const results = await Promise.all(asked.map((a) => a.result))
        expect(swapsWhileDraining).toBe(0)
        // Callers that joined one run share its result: distinct results are runs.
        const runs = new Set(results)
        const abandonedRuns = [...runs].filter((r) => !r.ok && r.abandoned === true)
        const said = lines.filter((l) => l.msg === RELOAD_ABANDONED)
        expect(said.length).toBeLessThanOrEqual(abandonedRuns.length)
        expect(said.every((l) => l.trigger === 'SIGHUP')).toBe(true)
        if (!draining) expect(abandonedRuns).toEqual([])
        // Every reload asked once draining is abandoned; a run put in force is counted, none other.
        expect(asked.flatMap((a, i) => (a.afterDrain && !(results[i] as { abandoned?: true }).abandoned ? [i] : []))).toEqual([])
        expect(counted).toBe([...runs].filter((r) => r.ok).length + lines.filter((l) => l.msg === 'config reload failed; keeping the last good config' && l.trigger === 'SIGHUP').length)
      }),
      { seed: 0xd7a1, numRuns: 300 },
    )
  })
})
