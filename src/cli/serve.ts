/**
 * `mtls-gateway serve`: load, compile, listen. Also the in-process entry the tests and
 * the demo use (startGateway), so they run exactly what production runs.
 */
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { loadConfig, type GatewayConfig } from '../config/index.js'
import { compileGateway, type Gateway } from '../gateway/index.js'
import { createListener, type GatewayRef, type RequestRecord } from '../proxy/listener.js'
import { createPipeline } from '../proxy/default-pipeline.js'

export interface StartOptions {
  configFile: string
  /** Overrides listen.host/port (tests use port 0). */
  listen?: { host?: string; port?: number }
  onDone?: (record: RequestRecord) => void
}

export interface RunningGateway {
  readonly url: string
  readonly port: number
  readonly ref: GatewayRef
  readonly server: Server
  close(): Promise<void>
}

/** Starts a gateway from a config file; resolves once listening. */
export async function startGateway(o: StartOptions): Promise<RunningGateway> {
  const config: GatewayConfig = loadConfig(o.configFile)
  const gateway: Gateway = compileGateway(config)
  const ref: GatewayRef = { current: gateway }
  const server = createListener({ ref, pipeline: createPipeline(), ...(o.onDone ? { onDone: o.onDone } : {}) })
  const host = o.listen?.host ?? config.listen.host
  const port = o.listen?.port ?? config.listen.port
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const addr = server.address() as AddressInfo
  const shownHost = addr.address.includes(':') ? `[${addr.address}]` : addr.address
  return {
    url: `http://${shownHost === '0.0.0.0' ? '127.0.0.1' : shownHost}:${addr.port}`,
    port: addr.port,
    ref,
    server,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      await ref.current.close()
    },
  }
}
