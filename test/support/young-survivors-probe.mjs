// Loaded into a one-process gateway (`node --expose-gc --import <this>`) by
// test/proxy/closing-answer-young.test.ts. On a SIGUSR2 it waits until every socket it holds has
// closed, collects all garbage, notes the heap, starts holding each socket the servers accept
// (as Node's own lists hold one for a while after its close) and prints "young-survivors-probe
// holding". On the next it waits until those have closed, runs two young collections only and
// prints "young-survivors-probe kept <bytes more than at the note> sockets <held>".
import { Server } from 'node:net'
import { getHeapSpaceStatistics } from 'node:v8'

let held = new Set()
let holding = false
const emit = Server.prototype.emit
Server.prototype.emit = function (event, ...args) {
  if (event === 'connection' && holding) held.add(args[0])
  return emit.call(this, event, ...args)
}

const HEAP = new Set(['new_space', 'old_space', 'new_large_object_space', 'large_object_space'])
const used = () => getHeapSpaceStatistics().reduce((sum, s) => sum + (HEAP.has(s.space_name) ? s.space_used_size : 0), 0)
// Their close events have run by then, and what those queued a turn later.
const whenClosed = (then) => setTimeout(() => ([...held].every((s) => s.closed) ? setTimeout(then, 50) : whenClosed(then)), 10)

let base = 0
process.on('SIGUSR2', () =>
  whenClosed(() => {
    if (!holding) {
      held = new Set()
      globalThis.gc()
      base = used()
      holding = true
      return console.error('young-survivors-probe holding')
    }
    holding = false
    globalThis.gc({ type: 'minor' })
    globalThis.gc({ type: 'minor' })
    console.error(`young-survivors-probe kept ${used() - base} sockets ${held.size}`)
  }),
)
