/**
 * The review's second round on gateway-set values, through apply_authorization alone:
 * - a payload field removes the caller's query parameters any parser model reads as its name
 *   (Rails merges the query over the body, servlets read query values first), `auth[pin]` for
 *   `auth.pin` included; a query field removes same-name parameters from a form body (PHP's
 *   $_REQUEST, Spring, servlets read both) and leaves a text body alone, without reading it (JSON
 *   and multipart bodies beside a query field: query-field-bodies.test.ts);
 * - beside a dotted field `a.b.c`, literal keys `"a.b.c"` (top) and `"b.c"` (inside `a`), which
 *   lodash's `_.get` prefers, are removed in any case;
 * - a JSON body nested deeper than 256 levels is a 400 naming the limit, never a 500; the depth
 *   scanner agrees with JSON.parse on generated documents whose strings hold brackets and escapes.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseTemplate } from '../../src/config/index.js'
import { GatewayError, STATUS } from '../../src/errors.js'
import { compileDestination, type CompiledField, type Endpoint } from '../../src/gateway/index.js'
import type { Admitted } from '../../src/proxy/pipeline.js'
import { applyAuthorization } from '../../src/proxy/steps/apply-authorization.js'
import { jsonNestingDepth, MAX_JSON_DEPTH } from '../../src/proxy/steps/json-payload.js'
import { buildUpstreamTarget, toOutboundUrl } from '../../src/proxy/upstream-target.js'
import { QUERY_MODELS, valuesRead } from './parser-models.js'

const FORM = 'application/x-www-form-urlencoded'
const JSON_TYPE = 'application/json'
const GW = 'gw-v'

interface Setup { fields: [CompiledField['type'], string][]; query?: string; body?: string; contentType?: string }

/** A routed request as the pipeline hands it to the step; counts body reads. */
function admitted(s: Setup): { ctx: Admitted; reads: () => number } {
  const url = 'https://api.partner.test/b'
  const fields: CompiledField[] = s.fields.map(([type, key]) => ({ type, key, template: parseTemplate(GW) }))
  const endpoint = { name: 'ep', url, config: {}, fields, destination: compileDestination(url, undefined) } as unknown as Endpoint
  const target = buildUpstreamTarget(endpoint, undefined, '/y', s.query ?? '', 'append')
  let bytes: Buffer = Buffer.from(s.body ?? '')
  let reads = 0
  // A body not read yet, or none.
  const body = { present: s.body !== undefined, stream: undefined, buffered: undefined, bytes: async () => (reads++, bytes), replace: (b: Buffer) => void (bytes = b) }
  const headers = s.contentType === undefined ? {} : { 'content-type': s.contentType }
  const ctx = { endpoint, target, caller: { appId: 'bot', claims: {} }, auth: {}, outbound: { method: 'POST', url: toOutboundUrl(target), headers, body } } as unknown as Admitted
  return { ctx, reads: () => reads }
}

async function run(s: Setup): Promise<{ query: string; body: string; reads: number } | GatewayError> {
  const { ctx, reads } = admitted(s)
  try {
    await applyAuthorization.run(ctx)
  } catch (e) {
    if (e instanceof GatewayError) return e
    throw e
  }
  return { query: ctx.outbound.url.search.slice(1), body: (await ctx.outbound.body.bytes()).toString('utf8'), reads: reads() - 1 }
}

const ok = (r: Awaited<ReturnType<typeof run>>): { query: string; body: string; reads: number } => {
  if (r instanceof GatewayError) throw r
  return r
}

// Caller spellings of a parameter name: cased, encoded once or twice, bracketed, NUL-cut, ";"-separated.
const spelled = (name: string): fc.Arbitrary<string> => fc.oneof(
  fc.constant(name),
  fc.constant(name.toUpperCase()),
  fc.constantFrom('%61', '%2561').map((a) => name.replace('a', a)),
  fc.constantFrom('[]', '[x]', '%00', '%00junk', '+').map((s) => name + s),
  fc.constant(`[${name}]`),
)
const UNRELATED = ['page=1', 'q=x', 'accts=2', 'x%5Bacct%5D=3', 'auth_x=4', 'pinned=5']
const callerParams = (name: string): fc.Arbitrary<{ text: string; unrelated: string[] }> =>
  fc.array(fc.oneof(spelled(name).map((n) => `${n}=evil`), fc.constantFrom(...UNRELATED)), { maxLength: 6 }).chain((pieces) =>
    fc.array(fc.constantFrom('&', ';'), { minLength: pieces.length, maxLength: pieces.length }).map((seps) => ({
      text: pieces.map((p, i) => (i === 0 ? p : `${seps[i] as string}${p}`)).join(''),
      unrelated: pieces.filter((p) => UNRELATED.includes(p)),
    })))
