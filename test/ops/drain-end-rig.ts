/**
 * The rig of the tests of a drain's end (drain-ended-*): a test PKI, an upstream holding requests
 * to `/held` paths (holding-upstream.ts), a directory for one gateway per case, and the YAML of a
 * gateway with a grace no test reaches (its drain ends by a second signal), callers not required,
 * one endpoint `partner`, TLS interception, and the listener `listen` names (a TLS one).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startHoldingUpstream, type HoldingUpstream } from '../support/holding-upstream.js'

export interface DrainEndRig {
  readonly pki: TestPki
  readonly upstream: HoldingUpstream
  readonly dir: string
  /** The interception CA's certificate (PEM): what a caller of an intercepted tunnel trusts. */
  readonly interceptionCa: Buffer
  /** The gateway's YAML, with `listen` (YAML lines, empty: the plain listener) first. */
  yaml(listen?: string): string
}

/** For a test file: the rig, made before its tests and removed after them (read inside tests); `name` marks its directory. */
export function useDrainEndRig(name: string): DrainEndRig {
  let parts: { pki: TestPki; upstream: HoldingUpstream; dir: string; interceptionCa: Buffer; interception: string } | undefined
  beforeAll(async () => {
    const pki = await createTestPki()
    const dir = mkdtempSync(join(tmpdir(), `gw-${name}-`))
    const ca = await writeInterceptionCa(join(dir, 'ica'))
    parts = { pki, dir, upstream: await startHoldingUpstream(pki), interceptionCa: readFileSync(ca.caCert), interception: `interception: { caCert: ${ca.caCert}, caKey: ${ca.caKey} }\n` }
  })
  afterAll(async () => {
    await parts?.upstream.close()
    parts?.pki.cleanup()
    if (parts) rmSync(parts.dir, { recursive: true, force: true })
  })
  const made = (): NonNullable<typeof parts> => {
    if (!parts) throw new Error('useDrainEndRig: made once beforeAll ran')
    return parts
  }
  return {
    get pki() { return made().pki },
    get upstream() { return made().upstream },
    get dir() { return made().dir },
    get interceptionCa() { return made().interceptionCa },
    yaml: (listen = '') => {
      const p = made()
      return `${listen}admin: { host: 127.0.0.1, port: 0 }\ndrain: { grace: 10m }\ncallers: { required: false }\n${p.interception}endpoints:\n${endpointYaml('partner', p.upstream.server.port, clientTls(p.pki))}`
    },
  }
}
