/**
 * A query field beside a JSON or multipart body. Laravel's `input()` reads a JSON body's keys over
 * the query, and PHP registers multipart parts in `$_POST`, which `$_REQUEST` (and `input()`)
 * read over the query: a caller's `{"acct":"victim"}` or part `acct` would win over the gateway's
 * `?acct=`. So beside a query field the caller's JSON keys read as its name go (the body otherwise
 * byte for byte), and a multipart body naming such a part is refused. Judged by real PHP
 * (`php -n -S`, test/peers/php_request.php) over generated bodies, as seeded properties, and once
 * through a gateway process.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseTemplate } from '../../src/config/index.js'
import { GatewayError } from '../../src/errors.js'
import { compileDestination, type CompiledField, type Endpoint } from '../../src/gateway/index.js'
import type { Admitted } from '../../src/proxy/pipeline.js'
import { applyAuthorization } from '../../src/proxy/steps/apply-authorization.js'
import { buildUpstreamTarget, toOutboundUrl } from '../../src/proxy/upstream-target.js'
import { startAcctFieldGateway, type AcctFieldGateway } from '../support/acct-field-gateway.js'
import { send } from '../support/gateway.js'
import { startPhpBackend, type PhpBackend, type PhpReading } from '../support/php-backend.js'

const GW = 'gw-v'
const JSON_TYPE = 'application/json'

let php: PhpBackend

beforeAll(async () => {
  php = await startPhpBackend()
})

afterAll(async () => {
  await php?.stop()
})

/** A routed request with a query field `key` and the caller's body, as the pipeline hands it to the step. */
function admitted(key: string, contentType: string, body: Buffer): Admitted {
  const url = 'https://api.partner.test/b'
  const fields: CompiledField[] = [{ type: 'query', key, template: parseTemplate(GW) }]
  const endpoint = { name: 'ep', url, config: {}, fields, destination: compileDestination(url, undefined) } as unknown as Endpoint
  const target = buildUpstreamTarget(endpoint, undefined, '/y', '?page=2', 'append')
  let bytes = body
  const outBody = { present: true, stream: undefined, buffered: undefined, bytes: async () => bytes, replace: (b: Buffer) => void (bytes = b) }
  return { endpoint, target, caller: { appId: 'bot', claims: {} }, auth: {}, outbound: { method: 'POST', url: toOutboundUrl(target), headers: { 'content-type': contentType }, body: outBody } } as unknown as Admitted
}

/** The step's verdict, and when it passes what PHP reads from the request it would send. */
async function judge(key: string, contentType: string, body: Buffer): Promise<GatewayError | { sent: Buffer; php: PhpReading }> {
  const ctx = admitted(key, contentType, body)
  try {
    await applyAuthorization.run(ctx)
  } catch (e) {
    if (e instanceof GatewayError) return e
    throw e
  }
  const sent = await ctx.outbound.body.bytes()
  const url = ctx.outbound.url
  return { sent, php: await php.read({ pathAndQuery: `${url.pathname}${url.search}`, headers: { 'content-type': contentType }, body: sent }) }
}

/** Where PHP keys the gateway's query parameter `key` (PHP's names: `filter[acct]` nests, `Acct.No` is `Acct_No`). */
const PHP_PATH: Record<string, string[]> = { acct: ['acct'], 'filter[acct]': ['filter', 'acct'], 'Acct.No': ['Acct_No'] }
const at = (o: unknown, path: readonly string[]): unknown => path.reduce<unknown>((node, k) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[k] : undefined), o)
const KEYS = Object.keys(PHP_PATH)

/** Every caller value is "evil…": whatever PHP or Laravel reads at the field's place must not be one. */
function expectGatewayValue(r: PhpReading, key: string, why: string): void {
  const path = PHP_PATH[key] as string[]
  expect(at(r.get, path), `$_GET ${why}`).toBe(GW)
  expect(at(r.request, path), `$_REQUEST ${why}`).toBe(GW)
  // Laravel: a caller's JSON `filter` object replaces the query's `filter` whole (PHP's "+"), so
  // `input('filter.acct')` may find nothing there; it must never find the caller's value.
  const laravel = at(r.input, path)
  if (laravel !== undefined) expect(laravel, `input() ${why}`).toBe(GW)
}

