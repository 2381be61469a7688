/**
 * Generated request targets for the destination-integrity property. Every authority the
 * generator writes names a loopback address (or a configured test name resolved to one).
 */
import fc from 'fast-check'

export type Way = 'forward' | 'route' | 'route_tenant' | 'connect' | 'connect_absolute' | 'path_field' | 'path_field_tenant' | 'claim_fields'

export interface Case {
  way: Way
  /** The raw request target sent on the request line. */
  target: string
  /** Where the request may arrive, if it is not refused. */
  upstream: 'partner' | 'tenanted' | 'fielded' | 'fielded_tenant' | 'claimed'
  /** The path every arrival must stay under, even after a backend normalises it. */
  base: string
  /** Claims of the caller JWT the request carries; authorization fields render them. */
  claims?: Record<string, string>
  /** Path fields: every decoded form must match this (the base path, the placeholder one captured segment). */
  under?: string
}

// Loopback authorities a path might try to smuggle in; canaries listen on each.
const AUTHORITIES = ['127.0.0.1:9999', '[::1]:9999', '127.0.0.2:8443', '[::1]:8443', 'localhost:9999', '127.0.0.1:8446', 'other.partner.test:8444', '127.0.0.1', '127.0.0.1:80']
// With what a backend that folds Unicode (NFKC) reads as dots: fullwidth and small full stops, the dot leaders, a fullwidth "%2e", at one and two encoding depths.
const DOTS = [
  '.', '..', '%2e', '%2E', '%2e%2e', '%2E%2E', '%2e%2E', '.%2e', '.%2E', '%2e.', '%2E.', '..;', '..;x', '.;', '%2e%2e;', '%252e%252e', '%25%32%65%25%32%65', '%c0%ae%c0%ae', '%e0%80%ae%e0%80%ae', '...', '.a', 'a..',
  '%EF%BC%8E%EF%BC%8E', '%ef%bc%8e.', '%E2%80%A5', '%E2%80%A4%E2%80%A4', '%EF%B9%92%EF%B9%92', '%25EF%25BC%258E%25EF%25BC%258E', '%EF%BC%85%EF%BC%92%EF%BD%85%EF%BC%85%EF%BC%92%EF%BD%85', 'v%EF%BC%8E2',
]
// With the fullwidth and small solidi and the slash look-alikes NFKC keeps (U+2215, U+2044).
const SEPARATORS_IN_SEGMENT = [
  '..%2f', '..%2F', '..%5c', '..%5C', '%2e%2e%2f', '%2e%2e%5c', '..\\', '\\..', '%2f..', '%5c..', '%252f..', 'a%2fb', 'a%2Fb', 'a%5cb',
  '..%EF%BC%8F', '%EF%BC%8F..', '..%EF%BC%BC', '..%EF%B9%A8', '..%E2%88%95', '%E2%81%84..', 'a%EF%BC%8Fb', 'a%E2%88%95b',
]
const ODD = ['', '@', 'user@127.0.0.1:9999', ':', '%00', '%0a', '%0d%0a', '%7f', '%2500', '%', '%zz', '%2', '%25', '%3f', '%23', '?', '#', ';', ',', '~', '*', '$', '&', "'", '(', ')', '+', '=', '!', '{{pin}}', '%7B%7Bpin%7D%7D', 'http:', 'https:', 'http:%2f%2f127.0.0.1:9999', '%E2%82%AC', '%ff', '[', ']', '[::1]', '|', '^', '`', '"', '<', '>', '{', '}', '{x}']
// Queries with what the URL parser encodes (`"<>'`), keeps (`^{}|[]`), or reads oddly (a bare "?", a lone "%").
const QUERY_ODD = ["?q='x'", '?a="b"', '?a=<b>', '?a=^{}|`[1]', '?', '?a=%', '?a=%2e%2e/../', "?'"]
const WORDS = ['a', 'v1', 'base', 'items', 't', 'acme', 'globex', 'proxy', 'partner']

