/**
 * What a backend reads from a JSON body the gateway set payload fields in, decoding it by the
 * declared charset (UTF-8, US-ASCII or ISO-8859-1) and keeping the first or the last of duplicate
 * keys. The gateway writes its values ASCII-only (non-ASCII as \u escapes): written as UTF-8
 * bytes, a Latin-1 backend read `é` as `Ã©` and a US-ASCII one could not decode the body. The
 * caller's text keeps its meaning in the declared charset (a caller's \u00e9 was written back as
 * UTF-8 bytes too), and a caller's duplicates of an injected key, or of an object on its path,
 * never reach the backend. A form's parameters are percent-encoded in its declared charset (%E9
 * for é in ISO-8859-1), or refused where it lacks a character. Judged by a real python3 (json,
 * parse_qsl) behind its own mTLS server, and by python3 over seeded generated bodies.
 */
import { execFileSync } from 'node:child_process'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeFormFields } from '../../src/proxy/form-body.js'
import { setJsonFields } from '../../src/proxy/steps/json-payload.js'
import { startAcctFieldGateway, type AcctFieldGateway } from '../support/acct-field-gateway.js'
import { send } from '../support/gateway.js'
import { PYTHON_READ, startPythonJsonBackend } from '../support/python-json-backend.js'

const CHARSETS = ['utf-8', 'us-ascii', 'iso-8859-1'] as const
type Reading = { first?: { value?: unknown; absent?: true }; last?: { value?: unknown; absent?: true }; doc?: Record<string, unknown>; error?: string }

/** JSON text with every non-ASCII character escaped: the same document in each of the three charsets. */
const asciiJson = (v: unknown): string => JSON.stringify(v).replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

/** Python's readings of many bodies at once (one process): first-wins and last-wins at `path`, and the whole last-wins document. */
function pythonReadings(cases: readonly { body: Buffer; charset: string; path: readonly string[] }[]): Reading[] {
  const script = `${PYTHON_READ}
import sys
for line in sys.stdin:
    c = json.loads(line)
    print(json.dumps(read(bytes.fromhex(c['b']), c['c'], c['p']), ensure_ascii=True))
`
  const input = cases.map((c) => JSON.stringify({ b: c.body.toString('hex'), c: c.charset, p: c.path })).join('\n')
  return execFileSync('/usr/bin/python3', ['-c', script], { input, encoding: 'utf8', maxBuffer: 64 << 20 }).trim().split('\n').map((l) => JSON.parse(l) as Reading)
}

