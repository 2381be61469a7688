/**
 * A duration written as a number past its maximum is named in plain digits with its unit
 * (milliseconds), and the maximum in milliseconds beside it: it read `1e+30 is longer than the
 * maximum, 596h`, JavaScript's way of writing 10^30, which is neither what the file held nor
 * anything the config accepts. Byte sizes likewise. Through `check` (the real program, as an
 * operator runs it), a refused reload of the real process, and the loader every start uses.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { expect, it } from 'vitest'
import { MAX_TIMER_MS, parseConfig } from '../../src/config/index.js'
import { configErrorLines } from '../support/config-problems.js'
import { MAIN, spawnGateway } from '../support/process.js'
import { refusedReloadProblems, replaceFile } from '../ops/helpers.js'

const FILE = '/etc/mtls-gateway/gateway.yaml'
const TIMER_WHY = `the gateway waits on a timer for it, and a timer holds at most ${MAX_TIMER_MS} ms (about 24.8 days)`
const ENDPOINT = "endpoints:\n  - { name: partner, url: 'https://api.partner.test', tls: { cert: c.pem, key: k.pem, roots: r.pem } }\n"

it('names a numeric duration past its maximum in plain digits of milliseconds, whatever its size', () => {
  // d·10^k as YAML writes it (`4e30`): 10^21 and up is where JavaScript switches to exponents.
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 10, max: 300 }), (d, k) => {
      const lines = configErrorLines(() => parseConfig(FILE, `listen: { timeouts: { headers: ${d}e${k} } }\n${ENDPOINT}`, { env: {} }))
      expect(lines).toEqual([`${FILE}:1:32: listen.timeouts.headers: ${d}${'0'.repeat(k)} ms is longer than the maximum, 596h (2145600000 ms): ${TIMER_WHY}`])
    }),
    { seed: 0x1e30, numRuns: 60 },
  )
})

it('names byte sizes in plain digits too', () => {
  const lines = configErrorLines(() => parseConfig(FILE, `limits: { maxBufferedBody: 1e30, maxBufferedTotal: 1e21 }\n${ENDPOINT}`, { env: {} }))
  // Each past its maximum (limits.maxBufferedBody, maxBufferedTotal), and the total below the body limit: every size in digits.
  expect(lines).toEqual([
    expect.stringContaining(`limits.maxBufferedBody: 1${'0'.repeat(30)} bytes is more than the maximum, 536870888 bytes`),
    expect.stringContaining(`limits.maxBufferedTotal: 1${'0'.repeat(21)} bytes is more than the maximum, 1099511627776 bytes (1024GiB)`),
    expect.stringContaining(`limits.maxBufferedTotal: 1${'0'.repeat(21)} bytes is less than limits.maxBufferedBody (1${'0'.repeat(30)} bytes)`),
  ])
  for (const line of lines) expect(line).not.toMatch(/\de[+-]?\d/)
})

it('`check` prints oversized durations in plain digits, never JavaScript\'s exponent form', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-duration-text-'))
  try {
    const file = join(dir, 'gateway.yaml')
    writeFileSync(file, `drain: { grace: 1e30 }\ncallers: { bearerTtl: 99999999999999999999999 }\n${ENDPOINT}`)
    const r = spawnSync(process.execPath, [MAIN, 'check', '--config', file], { encoding: 'utf8' })
    expect(r.status).toBe(1)
    const out = r.stdout + r.stderr
    expect(out).not.toMatch(/e\+\d/)
    expect(out).toContain(`${file}:1:17: drain.grace: 1${'0'.repeat(30)} ms is longer than the maximum, 596h (2145600000 ms): ${TIMER_WHY}`)
    // YAML reads the 23 nines as the nearest double, 10^23: the number the gateway would have used.
    expect(out).toContain(`${file}:2:23: callers.bearerTtl: 1${'0'.repeat(23)} ms is longer than the maximum, 1000000000000h (3600000000000000000 ms): `)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

it('a reload refused for a numeric duration past its maximum says it in plain digits too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-duration-reload-'))
  const file = join(dir, 'gateway.yaml')
  const yaml = (grace: string): string => `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\ndrain: { grace: ${grace} }\nendpoints: []\n`
  writeFileSync(file, yaml('25s'))
  const gp = await spawnGateway(file)
  try {
    const from = gp.output.length
    replaceFile(file, yaml('4e25'))
    expect(await refusedReloadProblems(gp, from)).toEqual([expect.stringMatching(new RegExp(`^${file}:3:17: drain\\.grace: 4${'0'.repeat(25)} ms is longer than the maximum, 596h \\(2145600000 ms\\): `))])
  } finally {
    await gp.stop('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
}, 120_000)
