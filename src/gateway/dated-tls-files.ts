/**
 * The dates of the TLS files a gateway presents or trusts besides its endpoint bundles: the
 * listeners' `clientCa`, `tracing.otlp.tls` and (when the store is opened) `store.redis.tls`.
 * Like a bundle's dates, they arrive with time: `check` fails on them, while a start or a
 * reload goes on and warns, and only what the file serves is affected (callers' certificates,
 * span export, the store) — refusing the start would take every endpoint down with it, and a
 * restart of a pod in that state would never come back.
 */
import { concealSecretValues, needsStore, readConfigFile, type GatewayConfig } from '../config/index.js'
import type { ConfigProblem } from '../errors.js'
import { tlsFileDateProblems, type PemFile } from '../tls/index.js'

/** A config key holding a CA or certificate file, and the file. */
type DatedFile = readonly [key: string, field: 'ca' | 'cert', file: string | undefined]

/** The CA and certificate files the config uses at this moment, by their config key. */
function datedFiles(config: GatewayConfig): DatedFile[] {
  const out: DatedFile[] = []
  for (const [key, t] of [['listen.tls', config.listen.tls], ['admin.tls', config.admin.tls]] as const) if (t) out.push([`${key}.clientCa`, 'ca', t.clientCa])
  const otlp = config.tracing.enabled ? config.tracing.otlp?.tls : undefined
  if (otlp) out.push(['tracing.otlp.tls.ca', 'ca', otlp.ca], ['tracing.otlp.tls.cert', 'cert', otlp.cert])
  const redis = config.store.kind === 'redis' && needsStore(config) ? config.store.redis.tls : undefined
  if (redis) out.push(['store.redis.tls.ca', 'ca', redis.ca], ['store.redis.tls.cert', 'cert', redis.cert])
  return out
}

/** Every such file outside its validity at `now`, one problem per certificate at fault (an unreadable file is the other checks' to name). */
export function tlsFileDateFaults(config: GatewayConfig, now = new Date()): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  for (const [key, field, file] of datedFiles(config)) {
    if (file === undefined) continue
    let pem: PemFile
    try {
      // Read at start, on reload and in `check` (not per request).
      pem = { file, pem: readConfigFile(file) }
    } catch {
      continue
    }
    for (const p of tlsFileDateProblems({ [field]: pem }, now.getTime())) problems.push({ file: p.file, line: 0, column: 0, key, msg: p.msg })
  }
  return concealSecretValues(problems, config.references)
}
