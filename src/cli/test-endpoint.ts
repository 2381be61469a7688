/**
 * `mtls-gateway test-endpoint <endpoint> [--tenant T]`: the endpoint's connection test (a GET of
 * its base path over a new mutual-TLS connection, proxy/connection-test.ts), as the operator
 * would run it after renewing a bundle or before the first caller. Exit 0 when the server
 * answered, 1 when a step failed or the config is broken. main.ts imports this only when it runs.
 */
import { formatConnectionTest, testEndpointConnection } from '../proxy/connection-test.js'
import { runOnConfig, type OneShotResult } from './one-shot.js'

/** Runs the test; never throws for config, TLS or server problems. */
export function runTestEndpoint(configFile: string, endpoint: string, tenant?: string): Promise<OneShotResult> {
  return runOnConfig(configFile, 'Connection Test Failed', async (gateway) => {
    const report = await testEndpointConnection(gateway, endpoint, tenant)
    return { ok: report.ok, output: formatConnectionTest(report) }
  })
}
