/**
 * A one-shot command over the config (`test-auth`, `test-endpoint`): compile it once, run the
 * test, close what it opened. A broken config, or a test the command cannot make (an unknown
 * name, a bad tenant), is the failure `title` and its message; other errors are thrown. What it
 * prints has every secret value of the config replaced by [REDACTED] in any encoding it appears in
 * (a `${env:}` in an endpoint URL's path, an error echoing one): CI and `helm test` keep this output.
 */
import { loadConfig } from '../config/index.js'
import { ConfigError, GatewayError } from '../errors.js'
import { compileGateway, type Gateway } from '../gateway/index.js'
import { configSecretValues, REDACTED } from '../ops/index.js'
import { redactSecrets } from '../dance/index.js'

/** What a run printed and how it should exit. */
export interface OneShotResult {
  ok: boolean
  output: string
}

/** Runs `test` on the config's snapshot; never throws for config or GatewayError problems. */
export async function runOnConfig(configFile: string, title: string, test: (gateway: Gateway) => Promise<OneShotResult>): Promise<OneShotResult> {
  let gateway
  try {
    gateway = compileGateway(loadConfig(configFile))
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, output: `${title}\n${e.message}\n` }
    throw e
  }
  try {
    const { ok, output } = await test(gateway)
    return { ok, output: redactSecrets(output, configSecretValues(gateway.config), REDACTED) }
  } catch (e) {
    if (e instanceof GatewayError) return { ok: false, output: redactSecrets(`${title}\n${e.message}\n`, configSecretValues(gateway.config), REDACTED) }
    throw e
  } finally {
    await gateway.close()
  }
}
