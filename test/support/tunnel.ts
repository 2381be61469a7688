/**
 * A caller behind HTTPS_PROXY, by hand: CONNECT through the gateway, TLS to the minted leaf
 * (trusting the interception CA), then requests inside — through Node's HTTP client on a
 * keep-alive agent (several requests, one tunnel), or as raw bytes for targets no client
 * would send.
 */
import { Agent, type AgentOptions } from 'node:http'
import { connect as netConnect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'

export interface TunnelOptions {
  gatewayPort: number
  /** `host:port` of the CONNECT. */
  authority: string
  /** The interception CA (PEM). */
  ca: string | Buffer
  headers?: Record<string, string>
}

/** The gateway refused the CONNECT: its raw answer. */
export class ConnectRefused extends Error {
  constructor(readonly status: number, readonly raw: string) {
    super(`CONNECT refused: ${raw.split('\r\n')[0] ?? ''}`)
  }
}

/** Opens a CONNECT tunnel and the TLS session inside it. */
export function openTunnel(o: TunnelOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const raw: Socket = netConnect(o.gatewayPort, '127.0.0.1')
    raw.once('error', reject)
    const extra = Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('')
    raw.once('connect', () => raw.write(`CONNECT ${o.authority} HTTP/1.1\r\nHost: ${o.authority}\r\n${extra}\r\n`))
    let head = ''
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      if (!head.startsWith('HTTP/1.1 200')) {
        // A refusal carries a JSON body with a Content-Length; wait for all of it.
        raw.on('end', () => reject(new ConnectRefused(Number(head.slice(9, 12)), head)))
        return
      }
      raw.off('data', onData)
      const tls = tlsConnect({ socket: raw, servername: o.authority.replace(/:\d+$/, ''), ca: o.ca })
      tls.once('secureConnect', () => resolve(tls))
      tls.once('error', reject)
    }
    raw.on('data', onData)
  })
}

/** An agent whose connections are tunnels (keep-alive: later requests reuse the tunnel). */
export class TunnelAgent extends Agent {
  constructor(private readonly tunnel: TunnelOptions, options: AgentOptions = { keepAlive: true, maxSockets: 1 }) {
    super(options)
  }

  override createConnection(_options: unknown, callback?: (err: Error | null, stream: Duplex) => void): undefined {
    // On an error there is no stream: Node's callback takes the error alone.
    openTunnel(this.tunnel).then((s) => callback?.(null, s), (e: Error) => (callback as ((err: Error) => void) | undefined)?.(e))
    return undefined
  }
}

/** Writes raw request bytes inside the tunnel and resolves with everything read until the gateway closes. */
export function rawExchange(socket: TLSSocket, request: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.once('error', reject)
    socket.once('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const split = text.indexOf('\r\n\r\n')
      resolve({ status: Number(text.slice(9, 12)), headers: text.slice(0, split), body: text.slice(split + 4) })
    })
    socket.write(request)
  })
}
