/**
 * The warnings `check` prints after its problems, never failing it: settings that weaken a
 * protection, certificates a bundle holds but does not use, durations written as a small bare
 * number, store settings the store's kind does not read, a Redis credential given in the URL too (the same), a token URL whose origin several endpoints share. One list, so the console's draft validator shows exactly what `check` says.
 */
import { configProblem, LEGACY_OAUTH10_RISK, repeatedRedisCredentialWarnings, unitlessDurationWarnings, unusedStoreSettingWarnings, waysInWarning, type GatewayConfig } from '../config/index.js'
import type { ConfigProblem } from '../errors.js'
import { bundleWarnings } from './bundle-warnings.js'
import { tokenUrlEndpointChecks } from './token-url-endpoints.js'

/** Every warning of `config`, at its key (placed: line and column in the file). */
export function checkWarnings(config: GatewayConfig): ConfigProblem[] {
  const idle = waysInWarning(config)
  return [
    ...(idle ? [configProblem(config, 'listen.waysIn', idle)] : []),
    ...config.profiles.filter((p) => p.legacyOAuth10).map((p) => configProblem(config, `profiles[${p.index}].legacyOAuth10`, `profile "${p.name}" ${LEGACY_OAUTH10_RISK}`)),
    ...bundleWarnings(config),
    ...unitlessDurationWarnings(config),
    ...unusedStoreSettingWarnings(config),
    ...repeatedRedisCredentialWarnings(config),
    ...tokenUrlEndpointChecks(config).warnings,
  ]
}

/** A warning as `check` prints it: the problem's line with `warning: ` before its message. */
export const asWarning = (w: ConfigProblem): ConfigProblem => ({ file: w.file, line: w.line, column: w.column, key: w.key, msg: `warning: ${w.msg}` })
