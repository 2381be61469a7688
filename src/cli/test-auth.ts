/**
 * `mtls-gateway test-auth <profile> [--tenant T]`: the profile's request-token step with
 * the consumer key and secret over the endpoint's mTLS, as the operator would run it
 * before the first user tries. Exit 0 on success, 1 when the provider refused (its
 * status, headers and body shown, secrets redacted) or the config is broken. main.ts defines
 * the command and imports this module only when it runs.
 */
import { formatProfileTest, testProfile } from '../dance/index.js'
import { runOnConfig, type OneShotResult } from './one-shot.js'

/** Runs the test; never throws for config, TLS or provider problems. */
export function runTestAuth(configFile: string, profile: string, tenant?: string): Promise<OneShotResult> {
  return runOnConfig(configFile, 'Auth Test Failed', async (gateway) => {
    const result = await testProfile(gateway, profile, tenant)
    return { ok: result.ok, output: formatProfileTest(result) }
  })
}
