/**
 * The `--workers` primary's verdict on a reload (reload-coordinator.ts): it reads the config and
 * every file it references once and judges those bytes as a start of the instance would.
 */
import { loadConfigText, withConfigFiles, type ConfigSource, type GatewayConfig } from '../config/index.js'
import { ConfigError, formatProblem } from '../errors.js'
import { startProblems, type ListenerTls } from '../gateway/index.js'
import { adoptConfig, restartOnlyChanges, storeOpenProblems, type RestartBaseline } from '../runtime/index.js'

/** A config the instance may run (with the bytes read), or why not. */
export type Judged = { ok: true; source: ConfigSource; config: GatewayConfig; listenerTls: ListenerTls } | { ok: false; problems: string[] }

/** The primary's own reading and verdict; a refused config is not relayed (every worker would refuse the same bytes). */
export function judgeReload(configFile: string, baseline: RestartBaseline, onRefused: (files: readonly string[], hide: readonly string[]) => void): Judged {
  try {
    const { config: next, text, files } = loadConfigText(configFile)
    // Judged on the bytes the workers will get, never the disk as it is a moment later.
    return withConfigFiles(files, () => {
      const judged = verdict(baseline, next, { text, files })
      if (!judged.ok) onRefused(next.files, next.secrets)
      return judged
    })
  } catch (e) {
    // The primary keeps watching the old files and those the refused file names.
    if (e instanceof ConfigError) onRefused(e.files, [])
    return { ok: false, problems: e instanceof ConfigError ? e.problems.map(formatProblem) : [String(e)] }
  }
}

/**
 * The primary's verdict on a config, on its pinned bytes: what the workers' build refuses
 * (restart-only changes, runtime.prepare; whatever a start refuses), and a store they could
 * not open when this config is the first to need one (a file under a regular file, an
 * unreadable Redis TLS file): judged here, or the baseline would fix the store at a location
 * no worker opened.
 */
function verdict(baseline: RestartBaseline, next: GatewayConfig, source: ConfigSource): Judged {
  const checked = startProblems(next)
  const problems = [...restartOnlyChanges(baseline, next), ...checked.problems]
  if (problems.length === 0 && baseline.store === undefined && adoptConfig(baseline, next).store !== undefined) problems.push(...storeOpenProblems(next))
  if (problems.length > 0) return { ok: false, problems: problems.map(formatProblem) }
  return { ok: true, source, config: next, listenerTls: checked.listenerTls }
}
