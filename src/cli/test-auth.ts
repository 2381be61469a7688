/**
 * `mtls-gateway test-auth <profile> [--tenant T]`: the profile's request-token step with
 * the consumer key and secret over the endpoint's mTLS, as the operator would run it
 * before the first user tries. Exit 0 on success, 1 when the provider refused (its
 * status, headers and body shown, secrets redacted) or the config is broken. main.ts defines
 * the command and imports this module only when it runs.
 */
import { loadConfig } from '../config/index.js'
import { ConfigError, GatewayError } from '../errors.js'
import { compileGateway } from '../gateway/index.js'
import { formatProfileTest, testProfile } from '../dance/index.js'

/** What a run printed and how it should exit. */
export interface TestAuthResult {
  ok: boolean
  output: string
}

/** Runs the test; never throws for config, TLS or provider problems. */
export async function runTestAuth(configFile: string, profile: string, tenant?: string): Promise<TestAuthResult> {
  let gateway
  try {
    gateway = compileGateway(loadConfig(configFile))
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, output: `Auth Test Failed\n${e.message}\n` }
    throw e
  }
  try {
    const result = await testProfile(gateway, profile, tenant)
    return { ok: result.ok, output: formatProfileTest(result) }
  } catch (e) {
    if (e instanceof GatewayError) return { ok: false, output: `Auth Test Failed\n${e.message}\n` }
    throw e
  } finally {
    await gateway.close()
  }
}
