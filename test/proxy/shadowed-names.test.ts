/**
 * Names the gateway sets cannot be shadowed by a caller's: a header field removes every caller
 * header a CGI-style backend keys the same (`X_Alpha_Secret` beside `X-Alpha-Secret`); a query or
 * form field removes every caller parameter a common parser reads as the same name (`;acct=`,
 * `acct%00=`, `ac%63t=`, `acct[]=`, `ACCT=`…), keeping the others byte for byte; and an endpoint
 * signed with OAuth 1.0a refuses a request carrying OAuth protocol parameters of its own. Judged
 * as seeded properties against the parser models of parser-models.ts, besides the review's examples.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseTemplate } from '../../src/config/index.js'
import { GatewayError, STATUS } from '../../src/errors.js'
import { compileDestination, type CompiledField, type Endpoint } from '../../src/gateway/index.js'
import { createSigner, percentEncode, type Placement } from '../../src/oauth1/index.js'
import type { Admitted, OutboundHeaders } from '../../src/proxy/pipeline.js'
import { applyAuthorization } from '../../src/proxy/steps/apply-authorization.js'
import { createSignOAuth1 } from '../../src/proxy/steps/sign-oauth1.js'
import { buildUpstreamTarget, toOutboundUrl } from '../../src/proxy/upstream-target.js'
import { cgiVariable, namesRead, QUERY_MODELS, valuesRead } from './parser-models.js'

const FORM = 'application/x-www-form-urlencoded'
const field = (type: CompiledField['type'], key: string, value: string): CompiledField => ({ type, key, template: parseTemplate(value) })

interface Setup {
  fields?: CompiledField[]
  query?: string
  headers?: OutboundHeaders
  body?: string
  placement?: Placement
}

/** A routed, admitted request as the pipeline hands it to the steps. */
function admitted(s: Setup): Admitted {
  const url = 'https://api.partner.test/b'
  const signer = s.placement && createSigner({ consumerKey: 'ck', consumerSecret: 'cs', signatureMethod: 'HMAC-SHA1', placement: s.placement })
  const profile = signer && { name: 'p', config: { signatureMethod: 'HMAC-SHA1', placement: s.placement }, signer }
  const endpoint = { name: 'ep', url, config: {}, fields: s.fields ?? [], destination: compileDestination(url, undefined), profile } as unknown as Endpoint
  const target = buildUpstreamTarget(endpoint, undefined, '/y', s.query ?? '', 'append')
  let bytes: Buffer | undefined = s.body === undefined ? undefined : Buffer.from(s.body)
  const headers: OutboundHeaders = { ...(s.headers ?? {}), ...(s.body !== undefined ? { 'content-type': FORM } : {}) }
  const body = { get present() { return bytes !== undefined }, get buffered() { return bytes }, stream: undefined, bytes: async () => bytes ?? Buffer.alloc(0), replace: (b: Buffer) => { bytes = b } }
  return { endpoint, target, caller: { appId: 'bot', claims: {} }, auth: {}, outbound: { method: 'POST', url: toOutboundUrl(target), headers, body } } as unknown as Admitted
}

async function run(ctx: Admitted): Promise<GatewayError | undefined> {
  try {
    await applyAuthorization.run(ctx)
    await createSignOAuth1().run(ctx)
    return undefined
  } catch (err) {
    if (err instanceof GatewayError) return err
    throw err
  }
}

const sentQuery = (ctx: Admitted): string => ctx.outbound.url.search.slice(1)
const sentBody = async (ctx: Admitted): Promise<string> => (await ctx.outbound.body.bytes()).toString('utf8')

