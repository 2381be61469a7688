/**
 * The primary's start gate (ops/start-gate.ts) over any interleaving of workers asking for their
 * texts, reloads and workers that start serving: a worker that asks during a reload is handed
 * that reload's result as it settles (never a later one, never before), however many reloads
 * follow; and each reload waits for every worker handed texts that does not serve yet.
 */
import { EventEmitter } from 'node:events'
import type { Worker } from 'node:cluster'
import fc from 'fast-check'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { createStartGate } from '../../src/ops/start-gate.js'

/** Longer than any test: a reload here waits for its workers, never for the timer. */
const NEVER_MS = 1e9

function fakeWorker(pid: number): Worker {
  return Object.assign(new EventEmitter(), { isDead: () => false, process: { pid } }) as unknown as Worker
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

interface Asked {
  w: Worker
  /** The config version in force when it asked, and whether a reload was in progress. */
  version: number
  during: boolean
  handed?: number
  listening: boolean
}

describe('start gate', () => {
  it('hands a worker asking during a reload that reload\'s result as it settles, and each reload waits for the workers handed texts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom('ask', 'reload', 'listen'), { maxLength: 40 }), async (steps) => {
        const gate = createStartGate()
        const log = pino({ enabled: false })
        let version = 0
        let reload: { settled: boolean } | undefined
        const asked: Asked[] = []
        const serveAll = async (): Promise<void> => {
          for (const a of asked.filter((x) => x.handed !== undefined && !x.listening)) {
            a.listening = true
            a.w.emit('message', { type: 'mtls-gateway:listening', url: 'http://x' })
          }
          await flush()
        }
        const endReload = async (): Promise<void> => {
          // The reload relays only once its starting workers serve (reload-coordinator.ts); then it is accepted.
          await serveAll()
          expect(reload?.settled).toBe(true)
          version++
          reload = undefined
          gate.release()
          await flush()
          for (const a of asked) expect(a.handed).toBe(a.during && a.version === version - 1 ? version : a.handed)
          expect(asked.every((a) => a.handed !== undefined)).toBe(true)
        }
        for (const step of steps) {
          if (step === 'ask') {
            const a: Asked = { w: fakeWorker(asked.length + 1), version, during: reload !== undefined, listening: false }
            asked.push(a)
            void gate.hand(a.w, () => version, a.during ? 'after-reload' : 'now').then((v) => (a.handed = v))
            await flush()
            expect(a.handed).toBe(a.during ? undefined : version)
          } else if (step === 'listen') {
            const a = asked.find((x) => x.handed !== undefined && !x.listening)
            a?.w.emit('message', { type: 'mtls-gateway:listening', url: 'http://x' })
            if (a) a.listening = true
          } else if (reload) await endReload()
          else {
            const waitsFor = asked.filter((a) => a.handed !== undefined && !a.listening).length
            const started = { settled: false }
            reload = started
            void gate.settle(log, NEVER_MS, () => expect.unreachable('no worker outlasts the reload here')).then(() => (started.settled = true))
            await flush()
            expect(started.settled).toBe(waitsFor === 0)
          }
        }
        if (reload) await endReload()
      }),
      { seed: 0x57a2e, numRuns: 300 },
    )
  })
})
