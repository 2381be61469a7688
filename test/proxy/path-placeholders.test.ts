/**
 * A path field fills only the placeholders of the endpoint's configured path — the URL's in route
 * mode (append), pathPrefix's on the forward proxy and in CONNECT tunnels (as_is) — found once per
 * endpoint. A `{{key}}` the caller writes anywhere else (after the base path, in any spelling) is
 * the caller's text and is sent as such, braces percent-encoded as any "{" is: never the value.
 * The expected path is computed here from the configured template, apart from src/.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseTemplate } from '../../src/config/index.js'
import { GatewayError, STATUS } from '../../src/errors.js'
import { compileDestination, type CompiledField, type Endpoint } from '../../src/gateway/index.js'
import type { Admitted } from '../../src/proxy/pipeline.js'
import { applyAuthorization } from '../../src/proxy/steps/apply-authorization.js'
import { assertDestination, buildUpstreamTarget, toOutboundUrl, type Placement } from '../../src/proxy/upstream-target.js'

interface Shape {
  /** The endpoint URL (route mode) or origin + pathPrefix (forward proxy, CONNECT). */
  url: string
  prefix?: string
  placement: Placement
  tenant?: string
  keys: string[]
}

const SHAPES: Shape[] = [
  { url: 'https://api.partner.test/d/{{acct}}/x', placement: 'append', keys: ['acct'] },
  { url: 'https://api.partner.test/t/{tenant}/acct/{{acct}}', placement: 'append', tenant: 'acme', keys: ['acct'] },
  { url: 'https://api.partner.test/a-{{acct}}-b/{{acct}}/c', placement: 'append', keys: ['acct'] },
  { url: 'https://api.partner.test/m/{{acct}}.{{other}}', placement: 'append', keys: ['acct', 'other'] },
  { url: 'https://api.partner.test', prefix: '/d/{{acct}}', placement: 'as_is', keys: ['acct'] },
  { url: 'https://api.partner.test', prefix: '/p/{{acct}}/q/x{{acct}}', placement: 'as_is', keys: ['acct'] },
  { url: 'https://api.partner.test', prefix: '/m/{{other}}/{{acct}}', placement: 'as_is', keys: ['acct', 'other'] },
]

/** Route mode's request path is at least "/" (`/proxy/ep` alone is `/proxy/ep/`). */
const routeTail = (tail: string): string => (tail === '' ? '/' : tail)

function admitted(shape: Shape, tail: string, values: Record<string, string>): Admitted {
  const fields: CompiledField[] = shape.keys.map((key) => ({ type: 'path', key, template: parseTemplate(`{{claims.${key}}}`) }))
  const endpoint = { name: 'ep', url: shape.url, config: {}, fields, destination: compileDestination(shape.url, shape.prefix) } as unknown as Endpoint
  const requestPath = shape.placement === 'append' ? routeTail(tail) : `${shape.prefix ?? ''}${tail}`
  const target = buildUpstreamTarget(endpoint, shape.tenant, requestPath, '', shape.placement)
  const outbound = { method: 'GET', url: toOutboundUrl(target), headers: {}, body: { present: false, bytes: async () => Buffer.alloc(0), replace: () => undefined } }
  return { endpoint, target, tenant: shape.tenant, caller: { appId: 'bot', claims: values }, auth: {}, outbound } as unknown as Admitted
}

async function outcome(ctx: Admitted): Promise<GatewayError | undefined> {
  try {
    await applyAuthorization.run(ctx)
    assertDestination(ctx.target, ctx.outbound.url)
    return undefined
  } catch (err) {
    if (err instanceof GatewayError) return err
    throw err
  }
}

/** RFC 3986 percent-encoding of everything but unreserved characters. */
const encode = (v: string): string => encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

/** The path that must be sent: the configured template filled in one pass, then the caller's tail as a URL spells it. */
function expectedPath(shape: Shape, tail: string, values: Record<string, string>): string {
  const template = shape.placement === 'append' ? new URL(shape.url.replace('{tenant}', shape.tenant ?? '')).pathname.replace(/%7B%7B(\w+)%7D%7D/g, '{{$1}}') : shape.prefix ?? ''
  const filled = template.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => (key in values ? encode(values[key] as string) : whole))
  return new URL(`https://x${filled}${tail}`).pathname
}

// The caller's placeholders, in every spelling, and near ones; values that spell placeholders too.
const CALLER_SEGMENTS = ['{{acct}}', '%7B%7Bacct%7D%7D', '%7b%7bacct%7d%7d', 'x{{acct}}y', '{{other}}', '%7B%7Bother%7D%7D', '{{acct}}{{acct}}', '{{ACCT}}', '{acct}', '{{acct', 'acct', 'plain', '%7B%7Bacct}}']
const tailArb = fc.array(fc.constantFrom(...CALLER_SEGMENTS), { maxLength: 4 }).chain((segs) => fc.constantFrom('', '/').map((end) => (segs.length === 0 ? end : `/${segs.join('/')}${end}`)))
const valueArb = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 ._~+@:=,-]{0,10}[A-Za-z0-9]$/) },
  { weight: 2, arbitrary: fc.constantFrom('{{acct}}', '{{other}}', '%7B%7Bacct%7D%7D', 'é€', 'a{b}c', 'ACC42') },
)

describe('path fields fill only the configured placeholders', () => {
  it('the review\'s example: /proxy/ep/anything/{{acct}} sends the caller\'s text, not the account', async () => {
    const shape = SHAPES[0] as Shape
    const ctx = admitted(shape, '/anything/{{acct}}/%7B%7Bacct%7D%7D', { acct: 'ACC42' })
    expect(await outcome(ctx)).toBeUndefined()
    expect(ctx.outbound.url.pathname).toBe('/d/ACC42/x/anything/%7B%7Bacct%7D%7D/%7B%7Bacct%7D%7D')
  })

  it('a field whose placeholder the configured path lacks is a 400 naming it, even when the caller writes one', async () => {
    for (const shape of [{ url: 'https://api.partner.test/plain', placement: 'append', keys: ['acct'] }, { url: 'https://api.partner.test/d/{{acct}}', placement: 'as_is', keys: ['acct'] }] as Shape[]) {
      const err = await outcome(admitted(shape, '/d/{{acct}}', { acct: 'ACC42' }))
      expect(err, shape.url).toBeInstanceOf(GatewayError)
      expect(STATUS[(err as GatewayError).reason]).toBe(400)
      expect((err as GatewayError).message).toMatch(/^path field "acct": the endpoint's configured path .* has no \{\{acct\}\} placeholder/)
    }
  })

  it('for any caller path with placeholders in every position, both placements: the values exactly at the configured positions, the caller\'s text everywhere else (6,000 cases)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...SHAPES), tailArb, valueArb, valueArb, async (shape, anyTail, acct, other) => {
        const tail = shape.placement === 'append' ? routeTail(anyTail) : anyTail
        const values = Object.fromEntries(shape.keys.map((k) => [k, k === 'acct' ? acct : other]))
        const ctx = admitted(shape, tail, values)
        expect(await outcome(ctx)).toBeUndefined()
        const sent = ctx.outbound.url.pathname
        expect(sent, `${shape.url} ${shape.prefix ?? ''} + ${tail}`).toBe(expectedPath(shape, tail, values))
        // The caller's tail went out as its own text: braces encoded, never a value.
        const base = expectedPath(shape, '', values)
        expect(sent.slice(base.length)).toBe(tail === '' ? '' : new URL(`https://x${tail}`).pathname)
      }),
      { seed: 20261902, numRuns: 6000 },
    )
  })
})
