/**
 * A form body the gateway edits (payload fields added, a query field's same-name parameters
 * removed) keeps every other parameter's bytes, raw non-ASCII bytes included: a form declared
 * `charset=iso-8859-1` (accepted) may carry `é` as the byte E9, which read as UTF-8 and written
 * back became EF BF BD, another value to the backend. Caller parameters a backend reads as the
 * field's name still go, however their raw bytes decode (UTF-8 or Latin-1).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseTemplate } from '../../src/config/index.js'
import { compileDestination, type CompiledField, type Endpoint } from '../../src/gateway/index.js'
import type { Admitted } from '../../src/proxy/pipeline.js'
import { applyAuthorization } from '../../src/proxy/steps/apply-authorization.js'
import { buildUpstreamTarget, toOutboundUrl } from '../../src/proxy/upstream-target.js'

const URL_TEMPLATE = 'https://api.partner.test/d'
const FORM = 'application/x-www-form-urlencoded; charset=iso-8859-1'

function admitted(type: 'query' | 'payload', body: Buffer, key = 'acct'): { ctx: Admitted; sent: () => Buffer } {
  const fields: CompiledField[] = [{ type, key, template: parseTemplate('{{claims.acct}}') }]
  const endpoint = { name: 'ep', url: URL_TEMPLATE, config: {}, fields, destination: compileDestination(URL_TEMPLATE, undefined) } as unknown as Endpoint
  const target = buildUpstreamTarget(endpoint, undefined, '/x', '', 'append')
  let bytes = body
  const outbound = {
    method: 'POST',
    url: toOutboundUrl(target),
    headers: { 'content-type': FORM },
    body: { present: true, get buffered() { return bytes }, stream: undefined, bytes: async () => bytes, replace: (b: Buffer) => { bytes = b }, sent: () => bytes },
  }
  const ctx = { endpoint, target, tenant: undefined, caller: { appId: 'bot', claims: { acct: '42' } }, auth: {}, outbound } as unknown as Admitted
  return { ctx, sent: () => bytes }
}

/** Raw bytes of a parameter value: anything but the separators `&`, `;` and `=`. */
const rawValue = fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a.filter((b) => b !== 0x26 && b !== 0x3b && b !== 0x3d)))
const piece = (name: string, value: Buffer): Buffer => Buffer.concat([Buffer.from(`${name}=`), value])

describe('form bodies the gateway edits', () => {
  it('keep the other parameters\' bytes exactly (seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('query' as const, 'payload' as const), rawValue, rawValue, async (type, a, b) => {
        const body = Buffer.concat([piece('a', a), Buffer.from('&'), piece('acct', Buffer.from('victim')), Buffer.from('&'), piece('b', b)])
        const { ctx, sent } = admitted(type, body)
        await applyAuthorization.run(ctx)
        const kept = Buffer.concat([piece('a', a), Buffer.from('&'), piece('b', b)])
        expect(sent().toString('hex')).toBe((type === 'payload' ? Buffer.concat([Buffer.from('acct=42&'), kept]) : kept).toString('hex'))
      }),
      { seed: 20261206, numRuns: 1000 },
    )
  })

  it('a Latin-1 é stays the byte E9', async () => {
    const { ctx, sent } = admitted('payload', Buffer.concat([Buffer.from('name=Ren'), Buffer.from([0xe9]), Buffer.from('&acct=victim')]))
    await applyAuthorization.run(ctx)
    expect(sent().toString('hex')).toBe(Buffer.concat([Buffer.from('acct=42&name=Ren'), Buffer.from([0xe9])]).toString('hex'))
  })

  it('still remove a caller name read as the field\'s in UTF-8 or in Latin-1', async () => {
    const cases: [string, Buffer][] = [
      ['acct', Buffer.from('ACCT')],
      ['acct', Buffer.from('acct[]')],
      ['acct', Buffer.from('ac%63t')],
      ['acct', Buffer.concat([Buffer.from('acct'), Buffer.from([0x00, 0xe9])])],
      // UTF-8: the long s ſ (C5 BF) upper-cases to S.
      ['pass', Buffer.from('pa\u017f\u017f', 'utf8')],
      // Latin-1: ß (DF) upper-cases to SS.
      ['pass', Buffer.from([0x70, 0x61, 0xdf])],
    ]
    for (const [key, name] of cases) {
      const { ctx, sent } = admitted('query', Buffer.concat([name, Buffer.from('=victim&x=1')]), key)
      await applyAuthorization.run(ctx)
      expect(sent().toString('latin1'), `${key} ${name.toString('hex')}`).toBe('x=1')
    }
  })
})