describe('through the gateway, to python3 json behind mTLS', () => {
  let g: AcctFieldGateway
  beforeAll(async () => {
    g = await startAcctFieldGateway(() => undefined, (pki) => startPythonJsonBackend(pki.file('server-chain.crt'), pki.file('server.key'), pki.file('root.crt')))
  })
  afterAll(async () => {
    await g?.close()
  })

  const post = async (acct: string, body: string | Buffer, contentType: string): Promise<{ status: number; reading: Reading; text: string }> => {
    const r = await send(g.gw.url, '/proxy/payload/x?path=acct', { method: 'POST', body, headers: { 'proxy-authorization': `Bearer ${await g.bearer(acct)}`, 'content-type': contentType } })
    return { status: r.status, text: r.text, reading: r.status === 200 ? r.json<Reading>() : {} }
  }

  it('the backend reads the claim exactly in each charset, beside caller text escaped or raw (seeded)', async () => {
    // Well-formed strings here: a claim with a lone surrogate is refused (below); setJsonFields escapes one (further below).
    const value = fc.oneof(fc.constantFrom('é', 'Ã©', '中文', '😀', '\u0080\u009f', 'ÿ', 'ascii'), fc.string({ unit: 'grapheme', maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 12 }).map((s) => Buffer.from(s).toString()))
    await fc.assert(
      fc.asyncProperty(value, value, fc.constantFrom(...CHARSETS), async (acct, note, charset) => {
        const r = await post(acct, `{"note":${asciiJson(note)},"acct":"caller's"}`, `application/json; charset=${charset}`)
        expect(r.status, r.text).toBe(200)
        expect(r.reading.error).toBeUndefined()
        expect(r.reading.first).toEqual({ value: acct })
        expect(r.reading.last).toEqual({ value: acct })
        expect(r.reading.doc?.note).toBe(note)
      }),
      { seed: 20261205, numRuns: 90 },
    )
  })

  it('a Latin-1 body\'s raw bytes keep their meaning (they were refused as not UTF-8)', async () => {
    const r = await post('é', Buffer.from('{"note":"café ÿ","acct":"x"}', 'latin1'), 'application/json; charset=ISO-8859-1')
    expect(r.status, r.text).toBe(200)
    expect(r.reading).toMatchObject({ first: { value: 'é' }, doc: { note: 'café ÿ', acct: 'é' } })
  })

  it('a claim with a lone surrogate (a JWT carries one as a \\ud800 escape) is refused (400) in every charset, never escaped through', async () => {
    for (const charset of CHARSETS) {
      const r = await post('a\ud800', '{}', `application/json; charset=${charset}`)
      expect(r.status, r.text).toBe(400)
      expect(JSON.parse(r.text)).toEqual({ errors: [{ msg: 'authorization field payload "acct": its value is not well-formed Unicode (it has a lone UTF-16 surrogate)', code: 400 }] })
    }
  })

  it('a US-ASCII body with non-ASCII bytes is refused (400), naming the field', async () => {
    const r = await post('42', '{"note":"café"}', 'application/json; charset=us-ascii')
    expect(r.status, r.text).toBe(400)
    expect(JSON.parse(r.text)).toEqual({ errors: [{ msg: 'payload field(s) acct: the request body is not US-ASCII, as its Content-Type declares', code: 400 }] })
  })

  it('a form body: the backend decoding escapes by the charset reads the claim exactly, or it is refused (400) where the charset lacks a character (seeded)', async () => {
    const value = fc.oneof(fc.constantFrom('é', 'café ÿ', '中', '&=+%', 'ascii'), fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 6 }))
    await fc.assert(
      fc.asyncProperty(value, fc.constantFrom(...CHARSETS), async (acct, charset) => {
        const r = await post(acct, 'note=x&acct=caller', `application/x-www-form-urlencoded; charset=${charset}`)
        const fits = charset === 'utf-8' || !(charset === 'us-ascii' ? /[^\x00-\x7f]/ : /[^\x00-\xff]/).test(acct)
        if (!fits) {
          expect(r.status, r.text).toBe(400)
          expect(JSON.parse(r.text)).toEqual({ errors: [{ msg: `payload field "acct": its value has a character a form declared ${charset} cannot carry: send the form as UTF-8`, code: 400 }] })
          return
        }
        expect(r.status, r.text).toBe(200)
        expect(r.reading).toMatchObject({ first: { value: acct }, last: { value: acct }, doc: { note: 'x' } })
      }),
      { seed: 20261208, numRuns: 60 },
    )
  })

  it.each(['{"acct":"x","acct":"y"}', '{"acct":"x","ACCT":"y","acct":"z"}', '{"acct":{"a":1},"acct":"y"}'])('duplicates of the injected key %s: first-wins and last-wins read the gateway\'s value', async (body) => {
    const r = await post('42', body, 'application/json')
    expect(r.reading).toMatchObject({ first: { value: '42' }, last: { value: '42' } })
  })
})

/** An object's members as JSON text, duplicates and all, strings ASCII-only. */
const objectText = (entries: readonly [string, unknown][]): string => `{${entries.map(([k, v]) => `${asciiJson(k)}:${Array.isArray(v) ? objectText(v as [string, unknown][]) : asciiJson(v)}`).join(',')}}`

