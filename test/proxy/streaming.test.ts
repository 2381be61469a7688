import { createHash } from 'node:crypto'
import { request } from 'node:http'
import { Readable } from 'node:stream'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { endpointYaml } from '../support/gateway.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'

// 200 MB each way through a separate gateway process, whose peak RSS must stay flat:
// bodies stream with backpressure and are never buffered.
const TOTAL = Number(process.env.STREAM_MB ?? 200) * 1024 * 1024
const CHUNK = Buffer.alloc(64 * 1024, 0x61)
const GROWTH_LIMIT = 24 * 1024 * 1024

let pki: TestPki
let upstream: RunningServer
let gw: GatewayProcess

function chunks(total: number): Readable {
  let sent = 0
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null)
      sent += CHUNK.length
      this.push(CHUNK)
    },
  })
}

function expectedSha(total: number): string {
  const h = createHash('sha256')
  for (let n = 0; n < total; n += CHUNK.length) h.update(CHUNK)
  return h.digest('hex')
}

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({
    cert: pki.file('server-chain.crt'),
    key: pki.file('server.key'),
    ca: pki.file('root.crt'),
    handler: (req, res) => {
      if (req.url?.startsWith('/download')) {
        const bytes = Number(new URL(req.url, 'https://x').searchParams.get('bytes'))
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes })
        chunks(bytes).pipe(res)
      } else echo(req, res)
    },
  })
  const file = join(pki.dir, 'gateway.yaml')
  writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\nendpoints:\n${endpointYaml('bulk', upstream.port, clientTls(pki))}`)
  gw = await spawnGateway(file)
})
afterAll(async () => {
  await gw?.stop()
  await upstream?.close()
  pki?.cleanup()
})

function upload(total: number): Promise<EchoReply> {
  return new Promise<EchoReply>((resolve, reject) => {
    const req = request(`${gw.url}/proxy/bulk/upload`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' } }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c)).on('end', () => resolve(JSON.parse(Buffer.concat(parts).toString()) as EchoReply))
    })
    req.on('error', reject)
    chunks(total).pipe(req)
  })
}

function download(total: number): Promise<{ length: number; sha: string }> {
  return new Promise((resolve, reject) => {
    request(`${gw.url}/proxy/bulk/download?bytes=${total}`, (res) => {
      const h = createHash('sha256')
      let length = 0
      res.on('data', (c: Buffer) => {
        length += c.length
        h.update(c)
      })
      res.on('end', () => resolve({ length, sha: h.digest('hex') }))
    }).on('error', reject).end()
  })
}

describe('streaming bodies', () => {
  it('streams a 200 MB upload (chunked) and a 200 MB download with flat gateway memory', async () => {
    // Warm up with 16 MB each way, so the baseline holds the pools, TLS buffers and the
    // heap's steady-state slack; the 200 MB transfers must then not raise the peak.
    const warm = 16 * 1024 * 1024
    expect((await upload(warm)).bodyLength).toBe(warm)
    expect((await download(warm)).length).toBe(warm)
    const before = gw.memory()

    const up = await upload(TOTAL)
    expect(up.bodyLength).toBe(TOTAL)
    expect(up.bodySha256).toBe(expectedSha(TOTAL))
    expect(up.headers['transfer-encoding']).toBe('chunked')
    const down = await download(TOTAL)
    expect(down.length).toBe(TOTAL)
    expect(down.sha).toBe(expectedSha(TOTAL))

    const after = gw.memory()
    const growth = after.peak - before.peak
    console.log(`gateway peak RSS after 16 MB warm-up ${Math.round(before.peak / 2 ** 20)} MiB, after ${(2 * TOTAL) / 2 ** 20} MiB more: ${Math.round(after.peak / 2 ** 20)} MiB`)
    expect(growth).toBeLessThan(GROWTH_LIMIT)
  }, 120_000)
})