describe('header fields', () => {
  it('remove the review\'s shadows: a caller header a CGI backend keys as HTTP_X_ALPHA_SECRET', async () => {
    const ctx = admitted({ fields: [field('header', 'x-alpha-secret', 'gateway-secret')], headers: { x_alpha_secret: 'caller', 'x-alpha_secret': 'c2', 'X-Alpha-Secret': 'c3', 'x.alpha~secret': 'c4', 'x-alpha-secrets': 'keep', accept: 'keep' } })
    expect(await run(ctx)).toBeUndefined()
    expect(ctx.outbound.headers).toEqual({ 'x-alpha-secret': 'gateway-secret', 'x-alpha-secrets': 'keep', accept: 'keep' })
  })

  const TOKEN_CHARS = ['-', '_', '.', '~', '!', '#', '$', '%', '&', "'", '*', '+', '^', '`', '|']
  const variant = fc.tuple(fc.array(fc.boolean(), { minLength: 14, maxLength: 14 }), fc.constantFrom(...TOKEN_CHARS), fc.constantFrom(...TOKEN_CHARS)).map(([upper, a, b]) =>
    [...`x${a}alpha${b}secret`].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(''))
  const unrelated = fc.constantFrom('accept', 'x-alpha', 'x-alpha-secrets', 'x-alphasecret', 'xalpha-secret', 'x-request-id', 'x-alpha-secret2', 'content-type')
  it('for any caller header names: only the gateway\'s value is keyed HTTP_X_ALPHA_SECRET, and every other header stays (3,000 cases)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.oneof(variant, unrelated), { maxLength: 8 }), async (names) => {
        const headers = Object.fromEntries(names.map((n, i) => [n, `caller-${i}`]))
        const ctx = admitted({ fields: [field('header', 'x-alpha-secret', 'gateway-secret')], headers })
        expect(await run(ctx)).toBeUndefined()
        const sent = Object.entries(ctx.outbound.headers)
        expect(sent.filter(([n]) => cgiVariable(n) === 'HTTP_X_ALPHA_SECRET')).toEqual([['x-alpha-secret', 'gateway-secret']])
        for (const [n, v] of Object.entries(headers)) if (cgiVariable(n) !== 'HTTP_X_ALPHA_SECRET') expect(ctx.outbound.headers[n]).toBe(v)
      }),
      { seed: 20261801, numRuns: 3000 },
    )
  })
})

// Caller spellings of a name: cased, percent-encoded (once or twice), bracketed, padded, cut by NUL, PHP-mangled, ";"-separated;
// for a nested name (`filter[acct]`) also of the key that contains it (`filter`).
function spellings(name: string): fc.Arbitrary<string> {
  const parent = name.split('[')[0] as string
  return parent === name ? spellingsOf(name) : fc.oneof(spellingsOf(name), spellingsOf(parent))
}