// JSON keys a backend may read as the field's name: the name, its case variants, PHP's and the
// nested spellings, the dotted literal; and unrelated keys that must stay.
const jsonShadow = (key: string): fc.Arbitrary<[string, unknown]> => {
  const base = key.split('[')[0] as string
  const names = [key, key.toUpperCase(), key.toLowerCase(), ...(key === 'Acct.No' ? ['Acct_No', 'acct_no', 'ACCT_NO'] : []), ...(key === 'filter[acct]' ? ['filter.acct', 'FILTER[acct]'] : [])]
  return fc.oneof(
    fc.constantFrom(...names).map((n): [string, unknown] => [n, 'evil']),
    fc.constantFrom(...names).map((n): [string, unknown] => [n, ['evil', { x: 'evil-deep' }]]),
    ...(base !== key ? [fc.constantFrom(base, base.toUpperCase()).map((n): [string, unknown] => [n, { acct: 'evil', ACCT: 'evil2', status: 'open' }])] : []),
  )
}
const UNRELATED_JSON: [string, unknown][] = [['page', 3], ['accts', 'keep'], ['x_acct', 'keep'], ['note', 'acct=evil'], ['amount', '1.10'], ['filter_x', { acct: 'keep' }]]

describe('a JSON body beside a query field (real PHP and Laravel\'s input())', () => {
  it('the caller\'s {"acct": …} goes, unrelated keys and number texts stay, and a body without one passes byte for byte', async () => {
    const r = await judge('acct', JSON_TYPE, Buffer.from('{"acct":"evil","ACCT":"evil2","n":12345678901234567890,"amt":1.10,"keep":"acct"}'))
    if (r instanceof GatewayError) throw r
    expect(r.sent.toString()).toBe('{"n":12345678901234567890,"amt":1.10,"keep":"acct"}')
    expectGatewayValue(r.php, 'acct', 'for the example')
    const same = '{ "a" : 1.10 , "list": [ 1e400 ] }'
    const untouched = await judge('acct', 'application/vnd.api+json', Buffer.from(same))
    if (untouched instanceof GatewayError) throw untouched
    expect(untouched.sent.toString()).toBe(same)
    // Without the gateway, PHP really reads the caller's value: the oracle can tell.
    const unprotected = await php.read({ pathAndQuery: '/y?acct=gw-v', headers: { 'content-type': JSON_TYPE }, body: Buffer.from('{"acct":"evil"}') })
    expect(unprotected.input['acct']).toBe('evil')
  })

  it('for any JSON object with keys read as the field and unrelated keys: PHP and input() read the gateway\'s value, unrelated keys stay (1,500 cases)', async () => {
    await fc.assert(
      // Laravel's isJson() finds "/json" or "+json" anywhere in the Content-Type.
      fc.asyncProperty(fc.constantFrom(...KEYS), fc.nat(), fc.constantFrom(JSON_TYPE, 'text/json', 'application/vnd.api+json; charset=utf-8', 'application/json-seq', 'x/y; a=/json'), async (key, seed, type) => {
        const entries = fc.sample(fc.array(fc.oneof(jsonShadow(key), fc.constantFrom(...UNRELATED_JSON)), { maxLength: 6 }), { seed, numRuns: 1 })[0] as [string, unknown][]
        const doc = Object.fromEntries(entries)
        const r = await judge(key, type, Buffer.from(JSON.stringify(doc)))
        if (r instanceof GatewayError) throw r
        expectGatewayValue(r.php, key, `for ${JSON.stringify(doc)} → ${r.sent.toString()}`)
        const sent = JSON.parse(r.sent.toString()) as Record<string, unknown>
        for (const [k, v] of UNRELATED_JSON) if (Object.hasOwn(doc, k)) expect(sent[k], k).toEqual(v)
      }),
      { seed: 20262201, numRuns: 1500 },
    )
  }, 300_000)
})

