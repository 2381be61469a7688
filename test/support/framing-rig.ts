/**
 * The rig of the request- and response-smuggling tests: an in-process gateway (TLS interception
 * on) with one endpoint `up` at api.partner.test:`backendPort`, a real nginx and HAProxy in front
 * of it, and `exchange`, which writes raw bytes on a fresh connection of one way in and reads to
 * the connection's close.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { startFrontProxies, type FrontProxies } from './front-proxies.js'
import { endpointYaml, startTestGateway } from './gateway.js'
import { clientTls, type TestPki } from './pki.js'
import { rawClient } from './raw-client.js'
import { openTunnel } from './tunnel.js'

/** Route mode directly and through each front proxy; forward proxy (absolute-form); inside an intercepted CONNECT tunnel. */
export type Entry = 'route' | 'nginx' | 'haproxy' | 'forward' | 'connect'
export const ENTRIES: readonly Entry[] = ['route', 'forward', 'connect', 'nginx', 'haproxy']

export interface FramingRig {
  gw: RunningGateway
  /** api.partner.test:<backend port>: the endpoint's authority, as forward-proxy and tunnel callers name it. */
  authority: string
  /** The request line's target and the Host for `path` (`/c/1`) on `entry`. */
  addressed(entry: Entry, path: string): { target: string; host: string }
  /** Writes `bytes` (latin1) on a fresh connection of `entry` and reads until it closes (or 8 s). */
  exchange(entry: Entry, bytes: string): Promise<string>
  close(): Promise<void>
}

export async function startFramingRig(pki: TestPki, backendPort: number): Promise<FramingRig> {
  const dir = mkdtempSync(join(tmpdir(), 'framing-rig-'))
  const ica = await writeInterceptionCa(join(dir, 'ica'))
  const ca = readFileSync(ica.caCert)
  const gw = await startTestGateway(dir, `admin: { enabled: false }\ninterception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }\nendpoints:\n${endpointYaml('up', backendPort, clientTls(pki))}`)
  let fronts: FrontProxies | undefined
  const close = async (): Promise<void> => {
    await fronts?.stop()
    await gw.close()
    rmSync(dir, { recursive: true, force: true })
  }
  fronts = await startFrontProxies(gw.url).catch(async (err: unknown) => (await close(), Promise.reject(err)))
  const gatewayPort = Number(new URL(gw.url).port)
  const authority = `api.partner.test:${backendPort}`
  const open = async (entry: Entry): Promise<Duplex> => {
    if (entry === 'connect') return openTunnel({ gatewayPort, authority, ca })
    return (await rawClient(entry === 'nginx' || entry === 'haproxy' ? (fronts?.[entry].port ?? 0) : gatewayPort)).socket
  }
  return {
    gw,
    authority,
    addressed(entry, path) {
      if (entry === 'forward') return { target: `http://${authority}${path}`, host: authority }
      if (entry === 'connect') return { target: path, host: authority }
      return { target: `/proxy/up${path}`, host: 'gw.test' }
    },
    async exchange(entry, bytes) {
      const socket = await open(entry)
      return new Promise((resolve) => {
        const chunks: Buffer[] = []
        const timer = setTimeout(() => socket.destroy(), 8000)
        socket.on('data', (c: Buffer) => chunks.push(c))
        socket.on('error', () => undefined)
        socket.once('close', () => {
          clearTimeout(timer)
          resolve(Buffer.concat(chunks).toString('latin1'))
        })
        socket.write(Buffer.from(bytes, 'latin1'))
      })
    },
    close,
  }
}
