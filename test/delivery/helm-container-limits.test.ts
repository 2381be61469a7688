/**
 * The chart's container rules, each rendered: gateway.workers within resources.limits.cpu rounded
 * up (workers past the quota take turns in it, thrashing, while each holds its own memory; a
 * seeded property over millicores, decimal and whole CPUs), and no privileged container, added
 * capability or privilege escalation (left out counts: Kubernetes then allows it) unless
 * allowUnsafeSecurityContext says so.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import fc from 'fast-check'
import { parse, stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildRenderer, CHART, valuesFile, type Manifest, type Renderer } from './chart.js'

let r: Renderer
const MINIMAL = valuesFile('minimal')

beforeAll(() => {
  r = buildRenderer()
}, 5 * 60_000)
afterAll(() => r?.cleanup())

const container = async (extra: string): Promise<Manifest> => (await r.render([MINIMAL], extra)).get('Deployment').spec.template.spec.containers[0] as Manifest

describe('gateway.workers against the CPU limit', () => {
  const limit = fc.oneof(
    fc.integer({ min: 100, max: 4000 }).map((m) => ({ cpu: `${m}m` as string | number, cpus: Math.ceil(m / 1000) })),
    fc.integer({ min: 1, max: 40 }).map((t) => ({ cpu: String(t / 10), cpus: Math.ceil(t / 10) })),
    fc.integer({ min: 1, max: 4 }).map((n) => ({ cpu: n, cpus: n })),
  )

  it('renders workers up to the CPU limit rounded up, refuses more naming both and the fix', async () => {
    let refused = 0
    await fc.assert(
      fc.asyncProperty(limit, fc.integer({ min: 1, max: 6 }), async (l, workers) => {
        const extra = stringify({ gateway: { workers }, resources: { limits: { cpu: l.cpu, memory: '512Mi' } } })
        if (workers > l.cpus) {
          refused++
          return void expect(await r.renderError([MINIMAL], extra)).toContain(`gateway.workers is ${workers} but resources.limits.cpu is ${String(l.cpu)} (${l.cpus} CPU, rounded up): workers past the CPU limit never run at once`)
        }
        expect((await container(extra)).args).toContain(String(workers))
      }),
      { seed: 32_0501, numRuns: 40 },
    )
    expect(refused).toBeGreaterThan(5)
  }, 5 * 60_000)

  it('checks nothing without a CPU limit (the default: a request only)', async () => {
    expect((await container(stringify({ gateway: { workers: 4 } }))).args).toContain('4')
  })
})

describe('the container\'s securityContext', () => {
  const UNSAFE = 'the gateway container needs no privilege'
  it.each([
    ['privileged: true', { privileged: true }],
    ['capabilities.add: [NET_ADMIN, SYS_PTRACE]', { capabilities: { add: ['NET_ADMIN', 'SYS_PTRACE'], drop: ['ALL'] } }],
    ['allowPrivilegeEscalation: true (must be false)', { allowPrivilegeEscalation: true }],
    ['allowPrivilegeEscalation: unset (must be false)', { allowPrivilegeEscalation: null }],
  ])('refuses %s unless allowUnsafeSecurityContext', async (named, sc) => {
    const extra = stringify({ securityContext: sc })
    const error = await r.renderError([MINIMAL], extra)
    expect(error).toContain(`securityContext sets ${named}: ${UNSAFE}`)
    expect(error).toContain('set allowUnsafeSecurityContext=true')
    await expect(container(`${extra}allowUnsafeSecurityContext: true\n`)).resolves.toBeDefined()
  })

  it('the default renders: no privilege, capabilities dropped, no escalation', async () => {
    expect((await container('')).securityContext).toMatchObject({ privileged: false, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } })
  })
})

describe('values.schema.json on the container\'s securityContext (helm lint / install)', () => {
  const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')))
  const base = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>
  const sc = base.securityContext as Record<string, unknown>

  it.each([{ privileged: true }, { allowPrivilegeEscalation: true }, { capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] } }])('refuses %j without allowUnsafeSecurityContext, accepts it with', (unsafe) => {
    expect(validate(base), JSON.stringify(validate.errors)).toBe(true)
    expect(validate({ ...base, securityContext: { ...sc, ...unsafe } })).toBe(false)
    expect(validate({ ...base, allowUnsafeSecurityContext: true, securityContext: { ...sc, ...unsafe } }), JSON.stringify(validate.errors)).toBe(true)
  })
})
