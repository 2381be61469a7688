import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { assertDistFresh } from '../support/dist-fresh.js'

// The log-sink pace bench runs end to end (a few hundred lines, one round) and prints one row
// per way of taking lines, each with a CPU figure; no figure is checked against a time.
assertDistFresh(['src', 'bench'])
const SCRIPT = new URL('../../dist/bench/sink-pace.js', import.meta.url).pathname

describe('log sink pace bench', () => {
  it('prints the CPU per line of each way of taking lines', async () => {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [SCRIPT, '--lines', '300', '--rounds', '1'])
    expect(stderr).toBe('')
    const rows = stdout.split('\n').filter((l) => /^\| (discarded|sink)/.test(l))
    expect(rows.map((r) => r.split('|')[1]?.trim())).toEqual(['discarded (no sink)', 'sink, writes of 4 KiB', 'sink, default (64 KiB)'])
    for (const row of rows) {
      const perLine = Number(row.split('|')[2])
      expect(Number.isFinite(perLine) && perLine > 0).toBe(true)
    }
    expect(rows[0]?.split('|')[3]?.trim()).toBe('—')
    for (const row of rows.slice(1)) expect(Number.isFinite(Number(row.split('|')[3]))).toBe(true)
  })

  it('refuses a count that is not positive', async () => {
    await expect(promisify(execFile)(process.execPath, [SCRIPT, '--lines', '0'])).rejects.toThrow(/--lines and --rounds must be positive/)
  })
})