const CRLF = '\r\n'
/** One part's header lines naming it `name`, in the spellings parsers accept. */
const disposition = (name: string): fc.Arbitrary<string> => fc.constantFrom(
  `Content-Disposition: form-data; name="${name}"`,
  `Content-Disposition: form-data; name=${name}`,
  `content-disposition: form-data;name="${name}"`,
  `CONTENT-DISPOSITION: FORM-DATA; NAME="${name}"`,
  `Content-Disposition: form-data;${CRLF} name="${name}"`,
  `Content-Disposition: form-data; name="${name}"; filename="a.txt"${CRLF}Content-Type: text/plain`,
  `Content-Disposition: form-data; name*=utf-8''${name}`,
  `Content-Disposition: form-data; name='${name}'`,
  `Content-Disposition: form-data; name = "${name}"`,
)
const multipartShadow = (key: string): fc.Arbitrary<string> => {
  const base = key.split('[')[0] as string
  const php = key === 'Acct.No' ? ['Acct_No', 'Acct No'] : []
  return fc.constantFrom(key, `${base}[]`, `${base}[x]`, base, key.toUpperCase(), ...php)
}
const UNRELATED_PARTS = ['page', 'accts', 'x_acct', 'upload', 'username']
// File contents that mention the name but never as a parameter of a header: must not be refused.
const CONTENTS = ['keep', 'name: acct', 'username=acct', 'acct=evil', '{"acct":"evil"}']

function multipart(boundary: string, parts: { header: string; content: string }[]): Buffer {
  return Buffer.from(`${parts.map((p) => `--${boundary}${CRLF}${p.header}${CRLF}${CRLF}${p.content}${CRLF}`).join('')}--${boundary}--${CRLF}`)
}

describe('a multipart body beside a query field (real PHP)', () => {
  it('a part named like the field is refused with 400 naming the field; PHP would have read it', async () => {
    const body = multipart('XyZ', [{ header: 'Content-Disposition: form-data; name="acct"', content: 'evil' }])
    const r = await judge('acct', 'multipart/form-data; boundary=XyZ', body)
    expect(r).toBeInstanceOf(GatewayError)
    expect((r as GatewayError).reason).toBe('unsupported_payload')
    expect((r as GatewayError).message).toMatch(/sets query field\(s\) "acct", and the multipart body has a part/)
    const unprotected = await php.read({ pathAndQuery: '/y?acct=gw-v', headers: { 'content-type': 'multipart/form-data; boundary=XyZ' }, body })
    expect(unprotected.request['acct']).toBe('evil')
  })

  it('for any multipart body: refused, or PHP\'s $_REQUEST and input() read the gateway\'s value; bodies of unrelated parts always pass (1,500 cases)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...KEYS),
        fc.stringMatching(/^[A-Za-z0-9]{8,20}$/),
        fc.array(fc.boolean(), { maxLength: 5 }),
        fc.nat(),
        async (key, boundary, shadows, seed) => {
          const parts = fc.sample(fc.tuple(...shadows.map((shadow) => (shadow
            ? fc.tuple(multipartShadow(key), fc.constantFrom(...CONTENTS)).chain(([n, c]) => disposition(n).map((header) => ({ header, content: c === 'keep' ? 'evil' : c })))
            : fc.tuple(fc.constantFrom(...UNRELATED_PARTS), fc.constantFrom(...CONTENTS)).chain(([n, c]) => disposition(n).map((header) => ({ header, content: c })))))), { seed, numRuns: 1 })[0] as { header: string; content: string }[]
          const body = multipart(boundary, parts)
          const r = await judge(key, `multipart/form-data; boundary=${boundary}`, body)
          const shown = body.toString()
          if (r instanceof GatewayError) {
            expect(shadows.some((s) => s), `refused without a part named like the field:\n${shown}`).toBe(true)
            expect(r.reason).toBe('unsupported_payload')
            return
          }
          expect(r.sent.equals(body), 'the body is sent as it came').toBe(true)
          expectGatewayValue(r.php, key, `for\n${shown}`)
        },
      ),
      { seed: 20262202, numRuns: 1500 },
    )
  }, 300_000)
})