const piecesOf = (text: string): string[] => text.split(/[&;]/).filter((p) => p !== '')

describe('a payload field and the query; a query field and a form body', () => {
  it('the review\'s examples', async () => {
    const r = ok(await run({ fields: [['payload', 'acct'], ['payload', 'auth.pin']], query: '?acct=evil&auth[pin]=evil&ACCT=e&keep=1', body: '{}', contentType: JSON_TYPE }))
    expect(r.query).toBe('keep=1')
    expect(r.body).toBe(`{"acct":"${GW}","auth":{"pin":"${GW}"}}`)
    const q = ok(await run({ fields: [['query', 'acct']], query: '?x=1', body: 'acct=evil&ACCT=e;acct[]=f&keep=1', contentType: FORM }))
    expect(q).toEqual({ query: `acct=${GW}&x=1`, body: 'keep=1', reads: 1 })
    // A query field and a payload field of one name: each keeps the gateway's own.
    const both = ok(await run({ fields: [['query', 'acct'], ['payload', 'acct']], query: '?acct=evil', body: 'acct=evil', contentType: FORM }))
    expect(both).toEqual({ query: `acct=${GW}`, body: `acct=${GW}`, reads: 1 })
  })

  it('a query field leaves a text body, or no body, unread and untouched (the step stays synchronous); a JSON body without a key read as it passes byte for byte; an untyped body is refused', async () => {
    for (const contentType of ['text/plain', 'application/octet-stream', 'application/xml']) {
      const { ctx, reads } = admitted({ fields: [['query', 'acct']], body: '{"acct":"caller"}', contentType })
      expect(applyAuthorization.run(ctx)).toBeUndefined()
      expect(reads()).toBe(0)
    }
    // Laravel's input() reads JSON keys over the query, so a JSON body is read; with nothing to remove it is sent as it came.
    const asSent = '{ "b" : 1.10,\n "acct_no": [1e400, "x"] }'
    expect(ok(await run({ fields: [['query', 'acct']], query: '?x=1', body: asSent, contentType: JSON_TYPE }))).toEqual({ query: `acct=${GW}&x=1`, body: asSent, reads: 1 })
    const none = admitted({ fields: [['query', 'acct']] })
    expect(applyAuthorization.run(none.ctx)).toBeUndefined()
    expect(none.reads()).toBe(0)
    // A body without a Content-Type is a form to Rack (merged over the query): refused, not passed on.
    const untyped = admitted({ fields: [['query', 'acct']], body: 'acct=caller' })
    expect(() => applyAuthorization.run(untyped.ctx)).toThrow(/has a body without a Content-Type/)
    expect(untyped.reads()).toBe(0)
  })

  it('for any caller query beside a JSON payload field acct: no parser model reads the caller\'s acct in the query, and other pairs stay (3,000 cases)', async () => {
    await fc.assert(fc.asyncProperty(callerParams('acct'), async (q) => {
      const r = ok(await run({ fields: [['payload', 'acct']], query: q.text === '' ? '' : `?${q.text}`, body: '{"b":1}', contentType: JSON_TYPE }))
      for (const model of QUERY_MODELS) expect(valuesRead(model, r.query, 'acct'), `${model.name}: ${q.text} → ${r.query}`).toEqual([])
      expect(piecesOf(r.query).filter((p) => UNRELATED.includes(p))).toEqual(q.unrelated)
      expect(JSON.parse(r.body)).toEqual({ b: 1, acct: GW })
    }), { seed: 20261911, numRuns: 3000 })
  })

  it('for any caller form body beside a query field acct: no parser model reads the caller\'s acct in the body, and other pairs stay (3,000 cases)', async () => {
    await fc.assert(fc.asyncProperty(callerParams('acct'), async (b) => {
      const r = ok(await run({ fields: [['query', 'acct']], body: b.text, contentType: FORM }))
      for (const model of QUERY_MODELS) expect(valuesRead(model, r.body, 'acct'), `${model.name}: ${b.text} → ${r.body}`).toEqual([])
      expect(piecesOf(r.body).filter((p) => UNRELATED.includes(p))).toEqual(b.unrelated)
      expect(r.query).toBe(`acct=${GW}`)
    }), { seed: 20261912, numRuns: 3000 })
  })
})

