/**
 * "Validate a draft": the pasted YAML is checked exactly as `check` checks a file (schema,
 * references, every bundle), as if it were the config file, and compared with the config
 * in force: the endpoints a reload would add, remove or change. Nothing is written.
 */
import { concealReferences, listenerClashProblems, parseConfig, type EndpointConfig, type GatewayConfig } from '../config/index.js'
import { ConfigError, formatProblem, type ConfigProblem } from '../errors.js'
import { asWarning, checkConfig, checkWarnings } from '../gateway/index.js'
import { restartOnlyChanges, storeStartProblems, type RestartBaseline } from '../runtime/index.js'

/** One problem: where (line 0 = not in the draft itself), the key, the message, and `check`'s line. */
export interface DraftProblem {
  line: number
  column: number
  key: string
  msg: string
  inDraft: boolean
  text: string
}

/** The verdict on a draft. */
export interface DraftResult {
  ok: boolean
  problems: DraftProblem[]
  /** `check`'s warnings (they never make a draft invalid); absent when the draft does not load. */
  warnings?: DraftProblem[]
  changes?: { added: string[]; removed: string[]; changed: string[]; restartNeeded: string[] }
}

function endpointShape(e: EndpointConfig): string {
  const { index: _index, ...rest } = e
  return JSON.stringify(rest)
}

function diff(current: GatewayConfig, baseline: RestartBaseline, draft: GatewayConfig): NonNullable<DraftResult['changes']> {
  const before = new Map(current.endpoints.map((e) => [e.name, endpointShape(e)]))
  const after = new Map(draft.endpoints.map((e) => [e.name, endpointShape(e)]))
  return {
    added: [...after.keys()].filter((n) => !before.has(n)),
    removed: [...before.keys()].filter((n) => !after.has(n)),
    changed: [...after].filter(([n, s]) => before.has(n) && before.get(n) !== s).map(([n]) => n),
    // Judged as a reload judges it: against the start, and the store's settings once it is open.
    restartNeeded: restartOnlyChanges(baseline, draft).map((p) => p.key),
  }
}

/** Checks `yaml` as if it were `configFile` replacing `current`; never throws for a problem of the draft. */
export function validateDraft(configFile: string, yaml: string, current: GatewayConfig, baseline: RestartBaseline, now = new Date()): DraftResult {
  const toView = (p: ConfigProblem): DraftProblem => ({ line: p.line, column: p.column, key: p.key, msg: p.msg, inDraft: p.file === configFile && p.line > 0, text: formatProblem(p) })
  let draft: GatewayConfig
  try {
    draft = parseConfig(configFile, yaml)
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, problems: e.problems.map(toView) }
    throw e
  }
  const problems = [...checkConfig(draft, now).problems, ...storeStartProblems(draft), ...listenerClashProblems(draft)].map(toView)
  const warnings = checkWarnings(draft).map((w) => toView(asWarning(w)))
  // An endpoint's name can come from a `${env:}`/`${file:}` reference too: the lists show the
  // reference, so the draft cannot be used to read a variable or a file through them.
  const changes = diff(current, baseline, draft)
  const shown = (names: string[]): string[] => names.map((n) => concealReferences(n, draft.references ?? []))
  return { ok: problems.length === 0, problems, warnings, changes: { ...changes, added: shown(changes.added), removed: shown(changes.removed), changed: shown(changes.changed) } }
}