function spellingsOf(name: string): fc.Arbitrary<string> {
  const encodeSome = (s: string, mask: boolean[], twice: boolean): string => [...s].map((c, i) => (mask[i % mask.length] ? (twice ? `%25${c.charCodeAt(0).toString(16)}` : `%${c.charCodeAt(0).toString(16)}`) : c)).join('')
  return fc.oneof(
    fc.constant(name),
    fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }).map((m) => [...name].map((c, i) => (m[i % m.length] ? c.toUpperCase() : c)).join('')),
    fc.tuple(fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), fc.boolean()).map(([m, twice]) => encodeSome(name, m, twice)),
    fc.constantFrom('[]', '[x]', '[0][y]', '%5B%5D', '[', ']').map((s) => name + s),
    fc.constantFrom('[', '[[', ']', '%5B').map((s) => `${s + name}]`),
    fc.constantFrom('%20', '+', '%09', '%00', '%00junk', '%2500', '%20%20').map((s) => name + s),
    fc.constantFrom('%20', '+', '%09', '+%20').map((s) => s + name),
    fc.constant(name.replace(/_/g, '.')),
    fc.constant(name.replace(/_/g, '+')),
    fc.constant(name.replace(/_/g, '%2E')),
    // System.Web's %uXXXX escapes (classic ASP.NET decodes them): some letters, or all.
    fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }).map((m) => [...name].map((c, i) => (m[i % m.length] ? `%u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c)).join('')),
    // Letters ASP.NET's case folding reads as i and s.
    fc.constant(name.replace(/i/g, '%C4%B1').replace(/s/g, '%C5%BF')),
  )
}

const UNRELATED_NAMES = ['page', 'q', 'zz[]', 'Page.No', 'accts', 'acc', 'x_acct', 'acct2', 'id', 'sort%5Bby%5D', 'filter[status]', 'x[acct]']
// No "'": the outbound URL spells it %27 before any step runs (docs/paths.md).
const value = fc.stringMatching(/^[A-Za-z0-9%=,:@/?.~*!$()-]{0,8}$/)
/** A caller query: variants of `name` mixed with unrelated pairs (tagged), joined by "&" or ";". */
function callerQuery(name: string): fc.Arbitrary<{ text: string; unrelated: string[] }> {
  const piece = fc.oneof(
    fc.tuple(spellings(name), value).map(([n, v]) => ({ text: `${n}=${v}`, unrelated: false })),
    fc.tuple(fc.constantFrom(...UNRELATED_NAMES), value).map(([n, v]) => ({ text: `${n}=${v}`, unrelated: true })),
    spellings(name).map((n) => ({ text: n, unrelated: false })),
  )
  return fc.tuple(fc.array(piece, { maxLength: 7 }), fc.array(fc.constantFrom('&', '&', ';'), { minLength: 7, maxLength: 7 })).map(([pieces, seps]) => ({
    text: pieces.map((p, i) => (i === 0 ? '' : seps[i]) + p.text).join(''),
    unrelated: pieces.filter((p) => p.unrelated).map((p) => p.text),
  }))
}

/** The pieces of a query in order ("&" and ";" both separate). */
const piecesOf = (text: string): string[] => text.split(/[&;]/).filter((p) => p !== '')

/** Each piece with the delimiter before it ('' for the first). */
const delimited = (text: string): string[] => text.split(/(?=[&;])/).filter((p) => p !== '')

/** What is sent after the gateway's own pair (it goes first: parameter-limits.test.ts) is the caller's text with pieces left out, every kept piece with its own delimiter. */
function expectKeptInPlace(caller: string, sent: string): void {
  const kept = delimited(sent).slice(1).map((t, i) => (i === 0 ? t.replace(/^&/, '') : t))
  const input = delimited(caller)
  let at = 0
  kept.forEach((token, i) => {
    const match = (t: string): boolean => t === token || (i === 0 && t.replace(/^[&;]/, '') === token.replace(/^[&;]/, ''))
    while (at < input.length && !match(input[at] as string)) at++
    expect(at < input.length, `${caller} → ${sent}: "${token}" is not the caller's, in place`).toBe(true)
    at++
  })
}

