/**
 * A real listener (createListener) on a real socket in the test's own process, over a gateway
 * compiled from one endpoint's config: for tests that watch what the listener does per request.
 */
import { join } from 'node:path'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseConfig } from '../../src/config/index.js'
import { compileGateway, type Gateway } from '../../src/gateway/index.js'
import { createListener } from '../../src/proxy/listener.js'
import type { Pipeline } from '../../src/proxy/pipeline.js'
import type { TestPki } from './pki.js'

/** A listening listener and how to stop it (its connections, the server, the gateway). */
export interface InProcessListener {
  server: Server
  gateway: Gateway
  port: number
  close(): Promise<void>
}

/** Compiles `yaml` (written to `pki.dir`), serves it with `pipeline` on 127.0.0.1; `onServer` sees the server before it listens. */
export async function startInProcessListener(pki: TestPki, yaml: string, pipeline: Pipeline, onServer?: (server: Server) => void): Promise<InProcessListener> {
  const gateway = compileGateway(parseConfig(join(pki.dir, 'gateway.yaml'), yaml, { env: {} }))
  const server = createListener({ ref: { current: gateway }, pipeline })
  onServer?.(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    server,
    gateway,
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await gateway.close()
    },
  }
}
