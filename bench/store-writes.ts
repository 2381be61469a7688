/**
 * `node dist/bench/store-writes.js`: what "nothing acknowledged is lost" costs. A Redis
 * primary and one replica on loopback; the same sequence of token-sized writes through the
 * store with no replica acknowledgement and with `WAIT 1` (the Sentinel default), and the
 * same on SQLite (an fsync per commit). Prints p50/p99 per write and the ratios.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { openRedisStore, openSqliteStore, type Store } from '../src/store/index.js'
import { freePort, startProc, type Proc } from './procs.js'

const WRITES = Number(process.argv[2] ?? 2000)
const VALUE = 'x'.repeat(400) // about a sealed token record

async function startRedis(dir: string, name: string, extra: string[]): Promise<{ proc: Proc; port: number }> {
  const port = await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra]
  return { proc: await startProc({ name, command: 'redis-server', args, cwd: dir, port, readyLine: /Ready to accept connections/ }), port }
}

async function timeWrites(store: Store): Promise<{ p50: number; p99: number }> {
  const ms: number[] = []
  for (let i = 0; i < WRITES; i++) {
    const t0 = performance.now()
    await store.put(`oauth1:token:user${i}:bench:`, VALUE)
    ms.push(performance.now() - t0)
  }
  await store.close()
  ms.sort((a, b) => a - b)
  return { p50: ms[Math.floor(ms.length / 2)] as number, p99: ms[Math.floor(ms.length * 0.99)] as number }
}

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-store-writes-'))
const procs: Proc[] = []
try {
  const primary = await startRedis(dir, 'redis-primary', [])
  procs.push(primary.proc)
  const replicaDir = mkdtempSync(join(dir, 'replica-'))
  procs.push((await startRedis(replicaDir, 'redis-replica', ['--replicaof', '127.0.0.1', String(primary.port)])).proc)
  const url = `redis://127.0.0.1:${primary.port}`
  const probe = openRedisStore({ url, acknowledge: { replicas: 1, timeoutMs: 1000 } })
  for (let i = 0; ; i++) {
    if (await probe.ping().then(() => true, () => false)) break
    if (i > 200) throw new Error('the replica did not come in sync')
    await new Promise((r) => setTimeout(r, 50))
  }
  await probe.close()
  const rows: [string, { p50: number; p99: number }][] = [
    ['Redis, no replica acknowledgement', await timeWrites(openRedisStore({ url, keyPrefix: 'bench-a:' }))],
    ['Redis, WAIT 1 (Sentinel default)', await timeWrites(openRedisStore({ url, keyPrefix: 'bench-b:', acknowledge: { replicas: 1, timeoutMs: 1000 } }))],
    ['SQLite (WAL, synchronous=FULL)', await timeWrites(openSqliteStore({ file: join(dir, 'state.db') }))],
  ]
  const base = rows[0]?.[1].p50 ?? 1
  process.stdout.write(`| store | p50 ms per write | p99 ms | p50 vs Redis without WAIT |\n|---|--:|--:|--:|\n`)
  for (const [name, r] of rows) process.stdout.write(`| ${name} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${(r.p50 / base).toFixed(2)} × |\n`)
  process.stdout.write(`(${WRITES} sequential writes each, one connection, loopback)\n`)
} finally {
  await Promise.allSettled(procs.reverse().map((p) => p.stop()))
  rmSync(dir, { recursive: true, force: true })
}
