/**
 * The interception CA mode: a gateway (in this process, to read the minter's onMint hook)
 * with one endpoint answering for many host names. Each host gets a first CONNECT + TLS
 * handshake (its leaf is minted) and a second one (the leaf must come from the cache).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { connect as netConnect } from 'node:net'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { startGateway } from '../src/cli/gateway-root.js'
import type { BenchPki } from './pki.js'
import { quantile } from './load.js'

export interface MintResult {
  hosts: number
  /** The minter's own time per leaf (onMint), ms. */
  mintP50Ms: number
  mintP99Ms: number
  mintMaxMs: number
  /** Client-side CONNECT + TLS handshake, first connection to a host (leaf minted), ms. */
  firstConnP50Ms: number
  firstConnP99Ms: number
  /** The same for a second connection (leaf cached), ms. */
  cachedConnP50Ms: number
  cachedConnP99Ms: number
  /** Leaves minted during the cached connections: must be 0. */
  mintedOnCached: number
  /** The very first mint of the process (CA import, JIT), not in the figures above. */
  coldFirstConnMs: number
}

/** CONNECT host:443 through the gateway and finish a TLS handshake trusting the interception CA; ms. */
function tunnelHandshake(port: number, host: string, ca: Buffer): Promise<number> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const raw = netConnect({ host: '127.0.0.1', port })
    raw.once('error', reject)
    raw.once('connect', () => raw.write(`CONNECT ${host}:443 HTTP/1.1\r\nHost: ${host}:443\r\n\r\n`))
    let head = ''
    const onData = (c: Buffer): void => {
      head += c.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      raw.off('data', onData)
      if (!head.startsWith('HTTP/1.1 200')) return reject(new Error(`CONNECT ${host}: ${head.split('\r\n')[0]}`))
      const tls = tlsConnect({ socket: raw, servername: host, ca })
      tls.once('error', reject)
      tls.once('secureConnect', () => {
        const ms = performance.now() - started
        tls.destroy()
        resolve(ms)
      })
    }
    raw.on('data', onData)
  })
}

/** Runs the mode against a fresh gateway; `hosts` distinct names. */
export async function runMint(dir: string, pki: BenchPki, hosts: number): Promise<MintResult> {
  const names = Array.from({ length: hosts + 1 }, (_, i) => `m${i}.bench.test`)
  const configFile = join(dir, 'gateway-mint.yaml')
  const c = pki.clients.plain
  writeFileSync(configFile, `listen: { host: 127.0.0.1, port: 0 }
admin: { enabled: false }
interception: { caCert: ${pki.interceptionCa.caCert}, caKey: ${pki.interceptionCa.caKey}, cacheSize: ${hosts * 2} }
endpoints:
  - name: many
    url: https://api.bench.test
    resolve: 127.0.0.1
    allowPrivate: true
    hosts: [${names.join(', ')}]
    tls: { cert: ${c.cert}, key: ${c.key}, intermediates: ${pki.inter}, roots: ${pki.root} }
`)
  const mints: number[] = []
  const gw = await startGateway({ configFile, hooks: { onMint: (_host, ms) => mints.push(ms) } })
  const ca = readFileSync(pki.interceptionCa.caCert)
  try {
    const coldFirstConnMs = await tunnelHandshake(gw.port, names[0] as string, ca)
    mints.length = 0
    const first: number[] = []
    for (const host of names.slice(1)) first.push(await tunnelHandshake(gw.port, host, ca))
    const minted = mints.length
    const cached: number[] = []
    for (const host of names.slice(1)) cached.push(await tunnelHandshake(gw.port, host, ca))
    const sorted = (a: number[]): Float64Array => Float64Array.from(a).sort()
    const m = sorted(mints.slice(0, minted))
    return {
      hosts,
      mintP50Ms: quantile(m, 0.5),
      mintP99Ms: quantile(m, 0.99),
      mintMaxMs: m[m.length - 1] ?? NaN,
      firstConnP50Ms: quantile(sorted(first), 0.5),
      firstConnP99Ms: quantile(sorted(first), 0.99),
      cachedConnP50Ms: quantile(sorted(cached), 0.5),
      cachedConnP99Ms: quantile(sorted(cached), 0.99),
      mintedOnCached: mints.length - minted,
      coldFirstConnMs,
    }
  } finally {
    await gw.close()
  }
}
