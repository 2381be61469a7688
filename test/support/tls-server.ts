/**
 * A real Node HTTPS server on 127.0.0.1 that (optionally) requires a client certificate
 * and answers JSON describing what it saw: the upstream end of the tests.
 */
import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'
import type { AddressInfo, Socket } from 'node:net'
import { readFileSync } from 'node:fs'

export interface EchoReply {
  method: string
  url: string
  headers: Record<string, string | string[] | undefined>
  clientSubject: string | null
  clientIssuer: string | null
  bodyLength: number
  bodySha256: string
  body: string
  tlsVersion: string | null
  resumed: boolean
}

export interface MtlsServerOptions {
  cert: string
  key: string
  /** CA file(s) for client certificates; requireClientCert defaults to true when given. */
  ca?: string
  requireClientCert?: boolean
  minVersion?: 'TLSv1.2' | 'TLSv1.3'
  maxVersion?: 'TLSv1.2' | 'TLSv1.3'
  /** Replace the echo handler. */
  handler?: (req: IncomingMessage, res: ServerResponse) => void
  /** The address to listen on (default 127.0.0.1; `::1` for an IPv6 upstream). */
  host?: string
}

export interface RunningServer {
  port: number
  server: Server
  /** New TLS handshakes seen and how many resumed; `open`: TCP connections open now. */
  stats: { handshakes: number; resumed: number; subjects: string[]; open: number }
  close(): Promise<void>
}

/** Starts the server on 127.0.0.1 (or `o.host`), port 0. */
export async function startMtlsServer(o: MtlsServerOptions): Promise<RunningServer> {
  const stats = { handshakes: 0, resumed: 0, subjects: [] as string[], open: 0 }
  const requireCert = o.requireClientCert ?? o.ca !== undefined
  const server = createServer(
    {
      cert: readFileSync(o.cert),
      key: readFileSync(o.key),
      ...(o.ca ? { ca: readFileSync(o.ca) } : {}),
      requestCert: requireCert,
      rejectUnauthorized: requireCert,
      ...(o.minVersion ? { minVersion: o.minVersion } : {}),
      ...(o.maxVersion ? { maxVersion: o.maxVersion } : {}),
    },
    o.handler ?? echo,
  )
  server.on('connection', (s: Socket) => {
    stats.open++
    s.once('close', () => stats.open--)
  })
  server.on('secureConnection', (s: TLSSocket) => {
    stats.handshakes++
    if (s.isSessionReused()) stats.resumed++
    const peer = s.getPeerCertificate()
    if (peer && peer.subject) stats.subjects.push(peer.subject.CN as string)
  })
  await new Promise<void>((r) => server.listen(0, o.host ?? '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return {
    port, server, stats,
    close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections() }),
  }
}

function dn(x: Record<string, string | string[]> | undefined): string | null {
  if (!x) return null
  return Object.entries(x).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`).join(',')
}

/** The default handler: JSON with what the server saw (headers, client cert, body digest). */
export function echo(req: IncomingMessage, res: ServerResponse): void {
  const hash = createHash('sha256')
  let length = 0
  const head: Buffer[] = []
  req.on('data', (c: Buffer) => {
    hash.update(c)
    length += c.length
    if (length <= 65536) head.push(c)
  })
  req.on('end', () => {
    const socket = req.socket as TLSSocket
    const peer = socket.getPeerCertificate?.()
    const reply: EchoReply = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      clientSubject: peer && peer.subject ? dn(peer.subject as unknown as Record<string, string>) : null,
      clientIssuer: peer && peer.issuer ? dn(peer.issuer as unknown as Record<string, string>) : null,
      bodyLength: length,
      bodySha256: hash.digest('hex'),
      body: length <= 65536 ? Buffer.concat(head).toString('utf8') : '',
      tlsVersion: socket.getProtocol?.() ?? null,
      resumed: socket.isSessionReused?.() ?? false,
    }
    const body = JSON.stringify(reply)
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'keep-alive', 'x-upstream': 'echo' })
    res.end(body)
  })
}
