/**
 * `mtls-gateway test-endpoint <endpoint> [--tenant T]`: the endpoint's connection test (a GET of
 * its base path over a new mutual-TLS connection, proxy/connection-test.ts), as the operator
 * would run it after renewing a bundle or before the first caller. Exit 0 when the server
 * answered, 1 when a step failed or the config is broken; `--all` tests every endpoint and tenant bundle. main.ts imports this only when it runs.
 */
import { formatConnectionTest, testAllConnections, testEndpointConnection } from '../proxy/connection-test.js'
import { runOnConfig, type OneShotResult } from './one-shot.js'

/** `--all`: every endpoint and tenant bundle; exit 1 when any failed (a skipped one does not fail). */
export function runTestAllEndpoints(configFile: string): Promise<OneShotResult> {
  return runOnConfig(configFile, 'Connection Test Failed', async (gateway) => {
    const results = await testAllConnections(gateway)
    const failed = results.filter((r) => 'ok' in r && !r.ok).length
    const lines = results.map((r) => ('skipped' in r ? `Connection Test Skipped: endpoint "${r.endpoint}": ${r.skipped}\n` : formatConnectionTest(r)))
    const tested = results.filter((r) => 'ok' in r).length
    return { ok: failed === 0, output: `${lines.join('\n')}\n${tested - failed} passed, ${failed} failed, ${results.length - tested} skipped\n` }
  })
}

/** Runs the test; never throws for config, TLS or server problems. */
export function runTestEndpoint(configFile: string, endpoint: string, tenant?: string): Promise<OneShotResult> {
  return runOnConfig(configFile, 'Connection Test Failed', async (gateway) => {
    const report = await testEndpointConnection(gateway, endpoint, tenant)
    return { ok: report.ok, output: formatConnectionTest(report) }
  })
}
