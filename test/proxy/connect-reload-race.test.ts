/**
 * A reload that lands while a CONNECT to an intercepted host is admitted or its leaf minted:
 * the reload's pass over open tunnels (outdated-tunnel.ts) cannot see this one yet, so the
 * CONNECT is answered as one arriving under the snapshot then in force would be, as after a
 * fresh start: a leaf of the new interception CA, not an idle tunnel presenting the old CA's
 * leaf that the reload never closed. The CONNECT handler on a real HTTP listener, a real TLS
 * client over the raw CONNECT socket, real minters of two CAs; the snapshots stand in with the
 * fields a CONNECT reads, the reload is the handler's `current` changing while the old
 * snapshot's minter is held.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { connect as tcpConnect, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway/index.js'
import { createConnectHandler } from '../../src/proxy/connect.js'
import { createMinter, loadInterceptionCa, writeInterceptionCa, type InterceptionCa, type Minter } from '../../src/tls/index.js'

const dir = mkdtempSync(join(tmpdir(), 'connect-race-'))
const servers: Server[] = []
let pems: { old: string; new: string }
let cas: { old: InterceptionCa; new: InterceptionCa }

async function loadCa(name: string): Promise<{ pem: string; ca: InterceptionCa }> {
  const files = await writeInterceptionCa(join(dir, name))
  const pem = readFileSync(files.caCert, 'utf8')
  const { ca } = loadInterceptionCa(pem, readFileSync(files.caKey, 'utf8'))
  if (!ca) throw new Error(`CA ${name} did not load`)
  return { pem, ca }
}

beforeAll(async () => {
  const [o, n] = [await loadCa('old'), await loadCa('new')]
  pems = { old: o.pem, new: n.pem }
  cas = { old: o.ca, new: n.ca }
})

afterAll(() => {
  for (const s of servers) s.close()
  rmSync(dir, { recursive: true, force: true })
})

/** A snapshot intercepting localhost:443 with `ca` (the fields a CONNECT reads; an open gateway). */
const snapshot = (ca: InterceptionCa): Gateway =>
  ({ config: { listen: { waysIn: ['connect'] }, interception: { passThrough: [] } }, byHost: new Map([['localhost:443', [{ name: 'partner' }]]]), callers: { enabled: false, required: false }, interception: ca }) as unknown as Gateway

describe('a CONNECT that a reload overtakes while its leaf is minted', () => {
  it('is answered under the new snapshot: the tunnel presents a leaf of the new CA', async () => {
    const before = snapshot(cas.old)
    const after = snapshot(cas.new)
    let current = before
    const minters = new Map<Gateway, Promise<Minter>>()
    const mint = (g: Gateway): Promise<Minter> => minters.get(g) ?? (minters.set(g, createMinter({ ca: g.interception as InterceptionCa, validityMs: 3_600_000, cacheSize: 10 })), mint(g))
    // The old snapshot's minter is held until the reload is in force.
    let release: () => void = () => {}
    const held = new Promise<void>((r) => (release = r))
    let asked: () => void = () => {}
    const minting = new Promise<void>((r) => (asked = r))
    const inner = createServer((_req, res) => res.end('inner'))
    const listener = createServer()
    servers.push(listener)
    listener.on('connect', createConnectHandler({
      current: () => current,
      minter: async (g) => (g === before ? (asked(), await held, mint(g)) : mint(g)),
      inner,
      admit: {},
      limits: { tlsHandshakeMs: 20_000, tunnelIdleMs: 0 },
      track: () => {},
      onTimeout: () => {},
    }))
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r))
    const raw = tcpConnect((listener.address() as AddressInfo).port, '127.0.0.1')
    raw.on('error', () => undefined)
    await new Promise<void>((r) => raw.once('connect', () => r()))
    const answer = new Promise<string>((r) => raw.once('data', (c: Buffer) => r(c.toString('latin1'))))
    raw.write('CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\n\r\n')
    // The CONNECT is waiting for the old snapshot's minter: the reload comes now.
    await minting
    current = after
    release()
    expect(await answer).toBe('HTTP/1.1 200 Connection Established\r\n\r\n')
    // A caller that trusts only the new CA completes the handshake.
    const tls = tlsConnect({ socket: raw, servername: 'localhost', ca: pems.new })
    tls.on('error', () => undefined)
    const outcome = await new Promise<string>((r) => tls.once('secureConnect', () => r('secure')).once('error', (e: Error) => r(e.message)))
    expect(outcome).toBe('secure')
    tls.destroy()
  })
})
