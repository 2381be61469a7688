/**
 * bench/unit-counts.ts's bytes per call: the heap's growth over the counted calls means something
 * only when no collection ran among them (one frees an unknown share: the growth read as a
 * negative number once). A run whose young generation is too small to hold the calls says so.
 */
import { execFile } from 'node:child_process'
import { resolve } from 'node:path'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'
import { assertDistFresh } from '../support/dist-fresh.js'

assertDistFresh(['src', 'bench'])
const bytesRun = async (semiSpaceMiB: number): Promise<string> => (await promisify(execFile)(process.execPath, [
  `--max-semi-space-size=${semiSpaceMiB}`, `--min-semi-space-size=${semiSpaceMiB}`, 'dist/bench/unit-counts.js', '--run', 'sign', resolve('dist'), '50000', 'bytes',
], { timeout: 60_000 })).stdout.trim()

it('prints the bytes per call when no collection ran among the calls, and "collected" when one did', async () => {
  // A signature allocates about 50-100 bytes: 50,000 of them fit a 256 MiB young generation, not a 1 MiB one.
  expect(await bytesRun(256)).toMatch(/^\d+\.\d$/)
  expect(await bytesRun(1)).toBe('collected')
})
