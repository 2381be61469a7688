import { spawn } from 'node:child_process'
import { afterAll, describe, expect, it } from 'vitest'
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
  }, 60_000)
})
