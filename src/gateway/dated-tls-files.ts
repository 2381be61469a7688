/**
 * The dates of the TLS files a gateway presents or trusts besides its endpoint bundles: the
 * listeners' own `cert` (with the chain it sends) and `clientCa`, `tracing.otlp.tls` and (when
 * the store is opened) `store.redis.tls`. Like a bundle's dates, they arrive with time: `check`
 * fails on them, while a start or a reload goes on and warns, and only what the file serves is
 * affected (the listener's callers, callers' certificates, span export, the store) — refusing
 * the start would take every endpoint down with it, and a restart of a pod in that state would
 * never come back.
 */
import { placeConfigProblems, needsStore, readConfigFile, type GatewayConfig } from '../config/index.js'
import type { ConfigProblem } from '../errors.js'
import { tlsFileDateProblems, tlsFileNotAfter, tlsFileNotBefore, type PemFile } from '../tls/index.js'

/** A config key holding a CA or certificate file, who presents it, and the file. */
type DatedFile = readonly [key: TlsFileKey, field: 'ca' | 'cert', side: 'client' | 'server', file: string | undefined]

/** The config keys whose files are dated here: a closed set (a metric label), never a path. */
export type TlsFileKey = `${'listen' | 'admin'}.tls.${'cert' | 'clientCa'}` | `${'tracing.otlp' | 'store.redis'}.tls.${'ca' | 'cert'}`

/** When one such file starts and stops working by its dates alone (tlsFileNotBefore, tlsFileNotAfter), by its config key. */
export interface TlsFileValidity {
  key: TlsFileKey
  notBefore: Date
  notAfter: Date
}

/** What inspectTlsFileDates found: the problems `check` prints (a start warns of), and each readable file's validity period. */
export interface TlsFileDates {
  readonly problems: readonly ConfigProblem[]
  readonly validities: readonly TlsFileValidity[]
}

/** The CA and certificate files the config uses at this moment, by their config key. */
function datedFiles(config: GatewayConfig): DatedFile[] {
  const out: DatedFile[] = []
  for (const [key, t] of [['listen', config.listen.tls], ['admin', config.admin.tls]] as const) {
    if (t) out.push([`${key}.tls.cert`, 'cert', 'server', t.cert], [`${key}.tls.clientCa`, 'ca', 'client', t.clientCa])
  }
  const otlp = config.tracing.enabled ? config.tracing.otlp?.tls : undefined
  if (otlp) out.push(['tracing.otlp.tls.ca', 'ca', 'client', otlp.ca], ['tracing.otlp.tls.cert', 'cert', 'client', otlp.cert])
  const redis = config.store.kind === 'redis' && needsStore(config) ? config.store.redis.tls : undefined
  if (redis) out.push(['store.redis.tls.ca', 'ca', 'client', redis.ca], ['store.redis.tls.cert', 'cert', 'client', redis.cert])
  return out
}

/**
 * Every such file outside its validity at `now`, one problem per certificate at fault (an
 * unreadable file is the other checks' to name), and each readable file's validity period.
 */
export function inspectTlsFileDates(config: GatewayConfig, now = new Date()): TlsFileDates {
  const problems: ConfigProblem[] = []
  const validities: TlsFileValidity[] = []
  for (const [key, field, side, file] of datedFiles(config)) {
    if (file === undefined) continue
    let pem: PemFile
    try {
      // Read at start, on reload and in `check` (not per request).
      pem = { file, pem: readConfigFile(file) }
    } catch {
      continue
    }
    for (const p of tlsFileDateProblems({ [field]: pem }, now.getTime(), side)) problems.push({ file: p.file, line: 0, column: 0, key, msg: p.msg })
    const notAfter = tlsFileNotAfter(field, pem)
    const notBefore = tlsFileNotBefore(field, pem)
    if (notAfter && notBefore) validities.push({ key, notBefore, notAfter })
  }
  return { problems: placeConfigProblems(config, problems), validities }
}