describe('setJsonFields, read by python3 (seeded)', () => {
  // Keys on and beside the paths auth.pin and pin, in spellings a binder folds; values scalars or objects (member lists).
  const key = fc.constantFrom('auth', 'pin', 'Auth', 'PIN', 'auth.pin', 'note', 'x')
  const member = fc.letrec<{ entries: [string, unknown][] }>((tie) => ({
    entries: fc.array(fc.tuple(key, fc.oneof({ depthSize: 'small' }, fc.string({ maxLength: 4 }), fc.integer(), tie('entries'))), { maxLength: 6 }),
  })).entries
  const withDuplicates = fc.tuple(member, fc.constantFrom('pin', 'auth'), member).map(([a, k, b]): [string, unknown][] => [...a, [k, b], ...a, [k, b.length > 0 ? b : 'y']])

  it('first-wins and last-wins both read the gateway\'s value (payload) or no caller value (query), caller notes intact', () => {
    const value = fc.oneof(fc.string({ unit: 'binary', maxLength: 10 }), fc.constantFrom('\ud800', 'a\udfff', 'é中😀'))
    const cases = fc.sample(fc.record({ entries: withDuplicates, path: fc.constantFrom(['pin'], ['auth', 'pin']), value, charset: fc.constantFrom(...CHARSETS), query: fc.boolean(), note: value }), { seed: 20261206, numRuns: 600 })
    const outs = cases.map((c) => {
      const raw = Buffer.from(objectText([...c.entries, ['note', c.note]]))
      try {
        const ct = `application/json; charset=${c.charset}`
        return c.query ? setJsonFields(raw, [], [c.path], ct) : setJsonFields(raw, [{ key: c.path.join('.'), value: c.value }], [], ct)
      } catch (e) {
        // Only a path through a caller scalar is refused (400): no object to set the field in.
        expect(String(e)).toMatch(/is not an object/)
        return undefined
      }
    })
    const readings = pythonReadings(cases.flatMap((c, i) => (outs[i] === undefined ? [] : [{ body: outs[i] as Buffer, charset: c.charset, path: c.path }])))
    let at = 0
    let set = 0
    cases.forEach((c, i) => {
      if (outs[i] === undefined) return
      const r = readings[at++] as Reading
      expect(r.error, `${c.charset} ${(outs[i] as Buffer).toString('latin1')}`).toBeUndefined()
      const want = c.query ? { absent: true } : { value: c.value }
      expect(r.first).toEqual(want)
      expect(r.last).toEqual(want)
      if (!c.query) set++
      // A note key is never on a path: the caller's text reads the same (\u escapes and all).
      expect(r.doc?.note).toBe(c.note)
    })
    expect(set).toBeGreaterThan(100)
  })

  it('beside a query field, a caller copy on the path that JSON.parse dropped is not passed on as it came', () => {
    const raw = Buffer.from('{"auth":{"acct":"evil"},"auth":{},"x":[1,{"y":2}]}')
    const out = setJsonFields(raw, [], [['auth', 'acct']])
    expect(pythonReadings([{ body: out, charset: 'utf-8', path: ['auth', 'acct'] }])[0]).toMatchObject({ first: { absent: true }, last: { absent: true } })
    // Without duplicates it still goes as it came, byte for byte.
    const plain = Buffer.from('{"auth":{},"x":[1,{"y":2}], "k" : "a\\":"}')
    expect(setJsonFields(plain, [], [['auth', 'acct']])).toBe(plain)
  })

  it('in a Latin-1 body, a key whose bytes read as UTF-8 fold to the field goes too (a backend may ignore the charset)', () => {
    // K (U+212A, Kelvin) is E2 84 AA in UTF-8: read as Latin-1 it is no k, read as UTF-8 a case-insensitive binder's k.
    const out = setJsonFields(Buffer.from('{"\u212ayc":"evil","note":"caf\u00e9"}'), [{ key: 'kyc', value: '42' }], [], 'application/json; charset=ISO-8859-1')
    expect(out.toString('latin1')).toBe('{"note":"cafÃ©","kyc":"42"}')
  })

  it('a UTF-8 body declared ISO-8859-1 loses exactly the caller keys it loses read as UTF-8 (seeded)', () => {
    const key = fc.oneof(fc.constantFrom('kyc', 'KYC', '\u212ayc', '\u212aYC', 'kyC', 'kyc.x', 'note', 'é', 'ß', '\u017f'), fc.string({ unit: 'binary', maxLength: 4 }).map((k) => Buffer.from(k).toString()))
    fc.assert(
      fc.property(fc.uniqueArray(key, { maxLength: 8 }), (keys) => {
        const raw = Buffer.from(JSON.stringify(Object.fromEntries(keys.map((k, i) => [k, i]))))
        const asUtf8 = setJsonFields(raw, [{ key: 'kyc', value: '42' }], [], 'application/json')
        const asLatin1 = setJsonFields(raw, [{ key: 'kyc', value: '42' }], [], 'application/json; charset=iso-8859-1')
        expect(asLatin1.toString()).toBe(asUtf8.toString())
      }),
      { seed: 20261209, numRuns: 3000 },
    )
  })

  it('an ISO-8859-1 form takes a payload field\'s é as %E9, its one octet there', () => {
    expect(encodeFormFields([{ key: 'acct', value: 'é ü*' }], 'application/x-www-form-urlencoded; charset=ISO-8859-1')).toBe('acct=%E9%20%FC%2A')
    expect(encodeFormFields([{ key: 'acct', value: 'é ü*' }], 'application/x-www-form-urlencoded')).toBe('acct=%C3%A9%20%C3%BC%2A')
  })

  it('a field under another field\'s value is refused (400), not a 500', () => {
    expect(() => setJsonFields(Buffer.from('{}'), [{ key: 'a', value: '1' }, { key: 'a.b', value: '2' }])).toThrow(/payload field "a.b": "a" in the JSON body is not an object/)
  })
})
