/**
 * Allocation-site pretenuring off in every gateway process (src/runtime/young-objects.ts).
 * Each case runs a child Node with V8's natives syntax, so it can ask where a fresh object
 * was allocated: a literal site all of whose objects survive is one V8 pretenures (the
 * control shows it does on this Node), and after the gateway starts it no longer does.
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertDistFresh } from '../support/dist-fresh.js'
import { endpointYaml } from '../support/gateway.js'
import { createTestPki, type TestPki } from '../support/pki.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

// One object-literal site whose objects all stay alive for a while (a round), then are
// dropped: V8's signal for "allocate these old". Reports the first round in which a fresh
// object from the site was allocated in the old generation (-1: never in 40 rounds).
const SURVIVING_SITE = `
const make = (i) => ({ i, inner: { i } })
let oldAt = -1
for (let round = 0; round < 40 && oldAt < 0; round++) {
  const kept = []
  for (let i = 0; i < 200_000; i++) kept.push(make(i))
  if (!%InYoungGeneration(make(-1))) oldAt = round
}
process.stdout.write(JSON.stringify({ oldAt }) + '\\n')
`

/** The round in which the site was pretenured, or -1, after `prelude` ran in a fresh Node. */
function pretenuredAt(prelude: string): number {
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', `${prelude}\n${SURVIVING_SITE}`], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
  const last = out.trim().split('\n').at(-1) ?? ''
  return (JSON.parse(last) as { oldAt: number }).oldAt
}

let pki: TestPki

beforeAll(async () => {
  assertDistFresh()
  pki = await createTestPki()
})
afterAll(() => pki?.cleanup())

describe('request objects stay in the young generation', () => {
  it('control: this V8 pretenures a literal site whose objects all survive', () => {
    // Pretenured within a few rounds (1–2 seen on Node 20 and 24): the check below can fail.
    expect(pretenuredAt('')).toBeGreaterThanOrEqual(0)
  })

  it('keepRequestObjectsYoung turns pretenuring off (and is idempotent)', () => {
    const prelude = `import { keepRequestObjectsYoung } from './dist/src/runtime/young-objects.js'\nkeepRequestObjectsYoung()\nkeepRequestObjectsYoung()`
    expect(pretenuredAt(prelude)).toBe(-1)
  })

  it('a started gateway has it off: startGateway applies it before serving', () => {
    const configFile = join(pki.dir, 'young-objects.yaml')
    writeFileSync(configFile, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\nendpoints:\n${endpointYaml('partner', 9, { cert: pki.file('client.crt'), key: pki.file('client.key'), intermediates: pki.file('inter.crt'), roots: pki.file('root.crt') })}`)
    const prelude = `import { startGateway } from './dist/src/cli/serve.js'\nconst gw = await startGateway({ configFile: ${JSON.stringify(configFile)}, listen: { host: '127.0.0.1', port: 0 } })\nawait gw.close()`
    expect(pretenuredAt(prelude)).toBe(-1)
  })
})