describe('query fields', () => {
  it('remove the review\'s shadows (;acct=, acct%00=, ac%63t=, acct[]=, ACCT=…), keeping unrelated parameters byte for byte', async () => {
    const ctx = admitted({ fields: [field('query', 'acct', 'gw')], query: '?x=1%2F2;acct=a&acct%00=b&ac%63t=c&acct[]=d&ACCT=e&+acct=f&acct.=g&[acct]=h&ac%2563t=i&acct&y=%7E' })
    expect(await run(ctx)).toBeUndefined()
    // "acct." is another name everywhere (PHP reads "acct_"): it stays.
    expect(sentQuery(ctx)).toBe('acct=gw&x=1%2F2&acct.=g&y=%7E')
    // PHP reads "acct.x" and "acct x" as "acct_x", Rails "acct_x[]" as "acct_x".
    const php = admitted({ fields: [field('query', 'acct_x', 'gw')], query: '?acct.x=1&acct%20x=2&acct[x=3&acct_x[]=4&acct-x=keep' })
    expect(await run(php)).toBeUndefined()
    expect(sentQuery(php)).toBe('acct_x=gw&acct-x=keep')    // A nested field: its own key and what contains it go, a sibling key stays.
    const nested = admitted({ fields: [field('query', 'filter[acct]', 'gw')], query: '?filter[status]=open&filter=x&filter[acct]=y&filter[acct][]=z&FILTER%5Bacct%5D=w&filter[]=keep' })
    expect(await run(nested)).toBeUndefined()
    expect(sentQuery(nested)).toBe('filter%5Bacct%5D=gw&filter[status]=open&filter[]=keep')
    // Each piece keeps the delimiter before it.
    const semi = admitted({ fields: [field('query', 'acct', 'gw')], query: '?acct=0;a=1;acct=2;b=3&c=4;ACCT=5' })
    expect(await run(semi)).toBeUndefined()
    expect(sentQuery(semi)).toBe('acct=gw&a=1;b=3&c=4')
    // System.Web (classic ASP.NET) decodes %uXXXX: %u0061cct is acct there, and so is %U0041CCT.
    const u = admitted({ fields: [field('query', 'acct', 'gw')], query: '?%u0061cct=a&%U0041CCT=b&ac%u0063t=c&%u0061ccts=keep' })
    expect(await run(u)).toBeUndefined()
    expect(sentQuery(u)).toBe('acct=gw&%u0061ccts=keep')
  })

  for (const key of ['acct', 'acct_id', 'Acct.No', 'filter[acct]']) {
    it(`for any caller query: every parser model reads exactly the gateway's value for "${key}", and unrelated pairs keep their bytes (4,000 cases)`, async () => {
      await fc.assert(
        fc.asyncProperty(callerQuery(key), fc.stringMatching(/^[A-Za-z0-9 &;=%+[\]-]{0,8}$/), async (q, v) => {
          const ctx = admitted({ fields: [field('query', key, v)], query: q.text === '' ? '' : `?${q.text}` })
          expect(await run(ctx)).toBeUndefined()
          const sent = sentQuery(ctx)
          for (const model of QUERY_MODELS) expect(valuesRead(model, sent, percentEncode(key)), `${model.name}: ?${q.text} → ?${sent}`).toEqual([v])
          expect(piecesOf(sent).filter((p) => q.unrelated.includes(p))).toEqual(q.unrelated)
          expectKeptInPlace(q.text, sent)
        }),
        { seed: 20261802, numRuns: 4000 },
      )
    })
  }

  it('form payload fields obey the same rule (3,000 cases)', async () => {
    await fc.assert(
      fc.asyncProperty(callerQuery('acct'), async (q) => {
        const ctx = admitted({ fields: [field('payload', 'acct', 'gw v')], body: q.text })
        expect(await run(ctx)).toBeUndefined()
        const sent = await sentBody(ctx)
        for (const model of QUERY_MODELS) expect(valuesRead(model, sent, 'acct'), `${model.name}: ${q.text} → ${sent}`).toEqual(['gw v'])
        expect(piecesOf(sent).filter((p) => q.unrelated.includes(p))).toEqual(q.unrelated)
      }),
      { seed: 20261803, numRuns: 3000 },
    )
  })
})

