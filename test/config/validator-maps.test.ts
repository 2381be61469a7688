/**
 * Loading the config must leave V8's map for `{}` room for new transitions. ajv's code
 * optimiser keyed a fresh plain object by every name it generated (~1,300 for this schema);
 * V8 keeps at most 1,536 transitions per map, and once the map for `{}` was full, every
 * object later built from `{}` with a key not seen before got a map of its own for the rest
 * of the process: node's tick objects (about a dozen per request), header objects, per-request
 * facts, each slow to build and a cache miss wherever read (docs/performance.md, session 9).
 *
 * A child Node, started with `--log-maps`, loads and validates the shipped config (what
 * start-up and every reload do) and then schedules ticks; the log must show no map with
 * anywhere near the limit of transitions, and no tick object that had to get a map of its own.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-maps-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Transitions logged per source map, and maps copied (not transitioned) for a tick object's first key. */
function mapFacts(log: string): { mostTransitions: number; tickCopies: number } {
  const perMap = new Map<string, number>()
  let tickCopies = 0
  for (const line of log.split('\n')) {
    if (line.startsWith('map,Transition,')) {
      const from = line.split(',')[3] as string
      perMap.set(from, (perMap.get(from) ?? 0) + 1)
    } else if (line.startsWith('map,ReplaceDescriptors,') && line.includes('CopyAddDescriptor,symbol("async_id_symbol"')) {
      tickCopies++
    }
  }
  return { mostTransitions: Math.max(0, ...perMap.values()), tickCopies }
}

describe('config validation and V8 maps', () => {
  it('leaves the map for {} far from V8’s transition limit, and tick objects sharing maps', () => {
    const script = join(dir, 'load.mjs')
    const load = resolve('dist/src/config/index.js')
    writeFileSync(
      script,
      [
        `import { readFileSync } from 'node:fs'`,
        `const { parseConfig } = await import(${JSON.stringify(load)})`,
        `const file = ${JSON.stringify(resolve('config/gateway.yaml'))}`,
        // Twice: start-up, then a reload.
        `for (let i = 0; i < 2; i++) parseConfig(file, readFileSync(file, 'utf8'))`,
        // Collections clear transitions to maps nothing uses any more: only what stays counts.
        `for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)) }`,
        `let n = 0`,
        `await new Promise((done) => { const step = () => (++n < 5000 ? process.nextTick(step) : done()); step() })`,
      ].join('\n'),
    )
    const logfile = join(dir, 'v8.log')
    const run = spawnSync(process.execPath, ['--expose-gc', '--log-maps', `--logfile=${logfile}`, '--no-logfile-per-isolate', script], { encoding: 'utf8', timeout: 120_000 })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    const facts = mapFacts(readFileSync(logfile, 'utf8'))
    // Before the fix: 1,344 transitions from the map for {} and a fresh map for every tick.
    expect(facts.mostTransitions).toBeGreaterThan(0)
    expect(facts.mostTransitions).toBeLessThan(768)
    expect(facts.tickCopies).toBe(0)
  })
})
