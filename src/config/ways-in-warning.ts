/**
 * listen.waysIn as `check` and each adopted config judge it: a list whose every way in can
 * serve nothing is a warning (not a problem: the gateway starts, and answers each request
 * with a refusal), e.g. `[api]` with no caller apps and no profiles. Only a list that leaves a way
 * out: with all four (the default) nothing idle is listen.waysIn's doing, and the key may not
 * even be written, so a warning placed there would point at nothing.
 */
import type { GatewayConfig, WayIn } from './types.js'
import { WAYS_IN } from './types-listeners.js'

/** Why a way in would serve nothing under `config`; undefined when it may serve something. */
function idleBecause(config: GatewayConfig, way: WayIn): string | undefined {
  switch (way) {
    case 'forward':
    case 'route':
      return config.endpoints.length === 0 ? `${way}: no endpoints` : undefined
    case 'connect':
      if (!config.interception) return 'connect: no interception (interception.caCert), so every CONNECT is refused'
      return config.endpoints.length === 0 && config.interception.passThrough.length === 0 ? 'connect: no endpoints and no pass-through hosts' : undefined
    case 'api':
      return config.callers.apps.length === 0 && config.profiles.length === 0 ? 'api: no caller apps (callers.apps) and no profiles' : undefined
  }
}

/** The warning when no way in listen.waysIn names can serve anything; undefined otherwise. */
export function waysInWarning(config: GatewayConfig): string | undefined {
  if (new Set(config.listen.waysIn).size === WAYS_IN.length) return undefined
  const idle = config.listen.waysIn.map((way) => idleBecause(config, way))
  if (idle.some((why) => why === undefined)) return undefined
  return `listen.waysIn serves nothing useful on this listener (${idle.join('; ')}): every request is refused; add a way in that serves something`
}
