/**
 * Generated request targets for the destination-integrity property. Every authority the
 * generator writes names a loopback address (or a configured test name resolved to one).
 */
import fc from 'fast-check'

export type Way = 'forward' | 'route' | 'route_tenant' | 'connect' | 'connect_absolute'

export interface Case {
  way: Way
  /** The raw request target sent on the request line. */
  target: string
  /** Where the request may arrive, if it is not refused. */
  upstream: 'partner' | 'tenanted'
  /** The path every arrival must stay under, even after a backend normalises it. */
  base: string
}

// Loopback authorities a path might try to smuggle in; canaries listen on each.
const AUTHORITIES = ['127.0.0.1:9999', '[::1]:9999', '127.0.0.2:8443', '[::1]:8443', 'localhost:9999', '127.0.0.1:8446', 'other.partner.test:8444', '127.0.0.1', '127.0.0.1:80']
const DOTS = ['.', '..', '%2e', '%2E', '%2e%2e', '%2E%2E', '%2e%2E', '.%2e', '.%2E', '%2e.', '%2E.', '..;', '..;x', '.;', '%2e%2e;', '%252e%252e', '%25%32%65%25%32%65', '%c0%ae%c0%ae', '%e0%80%ae%e0%80%ae', '...', '.a', 'a..']
const SEPARATORS_IN_SEGMENT = ['..%2f', '..%2F', '..%5c', '..%5C', '%2e%2e%2f', '%2e%2e%5c', '..\\', '\\..', '%2f..', '%5c..', '%252f..', 'a%2fb', 'a%2Fb', 'a%5cb']
const ODD = ['', '@', 'user@127.0.0.1:9999', ':', '%00', '%0a', '%0d%0a', '%7f', '%2500', '%', '%zz', '%2', '%25', '%3f', '%23', '?', '#', ';', ',', '~', '*', '$', '&', "'", '(', ')', '+', '=', '!', '{{pin}}', '%7B%7Bpin%7D%7D', 'http:', 'https:', 'http:%2f%2f127.0.0.1:9999', '%E2%82%AC', '%ff', '[', ']', '[::1]', '|', '^', '`', '"', '<', '>']
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
    fc.constantFrom('', '', '?a=1', '?next=//127.0.0.1:9999/', '?a=../..', '?#frag', '#x', '?a=%00', '?@127.0.0.1:9999', '?a=1?b=2', '??', '?a=%zz', '?x=\\'),
  )
  .map(([lead, segs, sep, tail, query]) => lead + segs.join(sep) + (segs.length > 0 ? tail : '') + query)

// Mostly ordinary paths with the characters APIs really use (`@`, `:`, `;`, `%2F`, `%25`…),
// so that a good share of cases arrive and their arrival is judged.
const ordinarySegment = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...WORDS) },
  { weight: 3, arbitrary: fc.constantFrom('@', 'user@127.0.0.1:9999', ':', '127.0.0.1:9999', '[::1]:8443', ';', 'a;b=c', '%2F', 'a%2fb', '%25', '%2500', '~', "'", '$', '+', '=', ',', '.a', 'a..', '...', '%E2%82%AC') },
  { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9._~-]{1,10}$/) },
)
const ordinaryPath = fc
  .tuple(fc.constantFrom('/base/', '/base/', '/', '/base'), fc.array(ordinarySegment, { maxLength: 5 }), fc.constantFrom('', '', '/', '?a=1', '?next=//127.0.0.1:9999/', '?a=../..', '?@127.0.0.1:9999', '?a=1?b=2'))
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
