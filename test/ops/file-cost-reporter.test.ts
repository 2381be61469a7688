/**
 * test/support/file-cost-reporter.ts (README, Tests): each file's row counts its hooks, which
 * vitest's JSON reporter leaves out. A scratch project of two files run by vitest with the
 * reporter: one spends 400 ms of CPU in its beforeAll and passes, one fails.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, expect, it } from 'vitest'
import type { FileCost } from '../support/file-cost-reporter.js'

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-costs-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

it('writes one row per file, its beforeAll counted in its run time, slowest first, failures named', async () => {
  symlinkSync(resolve('node_modules'), join(dir, 'node_modules'))
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n')
  writeFileSync(join(dir, 'vitest.config.mjs'), "export default { test: { include: ['*.test.mjs'] } }\n")
  // Busy, not asleep: 400 ms pass in the hook whatever the machine's load.
  writeFileSync(join(dir, 'slow-hook.test.mjs'), "import { beforeAll, it } from 'vitest'\nbeforeAll(() => { const end = Date.now() + 400; while (Date.now() < end); })\nit('passes', () => {})\n")
  writeFileSync(join(dir, 'failing.test.mjs'), "import { expect, it } from 'vitest'\nit('fails', () => expect(1).toBe(2))\n")
  const out = join(dir, 'costs.json')
  const run = await promisify(execFile)(process.execPath, [resolve('node_modules/vitest/vitest.mjs'), 'run', '--root', dir, '--reporter=dot', `--reporter=${resolve('test/support/file-cost-reporter.ts')}`], {
    cwd: dir,
    env: { ...process.env, MTLS_GATEWAY_TEST_COSTS: out },
    timeout: 100_000,
  }).then(() => 'passed', (e: unknown) => e)
  expect(run, 'one file fails').not.toBe('passed')
  const { wallMs, files } = JSON.parse(readFileSync(out, 'utf8')) as { wallMs: number; files: FileCost[] }
  expect(files.map((f) => [f.file, f.state])).toEqual([['slow-hook.test.mjs', 'passed'], ['failing.test.mjs', 'failed']])
  const slow = files[0] as FileCost
  expect(slow.runMs).toBeGreaterThanOrEqual(400)
  expect(slow.toMs).toBeGreaterThanOrEqual(slow.fromMs + 400)
  expect(wallMs).toBeGreaterThanOrEqual(slow.toMs)
})
