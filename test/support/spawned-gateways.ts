/**
 * For a test file whose tests each spawn `serve` processes: one test PKI, created before the
 * tests, and every process spawned through `spawn`, killed (SIGKILL) after them.
 */
import { afterAll, beforeAll } from 'vitest'
import { createTestPki, type TestPki } from './pki.js'
import { spawnGateway, type GatewayProcess } from './process.js'

export interface SpawnedGateways {
  /** The file's PKI (set once beforeAll ran). */
  readonly pki: TestPki
  /** spawnGateway, the process stopped after the file's tests. */
  spawn(configFile: string, args?: string[], env?: NodeJS.ProcessEnv): Promise<GatewayProcess>
}

export function useSpawnedGateways(): SpawnedGateways {
  let pki: TestPki | undefined
  const running: GatewayProcess[] = []
  beforeAll(async () => {
    pki = await createTestPki()
  })
  afterAll(async () => {
    for (const gp of running) await gp.stop('SIGKILL')
    pki?.cleanup()
  })
  return {
    get pki() {
      if (!pki) throw new Error('useSpawnedGateways: the PKI exists once beforeAll ran')
      return pki
    },
    async spawn(configFile, args = [], env = {}) {
      const gp = await spawnGateway(configFile, args, env)
      running.push(gp)
      return gp
    },
  }
}
