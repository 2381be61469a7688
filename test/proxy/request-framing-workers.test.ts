/**
 * The request-framing rule of request-framing.property.test.ts with `--workers 2` (each worker
 * parses its own connections): every hostile framing, each with a request hidden in its body and
 * one pipelined behind it, is forwarded exactly when the in-process gateway forwards it, with the
 * caller's body, framed one way only; the hidden request never reaches the backend.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFramingRecorder, type FramingRecorder } from '../support/framing-recorder.js'
import { endpointYaml } from '../support/gateway.js'
import { FRAMINGS, ONE_WAY, type Builder } from '../support/hostile-framings.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { rawClient } from '../support/raw-client.js'

let pki: TestPki
let backend: FramingRecorder
let gw: GatewayProcess

beforeAll(async () => {
  pki = await createTestPki()
  backend = await startFramingRecorder(pki)
  const file = join(pki.dir, 'gateway.yaml')
  writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\nendpoints:\n${endpointYaml('up', backend.port, clientTls(pki))}`)
  gw = await spawnGateway(file, ['--workers', '2'])
})

afterAll(async () => {
  await gw?.stop()
  await backend?.close()
  pki?.cleanup()
})

describe('request framing with --workers 2', () => {
  it('every framing: forwarded with the caller\'s body exactly when the one-process gateway forwards it; nothing hidden reaches the backend', async () => {
    const forwarded: string[] = []
    let id = 0
    for (const [name, build] of Object.entries(FRAMINGS) as [string, Builder][]) {
      id++
      const body = `a=1&GET /proxy/up/s/${id} HTTP/1.1\r\nHost: x\r\n\r\n&z=2`
      const f = build(body, [3, 9])
      const eol = f.bareLf ? '\n' : '\r\n'
      const head = [`POST /proxy/up/c/${id} HTTP/${f.version ?? '1.1'}`, 'Host: gw.test', ...f.lines].join(eol) + eol + eol
      const before = backend.requests.length
      const c = await rawClient(Number(new URL(gw.url).port))
      c.socket.write(Buffer.from(`${head}${f.wire}GET /proxy/up/p/${id} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`, 'latin1'))
      await c.closed(15_000)
      const mine = backend.requests.slice(before)
      for (const r of mine) expect([name, r.target, r.ambiguities]).toEqual([name, expect.stringMatching(/^\/[cp]\/\d+$/), []])
      const posted = mine.filter((r) => r.target === `/c/${id}`)
      expect(posted.length, name).toBeLessThanOrEqual(1)
      for (const r of posted) expect(f.readings, name).toContain(r.body)
      if (posted.length === 1) forwarded.push(name)
    }
    expect(forwarded).toEqual([...ONE_WAY, 'length_leading_zero', 'coding_underscore', 'length_underscore', 'http10_keep_alive'])
  }, 120_000)
})
