import { spawn } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setImmediate as turn } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { createLineSink } from '../../src/ops/log-sink.js'
import { assertDistFresh } from '../support/dist-fresh.js'

// The default log destination, in a real child process writing to a real pipe: every line
// arrives once and in order — across batched asynchronous writes, the periodic flush, a
// reader that stops reading for a while (a full pipe: EAGAIN, or a blocked write), and the
// end before process.exit (the write in progress first, then the rest synchronously).
assertDistFresh(['src'])
const SINK = new URL('../../dist/src/ops/log-sink.js', import.meta.url).href
const LINES = 30_000

const child = `
import { createLineSink } from ${JSON.stringify(SINK)}
const sink = createLineSink({ fd: 1 })
let i = 0
const line = (n) => JSON.stringify({ n, text: n % 7 === 0 ? 'ünïcödé ✓ ' + 'x'.repeat(n % 300) : 'plain' }) + '\\n'
const burst = () => {
  for (let k = 0; k < 1000 && i < ${LINES}; k++) sink.write(line(i++))
  if (i < ${LINES}) setTimeout(burst, i % 5000 === 0 ? 300 : 1)
  else sink.end().then(() => process.exit(0))
}
burst()
`
const procs: ReturnType<typeof spawn>[] = []
afterAll(() => procs.forEach((p) => p.kill('SIGKILL')))

