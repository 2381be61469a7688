/**
 * The console's "ways in" cell names only the ways in listen.waysIn serves: an operator who
 * published route mode alone is not told callers may proxy or CONNECT to the partner's host.
 */
import { describe, expect, it } from 'vitest'
import { waysInText } from '../../src/console/endpoints.js'

describe('console endpoints: ways in', () => {
  it.each([
    [['forward', 'connect', 'route', 'api'], '/proxy/partner/ · proxy or CONNECT to api.partner.test:8443'],
    [['route', 'api'], '/proxy/partner/'],
    [['connect'], 'CONNECT to api.partner.test:8443'],
    [['forward', 'api'], 'proxy to api.partner.test:8443'],
    [['api'], 'none (listen.waysIn serves no proxied way in)'],
  ] as const)('%j → %s', (ways, text) => {
    expect(waysInText('partner', 'api.partner.test:8443', ways)).toBe(text)
  })
})
