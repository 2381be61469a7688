/**
 * `mtls-gateway test-auth <profile> [--tenant T]`: the profile's request-token step with
 * the consumer key and secret over the endpoint's mTLS, as the operator would run it
 * before the first user tries. Exit 0 on success, 1 when the provider refused (its
 * status, headers and body shown, secrets redacted) or the config is broken.
 */
import type { Command } from 'commander'
import { loadConfig } from '../config/index.js'
import { ConfigError, GatewayError } from '../errors.js'
import { compileGateway } from '../gateway/index.js'
import { formatProfileTest, testProfile } from '../dance/index.js'
import { configOption } from './options.js'

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

/** Adds the `test-auth` command to `program`. */
export function addTestAuthCommand(program: Command): void {
  program
    .command('test-auth')
    .description("test an OAuth 1.0a profile: obtain a request token over the endpoint's mTLS")
    .argument('<profile>', 'profile name')
    .option('-t, --tenant <tenant>', 'tenant (profiles with tenancy)')
    .addOption(configOption())
    .action(async (profile: string, o: { tenant?: string; config: string }) => {
      const result = await runTestAuth(o.config, profile, o.tenant)
      ;(result.ok ? process.stdout : process.stderr).write(result.output)
      process.exitCode = result.ok ? 0 : 1
    })
}
