/**
 * `mtls-gateway check`: validates the config, every bundle and the listeners' certificates
 * like `nginx -t`: a table of endpoints, then one line per problem, non-zero exit when there
 * is any.
 */
import { listenerClashProblems, loadConfig } from '../config/index.js'
import { ConfigError, formatProblem } from '../errors.js'
import { asWarning, checkConfig, checkWarnings, type EndpointReport } from '../gateway/index.js'
import { storeStartProblems } from '../runtime/index.js'
import { daysLeftText } from '../tls/index.js'

export interface CheckResult {
  ok: boolean
  output: string
}

/** Runs every check and renders the report; never throws for config problems. */
export function runCheck(configFile: string, now = new Date()): CheckResult {
  let config
  try {
    config = loadConfig(configFile)
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, output: e.problems.map(formatProblem).join('\n') + `\ncheck failed: ${e.problems.length} problem(s)\n` }
    throw e
  }
  const checked = checkConfig(config, now)
  const { reports } = checked
  const problems = [...checked.problems, ...storeStartProblems(config), ...listenerClashProblems(config)]
  const lines = [renderTable(reports, now)]
  for (const p of problems) lines.push(formatProblem(p))
  lines.push(...checkWarnings(config).map((w) => formatProblem(asWarning(w))))
  lines.push(problems.length === 0 ? `configuration ${config.file} is ok: ${config.endpoints.length} endpoint(s)` : `check failed: ${problems.length} problem(s)`)
  return { ok: problems.length === 0, output: lines.join('\n') + '\n' }
}

/** The DAYS LEFT cell: the words the console shows too (tls/validity.ts). */
export function daysLeftCell(notAfter: Date, now: Date): string {
  return daysLeftText(notAfter.getTime(), now.getTime())
}

function renderTable(reports: EndpointReport[], now: Date): string {
  const head = ['ENDPOINT', 'CLIENT SUBJECT', 'ISSUER', 'KEY', 'CHAIN', 'NOT AFTER', 'DAYS LEFT']
  const rows = reports.map((r) => [r.endpoint, r.subject, r.issuer, r.keyType, r.chainOk ? 'ok' : 'FAIL', r.notAfter?.toISOString() ?? '-', r.notAfter ? daysLeftCell(r.notAfter, now) : '-'])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const fmt = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [fmt(head), ...rows.map(fmt)].join('\n')
}
