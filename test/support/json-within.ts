import { request as httpRequest } from 'node:http'

/** A GET of `path` on the plain-HTTP gateway at `base` that fails the test instead of hanging when no JSON answer comes within 30 s. */
export function getJsonWithin(base: string, path: string): Promise<{ status: number; body: unknown }> {
  const gw = new URL(base)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: gw.hostname, port: gw.port, path, agent: false, signal: AbortSignal.timeout(30_000) }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }))
    })
    req.on('error', (e) => reject(new Error(`${path}: no answer within 30 s (${e.message})`))).end()
  })
}
