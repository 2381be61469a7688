/**
 * `node dist/bench/sink-pace.js [--lines N] [--rounds R]`: what the log sink costs per access
 * line when lines arrive as a server makes them, one per turn of the event loop, rather than
 * from a tight loop. From a loop, lines pile up while a write is in flight and each write
 * carries hundreds of them; at a server's pace a write starts as soon as its threshold is
 * reached, and each asynchronous write is a round trip through libuv's thread pool whose CPU
 * (the pool thread, the wake-ups both ways) does not depend on its size. Process CPU (every
 * thread) per line, writes of 4 KiB against the default, beside a destination that discards:
 * the figure docs/performance.md gives for the sink's batch size.
 */
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setImmediate as turn } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { createLineSink } from '../src/ops/log-sink.js'

/** One way of taking lines: a sink with this threshold (undefined: the default), or none. */
interface Variant {
  name: string
  /** Absent: lines are dropped (the cost of making them and of the turns alone). */
  minLength?: number | 'default'
}

const VARIANTS: readonly Variant[] = [
  { name: 'discarded (no sink)' },
  { name: 'sink, writes of 4 KiB', minLength: 4096 },
  { name: 'sink, default (64 KiB)', minLength: 'default' },
]

// An access line of the realistic path, about the size the gateway writes.
const LINE = `${JSON.stringify({ level: 'info', time: '2026-12-02T07:00:00.000Z', pid: 1234, hostname: 'bench', reqId: 'b1e7c0de-0000-4000-8000-000000000000', mode: 'forward', endpoint: 'signed', method: 'GET', status: 200, durationMs: 1.4, upstreamMs: 0.9, tlsHandshakeMs: 3.1, upstreamAddress: '127.0.0.1', tlsVersion: 'TLSv1.3', connectionReused: true, tlsResumed: false, requestBytes: 180, responseBytes: 260, msg: 'request' })}\n`

/** Process CPU (µs, all threads) to take `lines` lines, one per event-loop turn, into a file. */
async function measure(v: Variant, lines: number, dir: string): Promise<number> {
  const fd = openSync(join(dir, 'sink.log'), 'w')
  try {
    const sink = v.minLength === undefined ? undefined : createLineSink({ fd, periodMs: 250, ...(v.minLength === 'default' ? {} : { minLength: v.minLength }) })
    const start = process.cpuUsage()
    for (let i = 0; i < lines; i++) {
      sink?.write(LINE)
      await turn()
    }
    await sink?.end()
    const used = process.cpuUsage(start)
    return (used.user + used.system) / lines
  } finally {
    closeSync(fd)
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { lines: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '7' } } })
  const lines = Number(values.lines)
  const rounds = Number(values.rounds)
  if (!(lines > 0 && rounds > 0)) throw new Error('--lines and --rounds must be positive')
  const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-sink-pace-'))
  try {
    const figures = VARIANTS.map(() => [] as number[])
    await measure(VARIANTS[2] as Variant, lines, dir) // warm-up
    for (let r = 0; r < rounds; r++) {
      // Interleaved, the order turned every round: a busy moment hits every variant alike.
      const order = r % 2 === 0 ? [...VARIANTS.keys()] : [...VARIANTS.keys()].reverse()
      for (const k of order) (figures[k] as number[]).push(await measure(VARIANTS[k] as Variant, lines, dir))
    }
    const base = median(figures[0] as number[])
    process.stdout.write(`log sink at a server's pace: ${lines} lines of ${LINE.length} B per round, one per event-loop turn, ${rounds} rounds, medians (process CPU, all threads)\n\n`)
    process.stdout.write('| lines go to | µs per line | added by the sink |\n|---|--:|--:|\n')
    for (const [k, v] of VARIANTS.entries()) {
      const m = median(figures[k] as number[])
      process.stdout.write(`| ${v.name} | ${m.toFixed(2)} | ${k === 0 ? '—' : (m - base).toFixed(2)} |\n`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
