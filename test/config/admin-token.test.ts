/**
 * callers.adminToken opens the operator routes (revocation, profile tests, authorize links for any
 * user): a short one is refused at load, like the console's token, throttle or not (a throttle
 * slows guessing; it does not make a short token long).
 * The rule reads the resolved value, so a `${env:…}` reference is judged by what it names.
 */
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { configProblems } from '../support/config-problems.js'

const config = (token: string): string => `listen: { host: 127.0.0.1 }\ncallers:\n  adminToken: ${token}\nendpoints: []\n`

describe('callers.adminToken', () => {
  it('is refused under 16 characters, at its line and key', () => {
    expect(configProblems(() => parseConfig('/etc/gw/gateway.yaml', config('fifteen-chars-x')))).toEqual(['callers.adminToken: must NOT have fewer than 16 characters'])
    expect(parseConfig('/etc/gw/gateway.yaml', config('sixteen-chars-xx')).callers.adminToken).toBe('sixteen-chars-xx')
  })

  it('judges the value a reference names', () => {
    process.env.MTLSGW_ADMIN_TOKEN_TEST = 'short'
    try {
      expect(configProblems(() => parseConfig('/etc/gw/gateway.yaml', config('${env:MTLSGW_ADMIN_TOKEN_TEST}')))).toEqual(['callers.adminToken: must NOT have fewer than 16 characters'])
      process.env.MTLSGW_ADMIN_TOKEN_TEST = 'a-long-enough-operator-token'
      expect(parseConfig('/etc/gw/gateway.yaml', config('${env:MTLSGW_ADMIN_TOKEN_TEST}')).callers.adminToken).toBe('a-long-enough-operator-token')
    } finally {
      delete process.env.MTLSGW_ADMIN_TOKEN_TEST
    }
  })
})
