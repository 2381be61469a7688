/**
 * A JSON body naming a member twice in one object is as ambiguous as a form parameter given twice:
 * JSON.parse keeps the last, other readers of the same request (a WAF, a logging proxy, a framework)
 * the first. The form body of POST /gateway/token and of authorize was refused (400 naming it);
 * the JSON body took the last `assertion`, `user` or `csrf` silently, so `{"user":"mallory","user":"u1"}`
 * started a dance for u1 while a reader keeping the first saw mallory. Seeded property: the gateway's
 * finding agrees with python3's json (object_pairs_hook) on generated JSON text.
 */
import { spawnSync } from 'node:child_process'
import { Readable } from 'node:stream'
import type { IncomingMessage, ServerResponse } from 'node:http'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { repeatedJsonKey } from '../../src/callers/index.js'
import { readJsonBody } from '../../src/console/http.js'
import { send, type Reply } from '../support/gateway.js'
import { startBotGateway, type BotGateway } from './bot-gateway.js'

const repeated = (name: string): string => `"${name}" appears more than once in the request body: the gateway does not guess which one counts; send it once`

/** The exact JSON 400, its Content-Length the body's. */
function expect400(r: Reply, msg: string): void {
  expect([r.status, r.text]).toEqual([400, JSON.stringify({ errors: [{ msg, code: 400 }] })])
  expect(Number(r.headers['content-length'])).toBe(r.body.length)
}

/** JSON text of objects and arrays over a few names (so repeats are common), spelled with escapes and whitespace. */
const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string; object: string; array: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, fc.constantFrom('1', 'null', '"x"', '"a\\"b"', '"{\\"k\\":1}"', '[]', '{}'), tie('object'), tie('array')),
  object: fc
    .array(fc.tuple(fc.constantFrom('"a"', '"\\u0061"', '"b"', '"a b"', '"\\""', '"\\\\"', '":"', '"assertion"'), tie('value'), fc.constantFrom('', ' ', '\n\t')), { maxLength: 4 })
    .map((members) => `{${members.map(([k, v, ws]) => `${ws}${k}${ws}:${ws}${v}`).join(',')}}`),
  array: fc.array(tie('value'), { maxLength: 3 }).map((items) => `[${items.join(', ')}]`),
})).object

describe('repeatedJsonKey', () => {
  it('property: finds a repeated member name exactly when python3\'s json sees one (seeded, 400 documents)', () => {
    const docs = fc.sample(jsonText, { seed: 0x7a11, numRuns: 400 })
    const script = [
      'import json, sys',
      'class Dup(Exception): pass',
      'def hook(pairs):',
      '    names = [k for k, _ in pairs]',
      '    if len(set(names)) != len(names): raise Dup()',
      '    return dict(pairs)',
      'for line in sys.stdin:',
      '    try:',
      '        json.loads(json.loads(line), object_pairs_hook=hook); print("unique")',
      '    except Dup:',
      '        print("repeated")',
    ].join('\n')
    const r = spawnSync('/usr/bin/python3', ['-c', script], { input: docs.map((d) => JSON.stringify(d)).join('\n') + '\n', encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    const python = r.stdout.trim().split('\n')
    expect(python.filter((v) => v === 'repeated').length).toBeGreaterThan(50)
    expect(docs.map((d) => (repeatedJsonKey(d) === undefined ? 'unique' : 'repeated'))).toEqual(python)
  })
  it('names the member decoded, at any depth, only within one object', () => {
    expect(repeatedJsonKey('{"a":1,"\\u0061":2}')).toBe('a')
    expect(repeatedJsonKey('{"x":{"b":1,"b":2}}')).toBe('b')
    expect(repeatedJsonKey('{"x":{"b":1},"y":{"b":2},"z":[{"b":3},{"b":4}]}')).toBeUndefined()
    expect(repeatedJsonKey('{"k":"\\"k\\":1","k2":"k"}')).toBeUndefined()
  })
  it('the console\'s JSON body too', async () => {
    const req = Object.assign(Readable.from([Buffer.from('{"token":"a","token":"b"}')]), { headers: { 'content-type': 'application/json' } }) as unknown as IncomingMessage
    // No Expect header: the response (where a 100 Continue would go) is never written to.
    await expect(readJsonBody(req, {} as ServerResponse)).rejects.toThrow(repeated('token'))
  })
})

describe('a JSON body naming a member twice, through the gateway', () => {
  let gw: BotGateway
  beforeAll(async () => {
    gw = await startBotGateway('json-repeated-', 'json-body-repeated-keys-hs256-secret-32b')
  })
  afterAll(() => gw?.close())
  const json = (body: string) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body })
  it('POST /gateway/token: two assertions are a 400 naming the member, whichever is valid; one is served', async () => {
    const good = await gw.jwt()
    expect400(await send(gw.url, '/gateway/token', json(`{"assertion":"a.b.c","assertion":"${good}"}`)), repeated('assertion'))
    expect400(await send(gw.url, '/gateway/token', json(`{"assertion":"${good}", "assertion" : "a.b.c"}`)), repeated('assertion'))
    expect((await send(gw.url, '/gateway/token', json(`{"assertion":"${good}"}`))).status).toBe(200)
  })
  it('authorize: a user named twice in the JSON body is a 400, as in its form body', async () => {
    const bearer = { authorization: `Bearer ${await gw.jwt()}`, 'content-type': 'application/json' }
    const path = '/gateway/oauth1/partner/authorize?format=json'
    expect400(await send(gw.url, path, { method: 'POST', headers: bearer, body: '{"user":"mallory","user":"u1"}' }), repeated('user'))
    expect((await send(gw.url, path, { method: 'POST', headers: bearer, body: '{"user":"u1"}' })).status).toBe(200)
  })
})
