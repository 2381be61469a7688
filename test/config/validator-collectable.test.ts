/**
 * A serving process must not hold the config validator between config reads: it is 1.4 MB of
 * code and schema objects that every mark-compact would mark, and a 64 KiB request body starts
 * one every few hundred requests (docs/performance.md, session 48). Read in a child process run
 * with --expose-gc, on the compiled gateway: a config loaded, collections forced, the validator
 * gone; the next read makes a new one whose verdicts are the first one's.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { assertDistFresh } from '../support/dist-fresh.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

const PROBE = `
import { configValidator, parseConfig } from './dist/src/config/load.js'
const yaml = 'endpoints:\\n  - name: a\\n    url: https://a.example.test\\n'
const verdicts = (v) => [v({ endpoints: [] }), v({ endpoints: 'x' }), v({ nope: 1 })].join()
// In a function: a module-level const would hold the validator itself.
const firstRead = () => { const first = configValidator(); return { before: verdicts(first), ref: new WeakRef(first) } }
const { before, ref } = firstRead()
// A whole config read in between, as at start (refused here for want of tls: it ran the validator all the same).
try { parseConfig('/tmp/gateway.yaml', yaml) } catch {}
await new Promise((r) => setTimeout(r, 0)) // a WeakRef's target is kept to the end of the job that made it
// deref() keeps its target to the end of the job too: each look comes a turn after the collection.
let collected = false
for (let i = 0; i < 5 && !collected; i++) { gc(); await new Promise((r) => setTimeout(r, 10)); collected = ref.deref() === undefined; await new Promise((r) => setTimeout(r, 0)) }
const again = configValidator()
console.log(JSON.stringify({ collected, same: verdicts(again) === before }))
`

it('the config validator is not held after a config read: a forced collection frees it, and the next read makes one with the same verdicts', () => {
  assertDistFresh()
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', PROBE], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
  expect(JSON.parse(out)).toEqual({ collected: true, same: true })
})
