/**
 * `node dist/bench/listener-micro.js <other dist>…`: the CPU of whole proxied requests (route mode, the
 * mTLS-only endpoint), this build against other builds, every build's bare gateway running in this one
 * process beside an nginx upstream, taking turns in short windows: a second gateway of this build
 * gives the A/A. The client's share (undici, in this process) is the same for every build, so the
 * difference of two builds' µs per request is the difference of their request paths; on a busy
 * machine short interleaved windows of one process's CPU time read steadier than processes measured
 * one after the other (MICRO_ROUNDS, LISTENER_MICRO_REQUESTS, LISTENER_MICRO_USERS).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Pool } from 'undici'
import { DIST, gatewayYaml } from './gateways.js'
import { writeBenchPki } from './pki.js'
import { startUpstream } from './peers.js'

const ROUNDS = Number(process.env.MICRO_ROUNDS ?? 15)
const REQUESTS = Number(process.env.LISTENER_MICRO_REQUESTS ?? 4000)
const USERS = Number(process.env.LISTENER_MICRO_USERS ?? 10)

interface Side {
  name: string
  pool: Pool
  close(): Promise<void>
}

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-listener-micro-'))
const pki = await writeBenchPki(dir)
const upstream = await startUpstream(dir, pki)

async function side(name: string, dist: string, k: number): Promise<Side> {
  const root = (await import(join(dist, 'src/cli/gateway-root.js'))) as typeof import('../src/cli/gateway-root.js')
  const configFile = join(dir, `gateway-${k}.yaml`)
  writeFileSync(configFile, gatewayYaml(pki, upstream, 0, 0).replace(/^admin: .*$/m, 'admin: { enabled: false }'))
  const gw = await root.startGateway({ configFile })
  const pool = new Pool(gw.url, { connections: USERS, pipelining: 1 })
  return { name, pool, close: async () => void (await pool.close(), await gw.close()) }
}

/** CPU µs of this process per request, `REQUESTS` requests by `USERS` users. */
async function window(s: Side): Promise<number> {
  let left = REQUESTS
  const user = async (): Promise<void> => {
    while (left-- > 0) {
      const r = await s.pool.request({ method: 'GET', path: '/proxy/plain/bench' })
      await r.body.text()
      if (r.statusCode !== 200) throw new Error(`${s.name}: status ${r.statusCode}`)
    }
  }
  const t0 = process.cpuUsage()
  await Promise.all(Array.from({ length: USERS }, user))
  const t = process.cpuUsage(t0)
  return (t.user + t.system) / REQUESTS
}

const others = process.argv.slice(2)
const sides = [await side('this build', DIST, 0), await side('this build again (A/A)', DIST, 1), ...(await Promise.all(others.map((d, i) => side(d, d, i + 2))))]
const figures = sides.map(() => [] as number[])
try {
  // Warm-up: every side optimized before any window counts.
  for (let w = 0; w < 3; w++) for (const s of sides) await window(s)
  for (let round = 0; round < ROUNDS; round++) {
    // Turns rotate, so no side always follows the same one.
    for (let j = 0; j < sides.length; j++) {
      const k = (round + j) % sides.length
      ;(figures[k] as number[]).push(await window(sides[k] as Side))
    }
  }
} finally {
  for (const s of sides) await s.close()
  await upstream.stop()
  rmSync(dir, { recursive: true, force: true })
}
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const base = figures[0] as number[]
console.log(`| build | µs/request (median of ${ROUNDS}) | this / it (median of rounds) | rounds where this build is lower |`)
console.log('|---|--:|--:|--:|')
sides.forEach((s, k) => {
  const f = figures[k] as number[]
  const ratios = f.map((x, i) => (base[i] as number) / x)
  const lower = f.filter((x, i) => (base[i] as number) < x).length
  console.log(`| ${s.name} | ${median(f).toFixed(1)} | ${k === 0 ? '—' : median(ratios).toFixed(3)} | ${k === 0 ? '—' : `${lower} of ${ROUNDS}`} |`)
})