const segment: fc.Arbitrary<string> = fc.oneof(
  { weight: 14, arbitrary: fc.constantFrom(...WORDS) },
  { weight: 3, arbitrary: fc.constantFrom(...DOTS) },
  { weight: 2, arbitrary: fc.constantFrom(...SEPARATORS_IN_SEGMENT) },
  { weight: 3, arbitrary: fc.constantFrom(...ODD) },
  { weight: 2, arbitrary: fc.constantFrom(...AUTHORITIES) },
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9._~%-]{1,10}$/) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 6000 }).map((n) => 'a'.repeat(n)) },
)

/** A path as sent: a leading part (maybe `//authority`), segments, a query and a fragment. */
const pathArb: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(
      { weight: 6, arbitrary: fc.constant('/') },
      { weight: 10, arbitrary: fc.constant('/base/') },
      { weight: 2, arbitrary: fc.constantFrom('', '//', '///', '\\', '/\\', '\\\\', '/%2f', '/%5c', '?', '#', '@', '*') },
      { weight: 3, arbitrary: fc.constantFrom(...AUTHORITIES).map((a) => `//${a}/`) },
      { weight: 1, arbitrary: fc.constantFrom(...AUTHORITIES).map((a) => `/\\${a}/`) },
      { weight: 1, arbitrary: fc.constantFrom(...AUTHORITIES).map((a) => `http://${a}/`) },
    ),
    fc.array(segment, { maxLength: 7 }),
    fc.constantFrom('/', '/', '/', '/', '/', '/', '\\', '//'),
    fc.constantFrom('', '', '/', '//'),
    fc.constantFrom('', '', '?a=1', '?next=//127.0.0.1:9999/', '?a=../..', '?#frag', '#x', '?a=%00', '?@127.0.0.1:9999', '?a=1?b=2', '??', '?a=%zz', '?x=\\', ...QUERY_ODD),
  )
  .map(([lead, segs, sep, tail, query]) => lead + segs.join(sep) + (segs.length > 0 ? tail : '') + query)

// Mostly ordinary paths with the characters APIs really use (`@`, `:`, `;`, `%2F`, `%25`…),
// so that a good share of cases arrive and their arrival is judged.
const ordinarySegment = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...WORDS) },
  { weight: 3, arbitrary: fc.constantFrom('@', 'user@127.0.0.1:9999', ':', '127.0.0.1:9999', '[::1]:8443', ';', 'a;b=c', '%2F', 'a%2fb', '%25', '%2500', '~', "'", '$', '+', '=', ',', '.a', 'a..', '...', '%E2%82%AC') },
  // What the URL parser percent-encodes in a path, or keeps: the arrival shows which the gateway sent.
  { weight: 1, arbitrary: fc.constantFrom('^', '{', '}', '`', '"', '<', '>', '|', '[', ']', 'a^b', '{id}') },
  { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9._~-]{1,10}$/) },
)
const ordinaryPath = fc
  .tuple(fc.constantFrom('/base/', '/base/', '/', '/base'), fc.array(ordinarySegment, { maxLength: 5 }), fc.constantFrom('', '', '/', '?a=1', '?next=//127.0.0.1:9999/', '?a=../..', '?@127.0.0.1:9999', '?a=1?b=2', ...QUERY_ODD))
  .map(([lead, segs, tail]) => lead + segs.join('/') + tail)
const anyPath = fc.oneof(pathArb, ordinaryPath)

const forwardAuthority = fc.oneof(
  { weight: 8, arbitrary: fc.constant('api.partner.test:8443') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'API.Partner.TEST:8443', 'user@api.partner.test:8443', 'user:pw@api.partner.test:8443', 'api.partner.test:8443@127.0.0.1:9999',
      '127.0.0.1:9999@api.partner.test:8443', 'api.partner.test', 'api.partner.test:', 'api.partner.test:08443', 'api.partner.test:99999',
      'api.partner.test.:8443', '[::1', '[::1]:8443', '[::127.0.0.1]:8443', '[0:0::1]:9999', '127.0.0.1:8443',
      'api.partner.test:8443:1', '%61pi.partner.test:8443', 'api.partner.test%2f@127.0.0.1:9999', 'api.partner.test\\@127.0.0.1:9999', '',
    ),
  },
  // Not other.partner.test:8444: that names the other configured endpoint, a legitimate destination.
  { weight: 1, arbitrary: fc.constantFrom(...AUTHORITIES.filter((a) => !a.startsWith('other.'))) },
)

const tenantArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('acme', 'ACME', 'globex', 'a-b') },
  { weight: 2, arbitrary: fc.constantFrom('', '..', '.', 'acme%2f..', '%2e%2e', 'acme.globex', 'acme@globex', 'x'.repeat(64), '-acme', 'acme%00', 'ac%6de') },
)

export const caseArbitrary: fc.Arbitrary<Case> = fc.oneof(
  fc.tuple(fc.constantFrom('http://', 'https://', 'HTTP://', 'hTtPs://'), forwardAuthority, anyPath).map(([scheme, authority, path]): Case => ({
    way: 'forward', target: scheme + authority + path, upstream: 'partner', base: '/base',
  })),
  anyPath.map((path): Case => ({ way: 'route', target: `/proxy/partner${path}`, upstream: 'partner', base: '/base' })),
  fc.tuple(tenantArb, anyPath).map(([tenant, path]): Case => {
    // The tenant is what the request line holds up to the first '/', '?' or '#' (the path may extend it).
    const named = /^\/proxy\/tenanted@([^/?#]*)/.exec(`/proxy/tenanted@${tenant}${path}`)?.[1] ?? tenant
    return { way: 'route_tenant', target: `/proxy/tenanted@${tenant}${path}`, upstream: 'tenanted', base: `/t/${named.toLowerCase()}/v1` }
  }),
  anyPath.map((path): Case => ({ way: 'connect', target: path, upstream: 'partner', base: '/base' })),
  fc.tuple(forwardAuthority, anyPath).map(([authority, path]): Case => ({
    way: 'connect_absolute', target: `https://${authority}${path}`, upstream: 'partner', base: '/base',
  })),
)

// Authorization-field values from caller claims: the edge review's escapes, every encoding of a
// separator or dot (percent at several depths, overlong UTF-8, fullwidth and other NFKC forms),
// controls, characters a header cannot carry, lone surrogates, any code unit — and ordinary IDs.
export const REVIEWED_VALUES = ['../../../admin', '..\\..\\..\\admin', '%2e%2e', '../../victim-tenant/acct/42', '.', '..', '1\r\nX-Injected: yes', '\u010d\u010aX-Injected: yes', 'a\u0000b', 'caf€', '\ud800', 'ACC-42/7']
const FIELD_PIECES = [
  '.', '..', '/', '\\', '?', '#', ';', '%2e', '%2E', '%2f', '%2F', '%5c', '%5C', '%3f', '%23', '%252e', '%252f', '%25252e', '%25', '%', '%zz', '%c0%ae', '%e0%80%ae',
  '．', '／', '＼', '？', '‥', '․', '﹒', '%EF%BC%8E', '%ef%bc%8f', 'admin', 'victim-tenant', 'acct', '42', ' ', '\t', '\u0000', '%00', '\r\n', '\n', '\u007f',
  'X-Injected: yes', 'é', '€', '\u010d\u010a', '\ud800', '\udfff', '😀', '%20', '%2520', '\u00a0', '\u3000',
]
/** Values every placement must carry (the request arrives): no refusal may be over-broad. Not ending in a space: a path value may not (backends trim). */
export const ORDINARY_VALUE = /^[A-Za-z0-9](?:[A-Za-z0-9 ._~+@:=,-]{0,14}[A-Za-z0-9._~+@:=,-])?$/
const ordinaryValue: fc.Arbitrary<string> = fc.stringMatching(ORDINARY_VALUE)
export const fieldValueArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: ordinaryValue },
  { weight: 2, arbitrary: fc.constantFrom(...REVIEWED_VALUES) },
  { weight: 5, arbitrary: fc.array(fc.constantFrom(...FIELD_PIECES), { minLength: 1, maxLength: 6 }).map((p) => p.join('')) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), { maxLength: 6 }).map((a) => a.join('')) },
)