/** Runs `use` with a fresh empty file open for writing, then closes and removes it. */
async function withFile(use: (fd: number, file: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-sink-'))
  const file = join(dir, 'out.log')
  const fd = openSync(file, 'w')
  try {
    await use(fd, file)
  } finally {
    closeSync(fd)
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('log line sink', () => {
  it('delivers every line once, in order, through batched writes, a stalled reader and the end before exit', async () => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', child], { stdio: ['ignore', 'pipe', 'pipe'] })
    procs.push(p)
    const chunks: Buffer[] = []
    let stderr = ''
    p.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
    // Stall the reader once, long enough for the pipe to fill.
    p.stdout?.once('data', (c: Buffer) => {
      chunks.push(c)
      p.stdout?.pause()
      setTimeout(() => p.stdout?.resume(), 500)
      p.stdout?.on('data', (d: Buffer) => chunks.push(d))
    })
    const code = await new Promise<number | null>((resolve) => p.once('close', resolve))
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
    const lines = Buffer.concat(chunks).toString('utf8').split('\n')
    expect(lines.pop()).toBe('')
    const ns = lines.map((l) => (JSON.parse(l) as { n: number }).n)
    expect(ns.length).toBe(LINES)
    expect(ns.every((n, k) => n === k)).toBe(true)
  })

  // Every asynchronous write is a thread-pool round trip costing the same CPU whatever its size;
  // at 4 KiB (one per ~10 access lines at a gateway's pace, a turn of the event loop between
  // lines) that cost the realistic path ~10 %. Lines wait for 64 KiB (or the period).
  it('gathers lines arriving one per event-loop turn into writes of at least 64 KiB', async () => {
    await withFile(async (fd, file) => {
      const sink = createLineSink({ fd, periodMs: 600_000 })
      const line = JSON.stringify({ msg: 'request', pad: 'x'.repeat(380) }) + '\n'
      let sent = 0
      // Just under 64 KiB, one line per turn: a 4 KiB threshold would have written 15 times by now.
      while (sent + line.length < 64 * 1024) {
        sink.write(line)
        sent += line.length
        await turn()
      }
      for (let i = 0; i < 20; i++) await turn()
      expect(statSync(file).size).toBe(0)
      sink.write(line)
      sent += line.length
      // The write that crossed the threshold carries every line gathered so far, in one piece.
      for (let i = 0; i < 2000 && statSync(file).size < sent; i++) await new Promise((r) => setTimeout(r, 5))
      expect(statSync(file).size).toBe(sent)
      await sink.end()
      expect(readFileSync(file, 'utf8')).toBe(line.repeat(sent / line.length))
    })
  })

  // Under maxWrite a batch leaves in several writes, each ending at a line end: every line still
  // goes out once and in order — multi-byte text counted in bytes, a line longer than one write cut
  // to fit it (still one JSON object: what it kept, and its whole size) — and the period's flush
  // keeps writing until nothing gathered is left.
  it('under maxWrite writes every line once, in order, through writes cut at line ends; a longer line cut to fit', async () => {
    await withFile(async (fd, file) => {
      const sink = createLineSink({ fd, minLength: 64 * 1024, maxWrite: 512, periodMs: 20 })
      const lines = Array.from({ length: 400 }, (_, n) => `${JSON.stringify({ n, text: n % 9 === 0 ? 'ü✓'.repeat(n % 400) : 'x'.repeat(n % 200) })}\n`)
      for (const [n, line] of lines.entries()) {
        sink.write(line)
        if (n % 50 === 0) await turn()
      }
      const written = (): string[] => readFileSync(file, 'utf8').split('\n').slice(0, -1)
      // Well under minLength: only the period's flush sends these, in writes of at most 512 bytes.
      for (let i = 0; i < 2000 && written().length < lines.length; i++) await new Promise((r) => setTimeout(r, 5))
      const got = written()
      expect(got).toHaveLength(lines.length)
      let cut = 0
      for (const [n, line] of lines.entries()) {
        const out = got[n] as string
        if (Buffer.byteLength(line) <= 512) expect(`${out}\n`).toBe(line)
        else {
          cut++
          expect(Buffer.byteLength(out) + 1).toBeLessThanOrEqual(512)
          expect(JSON.parse(out)).toEqual({ n, text: expect.stringMatching(/^\[\d+ bytes left out\]$/), truncatedBytes: Buffer.byteLength(line) })
        }
      }
      expect(cut).toBeGreaterThan(10)
      sink.write('{"last":true}\n')
      await sink.end()
      expect(written().at(-1)).toBe('{"last":true}')
    })
  })

  // --workers: every process writes its lines to the one stdout. A pipe write over PIPE_BUF can be
  // interleaved with another writer's mid-line (with 4 KiB and 64 KiB batches, three writers of
  // 200,000 lines each cut about 140 lines here); writes within PIPE_BUF cannot.
  // A line longer than PIPE_BUF itself (a refused reload naming forty problems) was written in parts
  // too, and other processes' lines landed between them: it is cut to fit one write instead
  // (bounded-line.ts), the problems it could hold kept and the rest counted.
  it('with sharedOutput, lines of several processes on one pipe all arrive whole, a line over PIPE_BUF cut to fit', async () => {
    const LOG = new URL('../../dist/src/ops/log.js', import.meta.url).href
    const writer = `
import { createLog } from ${JSON.stringify(LOG)}
const log = createLog({ sharedOutput: true })
const id = process.argv[2]
let i = 0
const burst = () => {
  for (let k = 0; k < 50 && i < 60000; k++) {
    if (i % 500 === 0) log.logger.warn({ id, i: i++, problems: Array.from({ length: 60 }, (_, n) => 'problem ' + n + ' ' + 'y'.repeat(120)) }, 'long')
    else log.logger.info({ id, i: i++, pad: 'x'.repeat(300 + (i % 97)) }, 'line')
  }
  if (i < 60000) setImmediate(burst)
  else log.end().then(() => process.exit(0))
}
burst()
`
    const script = join(mkdtempSync(join(tmpdir(), 'mtlsgw-sink-')), 'writer.mjs')
    const { writeFileSync } = await import('node:fs')
    writeFileSync(script, writer)
    const node = JSON.stringify(process.execPath)
    // One pipe, three writers: the shell's children share its stdout.
    const p = spawn('sh', ['-c', `${node} ${script} a & ${node} ${script} b & ${node} ${script} c & wait`], { stdio: ['ignore', 'pipe', 'pipe'] })
    procs.push(p)
    let stderr = ''
    p.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
    let rest = ''
    let broken = 0
    const next = { a: 0, b: 0, c: 0 } as Record<string, number>
    let outOfOrder = 0
    let cut = 0
    let badCut = 0
    p.stdout?.on('data', (c: Buffer) => {
      rest += c.toString('utf8')
      let at: number
      while ((at = rest.indexOf('\n')) !== -1) {
        const line = rest.slice(0, at)
        rest = rest.slice(at + 1)
        try {
          const { id, i, msg, problems, truncatedBytes } = JSON.parse(line) as { id: string; i: number; msg: string; problems?: string[]; truncatedBytes?: number }
          if (next[id] !== i) outOfOrder++
          next[id] = i + 1
          if (msg === 'long') {
            cut++
            const kept = problems?.slice(0, -1) ?? []
            const fits = Buffer.byteLength(line) + 1 <= 4096 && (truncatedBytes ?? 0) > 4096
            const counted = problems?.at(-1) === `… ${60 - kept.length} more left out` && kept.length >= 10 && kept.every((p, n) => p.startsWith(`problem ${n} `))
            if (!fits || !counted) badCut++
          }
        } catch {
          broken++
        }
      }
    })
    const code = await new Promise<number | null>((resolve) => p.once('close', resolve))
    rmSync(join(script, '..'), { recursive: true, force: true })
    expect({ code, stderr, rest, broken, outOfOrder, next, cut, badCut }).toEqual({ code: 0, stderr: '', rest: '', broken: 0, outOfOrder: 0, next: { a: 60000, b: 60000, c: 60000 }, cut: 360, badCut: 0 })
  }, 120_000)

  // An access line is handed over as the function that renders it: the batch renders its lines
  // when it is written. Order with plain lines is kept, nothing renders before the write, a
  // renderer that throws loses only its own line (counted as dropped, so the metric and its
  // alert see it), and under maxWrite (whose cuts need each line's bytes) rendering happens at once.
  it('renders deferred lines when their batch is written, in order with plain lines', async () => {
    await withFile(async (fd, file) => {
      const sink = createLineSink({ fd, periodMs: 600_000 })
      let renders = 0
      let expected = ''
      for (let n = 0; n < 90; n++) {
        const line = `${JSON.stringify({ n, pad: 'y'.repeat(n % 50) })}\n`
        if (n % 3 === 0) sink.write(line)
        else if (n % 40 === 1) sink.writeDeferred(() => {
          renders++
          throw new Error('broken renderer')
        })
        else sink.writeDeferred(() => {
          renders++
          return line
        })
        if (n % 3 === 0 || n % 40 !== 1) expected += line
      }
      for (let i = 0; i < 10; i++) await turn()
      // Under 64 KiB (counting each unrendered line as 512): nothing written, so nothing rendered yet.
      expect(renders).toBe(0)
      expect(statSync(file).size).toBe(0)
      expect(sink.droppedLines()).toBe(0)
      await sink.end()
      expect(renders).toBe(60)
      expect(readFileSync(file, 'utf8')).toBe(expected)
      // n = 1 and 41: the two broken renderers (81 is a plain line).
      expect(sink.droppedLines()).toBe(2)
    })
  })

  // An output that stops taking writes must not keep every request's record alive: past 1,024
  // waiting lines, later ones are rendered at once (strings, in the same order).
  it('renders at once once 1,024 deferred lines are waiting', async () => {
    await withFile(async (fd, file) => {
      const sink = createLineSink({ fd, minLength: 1e12, periodMs: 600_000 })
      let renders = 0
      for (let n = 0; n < 1100; n++) sink.writeDeferred(() => `${String(n)}:${String(++renders)}\n`)
      expect(renders).toBe(1100 - 1024)
      await sink.end()
      expect(renders).toBe(1100)
      expect(readFileSync(file, 'utf8').trim().split('\n').map((l) => Number(l.split(':')[0]))).toEqual(Array.from({ length: 1100 }, (_, n) => n))
    })
  })

  // An output that takes nothing must not grow the process without bound: past maxPending new
  // lines are dropped and counted, what was kept goes out in order once writes go through, and
  // the drop is reported then (its report is itself a line, written after the kept ones).
  it('drops and counts lines beyond maxPending, and reports them once writes go through', async () => {
    await withFile(async (fd, file) => {
      const reports: number[] = []
      const sink = createLineSink({ fd, minLength: 1e12, periodMs: 20, maxPending: 1000, onDropped: (n) => {
        reports.push(n)
        sink.write(`dropped ${String(n)}\n`)
      } })
      const line = (n: number): string => `${String(n).padStart(3, '0')}${'z'.repeat(96)}\n`
      for (let n = 0; n < 30; n++) (n % 2 === 0 ? sink.write(line(n)) : sink.writeDeferred(() => line(n)))
      // 100 units a line, a deferred one counted as 512 until rendered: the first few fill the 1,000.
      const dropped = sink.droppedLines()
      expect(dropped).toBeGreaterThan(0)
      for (let i = 0; i < 400 && reports.length === 0; i++) await new Promise((r) => setTimeout(r, 5))
      expect(reports).toEqual([dropped])
      await sink.end()
      const lines = readFileSync(file, 'utf8').trim().split('\n')
      expect(lines.at(-1)).toBe(`dropped ${String(dropped)}`)
      const numbers = lines.slice(0, -1).map((l) => Number(l.slice(0, 3)))
      expect(numbers).toEqual(Array.from({ length: 30 - dropped }, (_, n) => n))
      expect(sink.droppedLines()).toBe(dropped)
    })
  })

  it('renders a deferred line at once under maxWrite', async () => {
    await withFile(async (fd, file) => {
      const sink = createLineSink({ fd, minLength: 4096, maxWrite: 4096, periodMs: 600_000 })
      let renders = 0
      sink.write('first\n')
      sink.writeDeferred(() => `${String(++renders)}\n`)
      sink.writeDeferred(() => {
        throw new Error('broken renderer')
      })
      sink.write('last\n')
      expect(renders).toBe(1)
      expect(sink.droppedLines()).toBe(1)
      await sink.end()
      expect(readFileSync(file, 'utf8')).toBe('first\n1\nlast\n')
    })
  })
})