describe('OAuth 1.0a protocol parameters', () => {
  const refusalOf = (err: GatewayError | undefined): string => {
    expect(err).toBeInstanceOf(GatewayError)
    expect(STATUS[(err as GatewayError).reason]).toBe(400)
    return (err as GatewayError).message
  }

  it('a caller\'s own oauth_* query or form parameter, or Authorization: OAuth header beside query/body placement, is a 400 naming it', async () => {
    for (const query of ['?oauth_token=evil', '?a=1&oauth_callback=https%3A%2F%2Fevil', '?x=1;oauth_token=e', '?OAUTH_TOKEN=e', '?oauth%5Ftoken=e', '?oauth_token[]=e', '?oauth.token=e', '?%20oauth_signature=e']) {
      for (const placement of ['header', 'query', 'body'] as const) {
        const msg = refusalOf(await run(admitted({ query, placement, body: placement === 'body' ? 'a=1' : undefined })))
        expect(msg).toMatch(/^endpoint "ep" is signed by the gateway with OAuth 1\.0a, which sets every OAuth protocol parameter: the request may not carry its own \(query parameter ".+"\)$/)
      }
    }
    expect(refusalOf(await run(admitted({ body: 'a=1&oauth_token=evil', placement: 'header' })))).toMatch(/form-body parameter "oauth_token"/)
    expect(refusalOf(await run(admitted({ headers: { authorization: 'OAuth oauth_token="evil"' }, placement: 'query' })))).toMatch(/"Authorization: OAuth …" header/)
    // With header placement the gateway's header replaces it; another scheme is the caller's own.
    const replaced = admitted({ headers: { authorization: 'OAuth oauth_token="evil"' }, placement: 'header' })
    expect(await run(replaced)).toBeUndefined()
    expect(String(replaced.outbound.headers.authorization)).not.toContain('evil')
    expect(await run(admitted({ headers: { authorization: 'Basic eDp5' }, placement: 'query' }))).toBeUndefined()
  })

  it('an endpoint\'s own oauth_-named fields and a caller\'s ordinary parameters pass', async () => {
    expect(await run(admitted({ query: '?oauthx=1&my_oauth_token=2&page=3', placement: 'query' }))).toBeUndefined()
    const own = admitted({ fields: [field('payload', 'oauth_extra', 'v')], body: 'a=1', placement: 'header' })
    expect(await run(own)).toBeUndefined()
    expect(await sentBody(own)).toBe('oauth_extra=v&a=1')
    // A raw "[" (PHP's ids[]) goes percent-encoded, once: every parser reads the same names, oauthlib too.
    const brackets = admitted({ fields: [field('query', 'acct', 'gw')], query: '?ids[]=1&f%5Ba%5D=2', body: 'tags[]=x y', placement: 'query' })
    expect(await run(brackets)).toBeUndefined()
    expect(sentQuery(brackets)).toMatch(/^(oauth_\w+=[^&]*&)+acct=gw&ids%5B%5D=1&f%5Ba%5D=2$/)
    expect(await sentBody(brackets)).toBe('tags%5B%5D=x%20y')
  })

  it('for any caller query and form body: refused, or no parser model reads a caller name as oauth_* (4,000 cases)', async () => {
    const ordinary = fc.constantFrom('page', 'q', 'oauthx', 'x_oauth_token', 'Page.No', 'ids[]')
    const mixed = fc.tuple(fc.oneof(callerQuery('oauth_token'), callerQuery('oauth_callback')), ordinary, fc.boolean()).map(([q, o, plain]) => (plain ? `${o}=1` : q.text))
    await fc.assert(
      fc.asyncProperty(mixed, mixed, fc.constantFrom<Placement>('header', 'query', 'body'), async (query, body, placement) => {
        const err = await run(admitted({ query: query === '' ? '' : `?${query}`, body, placement }))
        const callerOAuth = [...namesRead(query), ...namesRead(body)].some((n) => n.startsWith('oauth_'))
        if (callerOAuth) expect(err, `?${query} / ${body} carries a caller oauth_ name`).toBeInstanceOf(GatewayError)
        // A caller's oauth_* is the refusal; else only a query or body with octets verifiers read
        // differently (signed-form-bytes and signed-query-bytes tests) is refused: a non-UTF-8 escape,
        // a raw byte above 7F, a bad "%". A raw "[" (ids[]=1) is sent as %5B, not refused.
        const unverifiable = !callerOAuth && [query, body].some((t) => /%[89a-f][0-9a-f]|[^\x00-\x7f]|%([^0-9a-f]|[0-9a-f][^0-9a-f])/i.test(t))
        if (/^(page|q|oauthx|x_oauth_token|Page\.No|ids\[\])=1$/.test(query) && /^(page|q|oauthx|x_oauth_token|Page\.No|ids\[\])=1$/.test(body)) expect(err).toBeUndefined()
        if (unverifiable) expect(err).toBeInstanceOf(GatewayError)
        if (err !== undefined) expect(refusalOf(err)).toMatch(unverifiable ? /^endpoint "ep" is signed (by the gateway )?with OAuth 1\.0a/ : /^endpoint "ep" is signed by the gateway with OAuth 1\.0a/)
      }),
      { seed: 20261804, numRuns: 4000 },
    )
  })
})