const fieldTail = fc.constantFrom('', '/y', '/statement', '/y?z=1')

/** Route-mode requests to endpoints whose path, header and query fields come from the caller's claims. */
export const fieldCaseArbitrary: fc.Arbitrary<Case> = fc.oneof(
  fc.tuple(fieldValueArb, fieldTail).map(([acct, tail]): Case => ({
    way: 'path_field', target: `/proxy/fielded${tail}`, upstream: 'fielded', base: '/d', claims: { acct }, under: '^/d/([^/]+)/x(?:/|$)',
  })),
  fc.tuple(fieldValueArb, fieldTail).map(([acct, tail]): Case => ({
    way: 'path_field_tenant', target: `/proxy/fielded_tenant@acme${tail}`, upstream: 'fielded_tenant', base: '/t/acme/acct', claims: { acct }, under: '^/t/acme/acct/([^/]+)(?:/|$)',
  })),
  fc.tuple(fieldValueArb, fieldValueArb, fieldTail).map(([h, q, tail]): Case => ({
    way: 'claim_fields', target: `/proxy/claimed${tail}`, upstream: 'claimed', base: '', claims: { h, q },
  })),
)

// The specification of what a field may carry, written apart from the code: for a header, what the
// wire carries as-is and every reader reads the same — visible ASCII, with SP/HTAB only inside (a
// non-ASCII character goes out as Latin-1 octets, edge whitespace is not part of a field value) —
// and UTF-16 without a lone surrogate (which has no UTF-8) elsewhere.
export const HEADER_VALUE_AS_IS = /^(?:[\x21-\x7e](?:[\t\x20-\x7e]*[\x21-\x7e])?)?$/
export const isWellFormed = (s: string): boolean => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s)

// Symbols NFKC keeps that read as "/" or "\" (Unicode's confusables): some backends map them so.
const SLASH_LOOKALIKES: Record<string, string> = { '\u2044': '/', '\u2215': '/', '\u29f8': '/', '\u2216': '\\', '\u29f5': '\\', '\u29f9': '\\' }
/** Text as a backend that folds Unicode reads it: NFKC ("．" is "."), the slash look-alikes as "/" and "\". */
export const foldUnicode = (s: string): string => s.normalize('NFKC').replace(/[\u2044\u2215\u29f8\u2216\u29f5\u29f9]/g, (c) => SLASH_LOOKALIKES[c] as string)

/**
 * The paths a normalising backend might act on: the path as sent, then WHATWG resolution
 * (backslashes read as "/") of every text up to three percent-decodings make of it, each text
 * also Unicode-folded (foldUnicode) and decoded on from there ("％２ｅ" folds to "%2e").
 */
export function backendReadings(url: string): string[] {
  const resolve = (p: string): string => new URL(p.replace(/\\/g, '/').replace(/^\/+/, '/'), 'http://x').pathname
  const sent = new URL(url, 'http://x').pathname
  const texts = new Set([sent, foldUnicode(sent)])
  let level = [...texts]
  for (let round = 0; round < 3; round++) {
    const next: string[] = []
    for (const text of level) {
      let decoded: string
      try {
        decoded = decodeURIComponent(text)
      } catch {
        continue // a literal "%" is data from here on
      }
      for (const t of [decoded, foldUnicode(decoded)]) {
        if (texts.has(t)) continue
        texts.add(t)
        next.push(t)
      }
    }
    level = next
  }
  return [sent, ...[...texts].filter((t) => t !== sent).map(resolve)]
}

/**
 * The texts a backend may take one path segment (as sent) for: itself and up to four
 * percent-decodings, each also after NFKC — unresolved, so whitespace a trimming backend would
 * drop is still there to see (backendReadings' URL resolution re-encodes it).
 */
export function segmentTexts(segment: string): string[] {
  const texts = [segment]
  let level = segment
  for (let round = 0; round < 4; round++) {
    try {
      level = decodeURIComponent(level)
    } catch {
      break
    }
    texts.push(level, level.normalize('NFKC'))
  }
  return texts
}
