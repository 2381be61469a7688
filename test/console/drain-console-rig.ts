/**
 * The console's drain tests' rig: an upstream that holds requests (so a drain has one in flight)
 * and a gateway with the console on, an endpoint `held` to it and a long drain grace.
 */
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import type { DanceProvider } from '../oauth1-dance/dance-support.js'
import { endpointYaml } from '../support/gateway.js'
import { startHoldingUpstream, type HoldingUpstream } from '../support/holding-upstream.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { CONSOLE_TOKEN, rigYaml } from './console-support.js'

const NO_PROVIDER = { apiPort: 9, browserPort: 9, browserUrl: 'https://127.0.0.1:9' } as DanceProvider

/** The rig of one test file. */
export interface DrainConsoleRig {
  readonly upstream: HoldingUpstream
  /** Spawns the gateway with `--workers N` (in a directory of its own per `attempt`): it and its console's URL. */
  spawn(workers: number, attempt?: number): Promise<{ gp: GatewayProcess; consoleUrl: string }>
}

/** Starts the rig before the file's tests and stops it after them. */
export function useDrainConsoleRig(name: string): DrainConsoleRig {
  let pki: TestPki | undefined
  let upstream: HoldingUpstream | undefined
  let dir: string | undefined
  beforeAll(async () => {
    pki = await createTestPki()
    upstream = await startHoldingUpstream(pki)
    dir = mkdtempSync(join(tmpdir(), `${name}-`))
  })
  afterAll(async () => {
    await upstream?.close()
    pki?.cleanup()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })
  return {
    get upstream() {
      return upstream as HoldingUpstream
    },
    async spawn(workers, attempt = 0) {
      const caseDir = join(dir as string, `w${workers}-${attempt}`)
      const yaml = rigYaml(pki as TestPki, NO_PROVIDER, caseDir).replace('profiles:\n', `${endpointYaml('held', (upstream as HoldingUpstream).server.port, clientTls(pki as TestPki))}profiles:\n`) + 'drain:\n  grace: 60s\n'
      mkdirSync(caseDir, { recursive: true })
      writeFileSync(join(caseDir, 'gateway.yaml'), yaml)
      const gp = await spawnGateway(join(caseDir, 'gateway.yaml'), ['--workers', String(workers)], { MTLS_GATEWAY_TEST_CONSOLE_TOKEN: CONSOLE_TOKEN })
      try {
        return { gp, consoleUrl: `${await adminUrlOf(gp)}/console/` }
      } catch (e) {
        await gp.stop('SIGKILL')
        throw e
      }
    },
  }
}