/** lodash's `_.get(doc, 'a.b.c')`: the literal key `"a.b.c"` when the object has it, else one step along `a`. */
function lodashGet(node: unknown, path: readonly string[]): unknown {
  if (path.length === 0) return node
  if (node === null || typeof node !== 'object') return undefined
  const o = node as Record<string, unknown>
  const whole = path.join('.')
  if (Object.hasOwn(o, whole)) return o[whole]
  return Object.hasOwn(o, path[0] as string) ? lodashGet(o[path[0] as string], path.slice(1)) : undefined
}

describe('literal dotted keys beside a dotted field', () => {
  it('the review\'s example: {"auth.pin":"evil"} beside auth.pin goes; "b.c" inside a beside a.b.c goes too', async () => {
    expect(ok(await run({ fields: [['payload', 'auth.pin']], body: '{"auth.pin":"evil","AUTH.PIN":"e2","auth.pins":1}', contentType: JSON_TYPE })).body).toBe(`{"auth.pins":1,"auth":{"pin":"${GW}"}}`)
    expect(ok(await run({ fields: [['payload', 'a.b.c']], body: '{"a":{"b.c":"evil","B.C":"e","x":1},"a.b.c":"e"}', contentType: JSON_TYPE })).body).toBe(`{"a":{"x":1,"b":{"c":"${GW}"}}}`)
  })

  const FIELD = 'a.bb.c'
  const literal = fc.constantFrom('a.bb.c', 'A.BB.C', 'A.bb.C', 'bb.c', 'BB.C', 'a.bb', 'bb', 'c', 'a.bb.cc', 'x')
  const value = fc.constantFrom('"evil"', '1', '{}', '{"c":"evil"}', '{"bb.c":"evil","bb":{"c":"evil"}}')
  const level = (depth: number): fc.Arbitrary<string> => fc.array(fc.tuple(literal, depth < 2 ? fc.oneof(value, level(depth + 1)) : value), { maxLength: 5 })
    .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`)

  it('for any caller body with literal dotted keys at every level: lodash reads only the gateway\'s value at a.bb.c (3,000 cases)', async () => {
    await fc.assert(fc.asyncProperty(level(0), async (body) => {
      const r = await run({ fields: [['payload', FIELD]], body, contentType: JSON_TYPE })
      if (r instanceof GatewayError) return void expect(r.reason).toBe('unsupported_payload') // a non-object at a or a.bb, as before
      expect(lodashGet(JSON.parse(r.body), FIELD.split('.')), `${body} → ${r.body}`).toBe(GW)
    }), { seed: 20261913, numRuns: 3000 })
  })
})

/** Depth of a parsed JSON value: each array or object one level. */
function depthOf(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0
  return 1 + Math.max(0, ...Object.values(v as Record<string, unknown>).map(depthOf))
}

describe('nesting depth', () => {
  const text = fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', ' ', 'é', '\u0000') })
  const doc: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
    v: fc.oneof({ depthSize: 'medium', withCrossShrink: true }, text, fc.integer(), fc.constant(null), fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(text, tie('v'), { maxKeys: 3 })),
  })).v

  it('the scanner agrees with JSON.parse on generated documents, strings full of brackets, quotes and backslashes (5,000 cases)', () => {
    fc.assert(fc.property(doc, fc.constantFrom(0, 2), (d, indent) => {
      const json = JSON.stringify(d, null, indent)
      expect(jsonNestingDepth(Buffer.from(json)), json).toBe(depthOf(JSON.parse(json)))
    }), { seed: 20261914, numRuns: 5000 })
  })

  it(`a body nested ${MAX_JSON_DEPTH} deep is accepted; ${MAX_JSON_DEPTH + 1}, or 5,000 in ~10 KB, is a 400 naming the limit`, async () => {
    const nested = (n: number): string => `{"x":${'['.repeat(n - 1)}${']'.repeat(n - 1)}}`
    expect(typeof ok(await run({ fields: [['payload', 'acct']], body: nested(MAX_JSON_DEPTH), contentType: JSON_TYPE })).body).toBe('string')
    for (const body of [nested(MAX_JSON_DEPTH + 1), `{"x":${'['.repeat(4999)}${']'.repeat(4999)}}`, `{"s":"]]]]","x":${'{"a":'.repeat(300)}1${'}'.repeat(300)}}`]) {
      const r = await run({ fields: [['payload', 'acct']], body, contentType: JSON_TYPE })
      expect(r).toBeInstanceOf(GatewayError)
      expect(STATUS[(r as GatewayError).reason]).toBe(400)
      expect((r as GatewayError).message).toBe(`payload field(s) acct: the JSON body nests deeper than ${MAX_JSON_DEPTH} levels`)
    }
  })
})
