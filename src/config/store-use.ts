/** Whether a config opens the store: what `check`, a start and a reload judge the store's files by. */
import type { GatewayConfig } from './types.js'

/** True when the config keeps anything in the store. */
export function needsStore(config: GatewayConfig): boolean {
  return config.callers.enabled || config.profiles.some((p) => p.token.mode === 'per_user')
}
