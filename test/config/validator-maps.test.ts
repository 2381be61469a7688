/**
 * Loading the config must leave V8's map for `{}` room for new transitions. ajv's code
 * optimiser keyed a fresh plain object by every name it generated (~1,300 for this schema);
 * V8 keeps at most 1,536 transitions per map, and once the map for `{}` was full, every
 * object later built from `{}` with a key not seen before got a map of its own for the rest
 * of the process: node's tick objects (about a dozen per request), header objects, per-request
 * facts, each slow to build and a cache miss wherever read (docs/performance.md, session 9).
 *
 * A child Node, started with `--log-maps`, loads and validates the shipped config (what
 * start-up and every reload do), then makes 700 objects from `{}`, each with a key of its own
 * and kept alive (a running gateway's modules and requests add about 400 such transitions),
 * then schedules 5,000 ticks. No probe and no tick object may have had to get a map of its
 * own. With ajv's optimiser back on, about 600 probes and thousands of ticks do, on Node 20
 * and on Node 24.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-maps-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Maps copied (V8 could not add a transition) for a probe's or a tick object's key, and the probes' transitions. */
function mapFacts(log: string): { probeTransitions: number; probeCopies: number; tickCopies: number } {
  let probeTransitions = 0
  let probeCopies = 0
  let tickCopies = 0
  for (const line of log.split('\n')) {
    if (line.startsWith('map,Transition,') && /,probe\d+$/.test(line)) probeTransitions++
    else if (line.startsWith('map,ReplaceDescriptors,') && line.includes(',CopyAddDescriptor,')) {
      if (/,CopyAddDescriptor,probe\d+$/.test(line)) probeCopies++
      else if (line.includes('CopyAddDescriptor,symbol("async_id_symbol"')) tickCopies++
    }
  }
  return { probeTransitions, probeCopies, tickCopies }
}

describe('config validation and V8 maps', () => {
  it('leaves room in the map for {}: objects built later with new keys, and tick objects, share maps', () => {
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
        `const kept = []`,
        `for (let i = 0; i < 700; i++) { const o = {}; o['probe' + i] = i; kept.push(o) }`,
        `let n = 0`,
        `await new Promise((done) => { const step = () => (++n < 5000 ? process.nextTick(step) : done()); step() })`,
        `globalThis.kept = kept`,
      ].join('\n'),
    )
    const logfile = join(dir, 'v8.log')
    const run = spawnSync(process.execPath, ['--log-maps', `--logfile=${logfile}`, '--no-logfile-per-isolate', script], { encoding: 'utf8', timeout: 120_000 })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    const facts = mapFacts(readFileSync(logfile, 'utf8'))
    // Every probe key became an ordinary transition (the log does record them)…
    expect(facts.probeTransitions).toBe(700)
    // …and nothing had to be copied: before the fix ~600 probes and thousands of ticks were.
    expect(facts.probeCopies).toBe(0)
    expect(facts.tickCopies).toBe(0)
  })
})
