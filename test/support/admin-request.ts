/**
 * One request to the admin listener as a browser would send it (cookie, origin, CSRF header
 * optional): the console tests and the reload tests that sign in to the console share it.
 */
import { request as httpRequest } from 'node:http'

export interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
}

/** One request to the admin listener as a browser would send it (cookie, origin, CSRF header optional). */
export function adminRequest(url: string, o: { method?: string; cookie?: string; origin?: string; csrf?: string; body?: unknown; localAddress?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const u = new URL(url)
  const body = o.body === undefined ? undefined : JSON.stringify(o.body)
  // o.headers: more lines as a proxy in front would send them (Host, X-Forwarded-*).
  const headers: Record<string, string> = { ...o.headers }
  if (o.cookie) headers.cookie = o.cookie
  if (o.origin) headers.origin = o.origin
  if (o.csrf) headers['x-csrf-token'] = o.csrf
  if (body !== undefined) headers['content-type'] = 'application/json'
  return new Promise((resolve, reject) => {
    // localAddress: another source address on loopback (127.0.0.2, …), as a second client.
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: o.method ?? 'GET', headers, agent: false, ...(o.localAddress ? { localAddress: o.localAddress } : {}) }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}