describe('a header line longer than PHP\'s read buffer (real PHP)', () => {
  // PHP reads multipart lines through a 5 KiB buffer: a longer header line is cut there and the
  // rest read as another line, so `…; name=acctZ: z` cut after "acct" is a part acct.
  it('wherever the cut falls near the name, the body is refused or PHP reads the gateway\'s value (every cut, 900 bodies)', async () => {
    let phpReadCaller = 0
    for (const key of KEYS) {
      for (let shift = -3; shift <= 16; shift++) {
        for (const rest of ['Z: z', ' z', 'zz', '\0: z', ';x=1']) {
          for (const opening of ['name=', 'name="', 'NAME=']) {
            const head = 'Content-Disposition: form-data; x='
            const tail = `; ${opening}${key}`
            // The cut (after 5,120 bytes) falls `shift` bytes before the name's end (negative: after it).
            const pad = 5120 - head.length - tail.length + shift
            const line = `${head}${'A'.repeat(pad)}${tail}${opening.endsWith('"') ? '"' : ''}${rest}`
            const body = multipart('XyZ', [{ header: line, content: 'evil' }])
            const type = 'multipart/form-data; boundary=XyZ'
            const unprotected = await php.read({ pathAndQuery: '/y?acct=gw-v&filter[acct]=gw-v&Acct.No=gw-v', headers: { 'content-type': type }, body })
            if (at(unprotected.request, PHP_PATH[key] as string[]) !== 'gw-v') phpReadCaller++
            const r = await judge(key, type, body)
            if (r instanceof GatewayError) continue
            expectGatewayValue(r.php, key, `for ${key}: a cut ${shift} bytes before the end of ${JSON.stringify(tail)} followed by ${JSON.stringify(rest)}`)
          }
        }
      }
    }
    expect(phpReadCaller).toBeGreaterThan(10)
  }, 300_000)

  it('a boundary long enough to grow PHP\'s buffer (the cuts would fall elsewhere) is refused', async () => {
    const boundary = 'b'.repeat(5100)
    const r = await judge('acct', `multipart/form-data; boundary=${boundary}`, multipart(boundary, [{ header: 'Content-Disposition: form-data; name="note"', content: 'x' }]))
    expect(r).toBeInstanceOf(GatewayError)
    expect((r as GatewayError).message).toMatch(/Content-Type is over/)
  })
})

describe('a Content-Type read both as a form and as JSON (real PHP)', () => {
  // PHP's $_REQUEST reads a form by the media type's start; Laravel's input() reads JSON when
  // "/json" or "+json" is anywhere in it. A JSON string can carry `&acct=evil&` to PHP.
  it('is refused, or neither PHP nor input() reads the caller\'s value (any such type and body)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('application/x-www-form-urlencoded; x=/json', 'application/x-www-form-urlencoded; charset=utf-8; profile=a+json', 'APPLICATION/X-WWW-FORM-URLENCODED;t=text/json'),
        fc.constantFrom('{"x":"&acct=evil&"}', '{"acct":"evil"}', '{"x":"&acct=evil&","acct":"evil"}', '{"n":1}'),
        async (type, body) => {
          const r = await judge('acct', type, Buffer.from(body))
          if (r instanceof GatewayError) {
            // Refused for what it is, not for some other reason that would hide the case.
            expect([r.reason, r.message]).toEqual(['unsupported_payload', `endpoint "ep" sets query or payload fields, and Content-Type ${JSON.stringify(type)} is read as a form by some backends (PHP) and as JSON by others (Laravel's input()): send one media type`])
            return
          }
          expectGatewayValue(r.php, 'acct', `for ${type} ${body} → ${r.sent.toString()}`)
        },
      ),
      { seed: 20262204, numRuns: 60 },
    )
  })
})

