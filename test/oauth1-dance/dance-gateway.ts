/**
 * The set-up of dance tests: a test PKI and a python3-oauthlib provider for the file's tests
 * (useDanceProvider), or with them one in-process gateway on a SQLite file, often with a fault
 * injected through its start options (useDanceGateway); and the caller JWT of app `bot`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT, type JWTPayload } from 'jose'
import { afterAll, beforeAll } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { startTestGateway } from '../support/gateway.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { gatewayYaml, startDanceProvider, type DanceProvider } from './dance-support.js'

/** The audience of the test apps. */
export const AUD = 'https://gateway.test'

/** An HS256 JWT of app `bot` (iss `bot`, aud AUD, iat now, exp in 5 minutes), `claims` added or overriding. */
export function botJwt(secret: string, claims: JWTPayload): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ iss: 'bot', aud: AUD, iat: now, exp: now + 300, ...claims }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret))
}

export interface DanceProviderFixture {
  readonly pki: TestPki
  readonly provider: DanceProvider
}

/** Registers the hooks that start a test PKI and a python3-oauthlib provider for the file's tests, and stop them after. */
export function useDanceProvider(): DanceProviderFixture {
  let pki: TestPki | undefined
  let provider: DanceProvider | undefined
  beforeAll(async () => {
    pki = await createTestPki()
    provider = await startDanceProvider(pki)
  })
  afterAll(async () => {
    await provider?.close()
    pki?.cleanup()
  })
  return {
    get pki() {
      if (pki === undefined) throw new Error('the dance fixture has not started a PKI')
      return pki
    },
    get provider() {
      if (provider === undefined) throw new Error('the dance fixture has not started a provider')
      return provider
    },
  }
}

export interface DanceGatewayOptions {
  /** The temporary folder's name prefix. */
  prefix: string
  /** The `callers:` section. */
  callers: string
  /** Start options beyond the config (e.g. features wrapping the runtime to inject a fault). */
  start?: Parameters<typeof startTestGateway>[2]
}

export interface DanceGateway {
  readonly pki: TestPki
  readonly provider: DanceProvider
  readonly gw: RunningGateway
  /** The temporary folder; the store is `<dir>/state.db`. */
  readonly dir: string
}

/** Registers the hooks that start and close a dance gateway; read its parts inside tests. */
export function useDanceGateway(options: DanceGatewayOptions): DanceGateway {
  let parts: DanceGateway | undefined
  let pki: TestPki | undefined
  let provider: DanceProvider | undefined
  let gw: RunningGateway | undefined
  let dir: string | undefined
  beforeAll(async () => {
    pki = await createTestPki()
    provider = await startDanceProvider(pki)
    dir = mkdtempSync(join(tmpdir(), options.prefix))
    const yaml = gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'state.db') }, callers: options.callers })
    gw = await startTestGateway(dir, yaml, options.start)
    parts = { pki, provider, gw, dir }
  })
  afterAll(async () => {
    await gw?.close()
    await provider?.close()
    pki?.cleanup()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })
  const started = (): DanceGateway => {
    if (parts === undefined) throw new Error('the dance gateway has not started')
    return parts
  }
  return {
    get pki() { return started().pki },
    get provider() { return started().provider },
    get gw() { return started().gw },
    get dir() { return started().dir },
  }
}
