import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { benchOptions, defaultOut, type BenchOptions } from '../../bench/options.js'

const dir = mkdtempSync(join(tmpdir(), 'bench-options-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const NOW = new Date('2026-12-02T05:00:00Z')

function parse(args: string[]): BenchOptions {
  const o = benchOptions([...args, '--nodes', process.execPath], NOW, dir)
  if (o === 'help') throw new Error('unexpected help')
  return o
}

describe('bench options', () => {
  it('writes to bench/results/<day>.json, and never over an earlier run of the same day', () => {
    expect(defaultOut(dir, '2026-12-02')).toBe(join(dir, '2026-12-02.json'))
    expect(parse([]).out).toBe(join(dir, '2026-12-02.json'))
    writeFileSync(join(dir, '2026-12-02.json'), '{}')
    expect(parse([]).out).toBe(join(dir, '2026-12-02-2.json'))
    writeFileSync(join(dir, '2026-12-02-2.json'), '{}')
    expect(parse([]).out).toBe(join(dir, '2026-12-02-3.json'))
    expect(parse(['--out', '/tmp/x.json']).out).toBe('/tmp/x.json')
    expect(parse(['--quick']).out).toBe(join(tmpdir(), `mtls-gateway-bench-${NOW.getTime()}.json`))
  })

  it('has full defaults, quick defaults, and takes what is given', () => {
    const full = parse([])
    expect(full.measure).toEqual({ rounds: 3, warmupMs: 400, durationMs: 2500, pacedMs: 1500, rate: 1000, users: 50, mintHosts: 200 })
    expect({ stages: full.stagesMs, perf: full.perfMs, prewarm: full.prewarmMs, side: full.sideRounds, soak: full.soakSeconds }).toEqual({ stages: 2000, perf: 2000, prewarm: 1000, side: 0, soak: 0 })
    expect(full.bodies).toEqual(['empty', '64k'])
    expect(full.paths).not.toContain('gateway_ops') // an extra path runs only when named
    const quick = parse(['--quick'])
    expect(quick.measure.rounds).toBe(1)
    expect(quick.perfMs).toBe(500)
    const given = parse(['--perf', '0', '--rounds', '5', '--paths', 'undici_forwarder,gateway_mtls', '--bodies', 'empty', '--compare', '/b/dist', '--no-pin', '--soak', '300'])
    expect({ perf: given.perfMs, rounds: given.measure.rounds, paths: given.paths, bodies: given.bodies, compare: given.compare, noPin: given.noPin, noProxy: given.noProxy, soak: given.soakSeconds })
      .toEqual({ perf: 0, rounds: 5, paths: ['undici_forwarder', 'gateway_mtls'], bodies: ['empty'], compare: '/b/dist', noPin: true, noProxy: false, soak: 300 })
    expect(benchOptions(['--help'])).toBe('help')
    // The other build's processes start in their own directories: a relative dist must not follow them there.
    expect(parse(['--compare', 'before/dist']).compare).toBe(resolve('before/dist'))
    expect({ pairs: given.pairs, pairMs: given.pairMs, quickPairMs: quick.pairMs }).toEqual({ pairs: 0, pairMs: 1000, quickPairMs: 300 })
    // The targets' CPU ratios come from paired windows against the floor in a full run; a smoke run skips them unless asked.
    expect({ full: full.floorPairs, quick: quick.floorPairs, asked: parse(['--quick', '--floor-pairs', '2']).floorPairs }).toEqual({ full: 10, quick: 0, asked: 2 })
    expect({ full: full.latencyPairs, quick: quick.latencyPairs, asked: parse(['--latency-pairs', '3']).latencyPairs }).toEqual({ full: 10, quick: 0, asked: 3 })
    // The allocation table samples after the rounds in a full run; a smoke run skips it unless asked.
    expect({ full: full.allocMs, quick: quick.allocMs, asked: parse(['--quick', '--alloc', '800']).allocMs }).toEqual({ full: 2000, quick: 0, asked: 800 })
    // The stage and allocation tables' own processes are warmed before each window (a fresh process's first seconds are not its cost).
    expect({ full: full.freshWarmMs, quick: quick.freshWarmMs, asked: parse(['--fresh-warm', '5000']).freshWarmMs }).toEqual({ full: 3000, quick: 300, asked: 5000 })
    // A phase's own path selection: every path among --paths unless narrowed (the smoke test's one run of every path narrows them).
    expect({ floor: full.floorPairPaths, alloc: full.allocPaths }).toEqual({ floor: undefined, alloc: undefined })
    const narrowed = parse(['--floor-pairs-paths', 'gateway_mtls', '--alloc-paths', 'undici_forwarder,gateway_realistic'])
    expect({ floor: narrowed.floorPairPaths, alloc: narrowed.allocPaths }).toEqual({ floor: ['gateway_mtls'], alloc: ['undici_forwarder', 'gateway_realistic'] })
    // The run's directory (profiles, recordings) goes at the end unless asked to stay.
    expect({ full: full.keepDir, quick: quick.keepDir, asked: parse(['--keep-dir']).keepDir }).toEqual({ full: false, quick: false, asked: true })
    // The idle spell costs a minute or more per Node: only when asked.
    expect({ full: full.idleSeconds, quick: quick.idleSeconds, asked: parse(['--idle', '60']).idleSeconds }).toEqual({ full: 0, quick: 0, asked: 60 })
    // Its windows: 1 s in a full run, shorter in a smoke run (which reads no figures from them).
    expect({ full: full.idleWindowMs, quick: quick.idleWindowMs, asked: parse(['--idle-window', '2000']).idleWindowMs }).toEqual({ full: 1000, quick: 500, asked: 2000 })
  })

  it('takes --v8-log ic or maps, nothing else', () => {
    expect(parse([]).v8Log).toBeUndefined()
    expect(parse(['--v8-log', 'ic']).v8Log).toBe('ic')
    expect(parse(['--v8-log', 'maps']).v8Log).toBe('maps')
    expect(() => parse(['--v8-log', 'gc'])).toThrow('--v8-log takes ic or maps, not gc')
  })
})