describe('a multipart part name split over header lines PHP joins (real PHP)', () => {
  // PHP's multipart reader appends a header line that starts with white space, or holds no ":",
  // to the one before it with nothing between, and cuts each line at a NUL: `na` CRLF `me=acct`
  // is a part acct. White space after "=" is any of C's isspace().
  it('a Content-Disposition line broken anywhere is refused, or PHP\'s $_REQUEST and input() read the gateway\'s value (600 cases)', async () => {
    let phpReadCaller = 0
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...KEYS),
        fc.constantFrom('name=', 'name="', "name='", 'name=\f', 'name=\v', 'name= '),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom('\r\n', '\n', '\r\n\t', '\n ', '\0x\r\n')), { minLength: 1, maxLength: 3 }),
        async (key, opening, breaks) => {
          const close = opening.endsWith('"') ? '"' : opening.endsWith("'") ? "'" : ''
          let line = `Content-Disposition: form-data; ${opening}${key}${close}`
          // Break after "form-data; " only: the header's own name and ":" stay on the first line.
          const from = 'Content-Disposition: form-data; '.length
          for (const [at, brk] of breaks) {
            const i = from + 1 + (at % (line.length - from - 1))
            line = `${line.slice(0, i)}${brk}${line.slice(i)}`
          }
          const body = multipart('XyZ', [{ header: line, content: 'evil' }])
          const type = 'multipart/form-data; boundary=XyZ'
          const unprotected = await php.read({ pathAndQuery: '/y?acct=gw-v&filter[acct]=gw-v&Acct.No=gw-v', headers: { 'content-type': type }, body })
          if (at(unprotected.request, PHP_PATH[key] as string[]) !== 'gw-v') phpReadCaller++
          const r = await judge(key, type, body)
          if (r instanceof GatewayError) {
            // Refused for the part PHP may read as the field, not for some other reason that would hide the case.
            expect([r.reason, r.message]).toEqual(['unsupported_payload', `endpoint "ep" sets query field(s) "${key}", and the multipart body has a part (or a name= parameter) a backend may read as one: PHP's $_REQUEST and Laravel's input() read form parts over the query. Rename the part, or send it in another media type`])
            return
          }
          expectGatewayValue(r.php, key, `for\n${JSON.stringify(body.toString('latin1'))}`)
        },
      ),
      { seed: 20262203, numRuns: 600 },
    )
    // The generator does reach bodies PHP reads as the field.
    expect(phpReadCaller).toBeGreaterThan(100)
  }, 300_000)
})

describe('through a gateway process, in front of PHP', () => {
  let g: AcctFieldGateway
  beforeAll(async () => {
    g = await startAcctFieldGateway((req, res) => php.relay(req, res))
  })
  afterAll(async () => {
    await g?.close()
  })

  it('JSON: the caller\'s acct goes and PHP reads the claim\'s; multipart: a part acct is a 400, other parts pass', async () => {
    const auth = { 'proxy-authorization': `Bearer ${await g.bearer()}` }
    const json = await send(g.gw.url, '/proxy/query/x?page=1', { method: 'POST', body: '{"acct":"victim","page":1}', headers: { ...auth, 'content-type': JSON_TYPE } })
    expect(json.status, json.text).toBe(200)
    const read = json.json<PhpReading>()
    expect(read.input).toEqual({ page: 1, acct: '42' })
    const body = multipart('B0undary', [{ header: 'Content-Disposition: form-data; name="acct"', content: 'victim' }])
    const refused = await send(g.gw.url, '/proxy/query/x', { method: 'POST', body, headers: { ...auth, 'content-type': 'multipart/form-data; boundary=B0undary' } })
    expect(refused.status).toBe(400)
    expect(refused.json()).toEqual({ errors: [{ msg: expect.stringMatching(/the multipart body has a part/), code: 400 }] })
    const fine = multipart('B0undary', [{ header: 'Content-Disposition: form-data; name="note"', content: 'hello' }])
    const passed = await send(g.gw.url, '/proxy/query/x', { method: 'POST', body: fine, headers: { ...auth, 'content-type': 'multipart/form-data; boundary=B0undary' } })
    expect(passed.status, passed.text).toBe(200)
    expect(passed.json<PhpReading>().request).toEqual({ acct: '42', note: 'hello' })
  })

  it('review rev-i: a part name split over lines PHP joins, and a form type holding "/json", are 400s (PHP read the caller\'s acct before)', async () => {
    const auth = { 'proxy-authorization': `Bearer ${await g.bearer()}` }
    const split = Buffer.from('--B0undary\r\nContent-Disposition: form-data; na\r\nme=acct\r\n\r\nvictim\r\n--B0undary--\r\n')
    const r1 = await send(g.gw.url, '/proxy/query/x', { method: 'POST', body: split, headers: { ...auth, 'content-type': 'multipart/form-data; boundary=B0undary' } })
    expect(r1.status, r1.text).toBe(400)
    const r2 = await send(g.gw.url, '/proxy/query/x', { method: 'POST', body: '{"x":"&acct=victim&"}', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded; x=/json' } })
    expect(r2.status, r2.text).toBe(400)
  })
})
