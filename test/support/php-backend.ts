/**
 * Real PHP as a backend's parameter parser: `php -n -S` (PHP's built-in server, no php.ini)
 * running test/peers/php_request.php, which answers with what `$_REQUEST`, `$_GET`, `$_POST` and
 * Laravel's `input()` read from the request. Plain HTTP on 127.0.0.1: tests send it the very
 * query, headers and body the gateway sent upstream (relay()) and judge PHP's reading.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import { startPeer, type Peer } from './peers.js'

const SCRIPT = fileURLToPath(new URL('../peers/php_request.php', import.meta.url))

/** What PHP read (objects keyed as PHP keys them; nested names nest). */
export interface PhpReading {
  request: Record<string, unknown>
  get: Record<string, unknown>
  post: Record<string, unknown>
  files: string[]
  input: Record<string, unknown>
}

export interface PhpBackend {
  readonly peer: Peer
  /** Sends one request to PHP and returns its reading. */
  read(o: { method?: string; pathAndQuery: string; headers: Record<string, string>; body?: Buffer }): Promise<PhpReading>
  /** A backend handler (for an mTLS test server) that hands each request to PHP and answers with PHP's reading. */
  relay(req: IncomingMessage, res: ServerResponse): void
  stop(): Promise<void>
}

function send(port: number, method: string, path: string, headers: IncomingHttpHeaders | Record<string, string>, body: Buffer | undefined): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { ...headers, connection: 'close', ...(body ? { 'content-length': String(body.length) } : {}) }, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') })).on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

export async function startPhpBackend(): Promise<PhpBackend> {
  const peer = await startPeer({ name: 'php', command: 'php', setup: (_dir, port) => ['-n', '-d', 'display_errors=0', '-d', 'log_errors=1', '-S', `127.0.0.1:${port}`, SCRIPT] })
  const read: PhpBackend['read'] = async ({ method = 'POST', pathAndQuery, headers, body }) => {
    const r = await send(peer.port, method, pathAndQuery, headers, body)
    if (r.status !== 200) throw new Error(`php answered ${r.status}: ${r.text}`)
    return JSON.parse(r.text) as PhpReading
  }
  return {
    peer,
    read,
    relay(req, res) {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const { host: _host, connection: _connection, 'transfer-encoding': _te, ...headers } = req.headers
        send(peer.port, req.method ?? 'GET', req.url ?? '/', headers, Buffer.concat(chunks)).then(
          (r) => {
            res.writeHead(r.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(r.text) })
            res.end(r.text)
          },
          (e: Error) => {
            res.writeHead(502, { 'content-type': 'text/plain' })
            res.end(e.message)
          },
        )
      })
    },
    stop: () => peer.stop(),
  }
}
