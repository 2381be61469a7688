/**
 * `node dist/bench/forwarder.js <settings.json>`: the smallest mTLS forwarder Node and
 * undici allow (node:http server, one undici Agent, pipe) — the floor a Node gateway starts
 * from, measured beside it (the `undici_forwarder` path).
 */
import { readFileSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import { Agent, type Dispatcher } from 'undici'

interface Settings {
  port: number
  origin: string
  servername: string
  cert: string
  key: string
  ca: string
}

const file = process.argv[2]
if (!file) throw new Error('usage: forwarder.js <settings.json>')
const s = JSON.parse(readFileSync(file, 'utf8')) as Settings
const agent = new Agent({ connect: { cert: readFileSync(s.cert), key: readFileSync(s.key), ca: readFileSync(s.ca), servername: s.servername }, connections: 128, pipelining: 1 })
const HOP = ['connection', 'keep-alive', 'transfer-encoding', 'host']

function strip(h: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const k in h) if (!HOP.includes(k) && h[k] !== undefined) out[k] = h[k] as string | string[]
  return out
}

const server = createServer({ keepAlive: true }, (req, res) => {
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined
  agent
    .request({ origin: s.origin, path: req.url ?? '/', method: req.method as Dispatcher.HttpMethod, headers: strip(req.headers), body: hasBody ? req : null })
    .then((up) => {
      res.writeHead(up.statusCode, strip(up.headers))
      up.body.pipe(res)
    })
    .catch(() => {
      res.statusCode = 502
      res.end()
    })
})
server.listen(s.port, '127.0.0.1', () => process.stdout.write(JSON.stringify({ msg: 'listening', port: s.port }) + '\n'))
process.once('SIGTERM', () => process.exit(0))
