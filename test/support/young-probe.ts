/**
 * What finished items leave in the old generation after going through a long-lived collection
 * (src/runtime/running-list.ts, docs/performance.md). A child Node, with collections asked for by
 * hand, passes items (EventEmitters) through `enter` and, 50 later, `leave`; the finished ones
 * carry a ~50 KB payload, the ones in flight at each young collection none. What the old
 * generation gains over 20 rounds is what finished items were kept reachable by: under 1 MB
 * when nothing keeps them, 20–150 MB with a Set or Map holding them (Node 20 and 24).
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

const ROUNDS = `
import { EventEmitter } from 'node:events'
import { getHeapSpaceStatistics } from 'node:v8'
const oldUsed = () => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space').space_used_size
const inFlight = []
const step = (payload) => {
  const item = new EventEmitter()
  item.payload = payload ? Array.from({ length: 2000 }, (_, i) => ({ i })) : undefined
  enter(item)
  inFlight.push(item)
  if (inFlight.length > 50) leave(inFlight.shift())
}
for (let i = 0; i < 5000; i++) step(false)
gc(); gc()
const before = oldUsed()
for (let round = 0; round < 20; round++) {
  for (let i = 0; i < 200; i++) step(true)
  for (let i = 0; i < 60; i++) step(false)
  gc({ type: 'minor' })
}
for (const item of inFlight.splice(0)) leave(item)
gc({ type: 'minor' }); gc({ type: 'minor' })
process.stdout.write(JSON.stringify({ grownMB: (oldUsed() - before) / 2 ** 20, left: left() }) + '\\n')
`

/** Old-generation growth (MB) and `left()` at the end, from one child run of `setup` (module code run at the repo root defining `enter(item)`, `leave(item)`, `left()`). */
export function promotedByFinished(setup: string): { grownMB: number; left: number } {
  const out = execFileSync(process.execPath, ['--expose-gc', '--single-threaded-gc', '--input-type=module', '-e', setup + ROUNDS], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
  return JSON.parse(out.trim().split('\n').at(-1) ?? '') as { grownMB: number; left: number }
}
