/**
 * Every way into a real gateway, for raw request heads: two gateway processes (plain listener,
 * TLS listener) with an admin listener and TLS interception in front of one mTLS partner
 * (`api.partner.test:<port>`), and `ask`, which writes a head on a fresh connection of one way
 * and reads one answer. Used by the tests of what is refused before anything is served.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect as tcpConnect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import type { Duplex } from 'node:stream'
import { expect } from 'vitest'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { endpointYaml } from './gateway.js'
import { clientTls, createTestPki, type TestPki } from './pki.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from './process.js'
import { startMtlsServer, type RunningServer } from './tls-server.js'
import { openTunnel } from './tunnel.js'

/** The plain listener, the TLS one, an intercepted tunnel's TLS session (through the plain one), the plain one's admin listener. */
export type Way = 'plain' | 'tls' | 'tunnel' | 'admin'

export interface Answer {
  status: number
  /** The answer's head, lower-cased. */
  head: string
  body: Buffer
}

export interface WaysIn {
  pki: TestPki
  plain: GatewayProcess
  secure: GatewayProcess
  /** The partner's port (its endpoint is `partner`, host api.partner.test). */
  port: number
  /** The interception CA's certificate file: what a caller of an intercepted tunnel trusts. */
  interceptionCa: string
  /** A fresh connection of one way, ready for bytes (a tunnel's TLS session established). */
  open(way: Way): Promise<Duplex>
  /**
   * Writes `head` on a fresh connection and reads one answer: to the connection's end, to its Content-Length, or a
   * CONNECT's 200 head. Parts of a head are written in order, 100 ms apart (the gateway most likely reads them apart).
   */
  ask(way: Way, head: string | readonly string[]): Promise<Answer>
  stop(): Promise<void>
}

const portOf = (gp: GatewayProcess): number => Number(new URL(gp.url).port)

/** Starts the partner and both gateways (every refusal an access line: the cap on caller-fault lines is off), each with `args` (`--workers 2`) and `yaml` added to its config, and `listenExtra` (`, waysIn: [route]`) to its listen mapping. */
export async function startWaysIn(args: readonly string[] = [], yaml = '', listenExtra = ''): Promise<WaysIn> {
  const pki = await createTestPki()
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  const ca = readFileSync(ica.caCert)
  const upstream: RunningServer = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  const port = upstream.port
  const rest = `${yaml}admin: { host: 127.0.0.1, port: 0 }\nlogging: { callerFaults: { interval: 0 } }\ninterception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }\nendpoints:\n${endpointYaml('partner', port, clientTls(pki))}`
  const write = (name: string, listen: string): string => {
    const file = join(pki.dir, `${name}.yaml`)
    writeFileSync(file, `listen: ${listen}\n${rest}`)
    return file
  }
  const [plain, secure] = await Promise.all([
    spawnGateway(write('plain', `{ host: 127.0.0.1, port: 0${listenExtra} }`), [...args]),
    spawnGateway(write('secure', `{ host: 127.0.0.1, port: 0${listenExtra}, tls: { cert: ${pki.file('server-chain.crt')}, key: ${pki.file('server.key')} } }`), [...args]),
  ])
  const open = async (way: Way): Promise<Duplex> => {
    if (way === 'tunnel') return openTunnel({ gatewayPort: portOf(plain), authority: `api.partner.test:${port}`, ca })
    const admin = way === 'admin' ? Number(new URL(await adminUrlOf(plain)).port) : 0
    const s = way === 'plain' || way === 'admin' ? tcpConnect(admin || portOf(plain), '127.0.0.1') : tlsConnect({ port: portOf(secure), host: '127.0.0.1', servername: 'localhost', ca: readFileSync(pki.file('root.crt')) })
    await new Promise<void>((resolve, reject) => s.once(way === 'tls' ? 'secureConnect' : 'connect', () => resolve()).once('error', reject))
    return s
  }
  return {
    pki,
    plain,
    secure,
    port,
    interceptionCa: ica.caCert,
    open,
    ask: async (way, head) => readAnswer(await open(way), head),
    stop: async () => {
      await plain.stop('SIGKILL')
      await secure.stop('SIGKILL')
      await upstream.close()
      pki.cleanup()
    },
  }
}

/** Writes `head` (in parts 100 ms apart) on `s` and reads one answer, as `ask` does; then destroys `s`. */
export function readAnswer(s: Duplex, head: string | readonly string[]): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0)
    const done = (): void => {
      const text = got.toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      s.destroy()
      if (end < 0) return reject(new Error(`no answer head in ${JSON.stringify(text)}`))
      resolve({ status: Number(text.slice(9, 12)), head: text.slice(0, end).toLowerCase(), body: got.subarray(end + 4) })
    }
    s.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c])
      const text = got.toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      if (end < 0) return
      const length = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, end))?.[1]
      if (text.startsWith('HTTP/1.1 200 Connection Established') || (length !== undefined && got.length - end - 4 >= Number(length))) done()
    })
    s.once('end', done)
    s.once('error', reject)
    const parts = typeof head === 'string' ? [head] : head
    // Each part 100 ms after the one before it was written, never all timers set at once: Node runs a
    // late loop's due timers list by list (one per length), so a 200 ms timer an earlier ask left
    // pending took the 200 ms list first and this ask's part 3 went out before its part 2 (a 20 KB
    // header lost its middle: a 9 KB head, answered 200, not the 431).
    const write = (i: number): void => {
      const part = parts[i]
      if (part === undefined || !s.writable) return
      s.write(Buffer.from(part, 'latin1'))
      if (i + 1 < parts.length) setTimeout(() => write(i + 1), 100)
    }
    write(0)
  })
}

/** The gateway's JSON error `code` with a correct Content-Length and a message matching `msg`. */
export function expectJsonError(a: Answer, code: number, msg: RegExp): void {
  expect(a.status).toBe(code)
  expect(a.head).toMatch(/\r\ncontent-type: application\/json/)
  expect(Number(/\r\ncontent-length: (\d+)/.exec(a.head)?.[1])).toBe(a.body.length)
  expect(JSON.parse(a.body.toString('utf8'))).toEqual({ errors: [{ msg: expect.stringMatching(msg), code }] })
}
