/**
 * What a config's files say before anything is built: every client bundle loaded and checked
 * (with its SecureContext, reused by compile), the interception CA, the listeners' TLS. Never
 * throws, so `check` can print everything; compile and reload refuse on the same problems.
 */
import type { SecureContext } from 'node:tls'
import { readConfigFile, placeConfigProblems, type EndpointConfig, type EndpointTlsConfig, type GatewayConfig } from '../config/index.js'
import type { ConfigProblem } from '../errors.js'
import { inspectTlsFileDates, type TlsFileDates } from './dated-tls-files.js'
import { bundleKey, bundleValidity, createClientContext, loadBundle, loadInterceptionCa, loadServerTls, notAfter, oneLine, type Bundle, type InterceptionCa, type ServerTls } from '../tls/index.js'

/** `listen.tls` and `admin.tls`, files read and checked (absent when the listener is plain HTTP). */
export interface ListenerTls {
  readonly proxy?: ServerTls
  readonly admin?: ServerTls
}

/** Reads and checks the listeners' TLS files: the same verdict at start, on reload and in `check`. */
export function inspectListeners(config: GatewayConfig): { tls: ListenerTls; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = []
  const tls: { proxy?: ServerTls; admin?: ServerTls } = {}
  for (const [which, key, t] of [['proxy', 'listen.tls', config.listen.tls], ['admin', 'admin.tls', config.admin.tls]] as const) {
    if (!t) continue
    const loaded = loadServerTls(t, key)
    if ('tls' in loaded) tls[which] = loaded.tls
    else problems.push({ file: loaded.problem.file ?? config.file, line: 0, column: 0, key: loaded.problem.field ? `${key}.${loaded.problem.field}` : key, msg: loaded.problem.msg })
  }
  return { tls, problems: placeConfigProblems(config, problems) }
}

export interface EndpointReport {
  endpoint: string
  subject: string
  issuer: string
  keyType: string
  chainOk: boolean
  notAfter?: Date
  /** Expiry of each certificate kind, for metrics. */
  expiry: { kind: 'client' | 'intermediate' | 'root'; notAfter: Date }[]
}

/** What inspection found. */
export interface Inspection {
  reports: EndpointReport[]
  bundles: Map<string, Bundle>
  contexts: Map<string, SecureContext>
  /** Problems at any time (parse, key mismatch, chain): start and reload refuse. */
  problems: ConfigProblem[]
  /** Problems of the clock at `now` (expired, not yet valid): only that endpoint degrades; `check` fails. */
  degraded: ConfigProblem[]
  /** The listeners' certificates and client CAs, OTLP and Redis TLS files outside their validity at `now` (`check` fails; a start warns), and their ends of validity. */
  dated: TlsFileDates
  /** The interception CA, read once here: compile hands these bytes to the snapshot's minter. */
  interception?: InterceptionCa
}

/** Where inspection collects its two kinds of problem. */
interface Findings {
  readonly problems: ConfigProblem[]
  readonly degraded: ConfigProblem[]
}

/** Loads and checks every bundle; never throws, so `check` can print everything. */
export function inspectEndpoints(config: GatewayConfig, now = new Date()): Inspection {
  const found: Findings = { problems: [], degraded: [] }
  const reports: EndpointReport[] = []
  const bundles = new Map<string, Bundle>()
  // Built once here and reused by compile: a SecureContext parses keys, chains and CRLs.
  const contexts = new Map<string, SecureContext>()
  for (const ep of config.endpoints) {
    for (const [tenant, tls] of Object.entries(ep.tenants)) {
      const t = checkBundle(tls, `endpoints[${ep.index}].tenants.${tenant}.tls`, `endpoint "${ep.name}" tenant "${tenant}"`, now, found)
      if (t.bundle) bundles.set(`${ep.name}@${tenant}`, t.bundle)
      if (t.context) contexts.set(`${ep.name}@${tenant}`, t.context)
    }
    const { bundle, context, ok } = checkBundle(ep.tls, `endpoints[${ep.index}].tls`, `endpoint "${ep.name}"`, now, found)
    if (!bundle) continue
    bundles.set(ep.name, bundle)
    if (context) contexts.set(ep.name, context)
    reports.push(endpointReport(ep, bundle, ok))
  }
  const interception = config.interception ? inspectInterceptionCa(config.interception, now, found) : undefined
  // Each at its key's line in the config file, values from references shown as the references.
  const place = (problems: ConfigProblem[]): ConfigProblem[] => placeConfigProblems(config, problems)
  const dated = inspectTlsFileDates(config, now)
  return { reports, bundles, contexts, problems: place(found.problems), degraded: place(found.degraded), dated, ...(interception ? { interception } : {}) }
}

/** One client bundle: loaded, its validity at `now`, its SecureContext; ok when nothing but the clock is wrong. */
function checkBundle(tls: EndpointTlsConfig, keyBase: string, label: string, now: Date, found: Findings): { bundle?: Bundle; context?: SecureContext; ok: boolean } {
  const { bundle, problems } = loadBundle(tls)
  // At the key the config names the file by (`dir` for its tls.crt, tls.key and ca.crt), never one it does not have.
  const keyOf = (field: string): string => `${keyBase}.${bundleKey(tls, field)}`
  for (const p of problems) found.problems.push({ file: p.file, line: 0, column: 0, key: keyOf(p.field), msg: `${label}: ${p.msg}` })
  if (!bundle) return { ok: false }
  for (const f of bundleValidity(bundle, tls).faults(now.getTime())) {
    found.degraded.push({ file: f.field === 'cert' ? bundle.certFile : f.field === 'crl' ? tls.crl.join(', ') : bundle.rootFiles.join(', '), line: 0, column: 0, key: keyOf(f.field), msg: `${label}: ${f.msg}` })
  }
  // OpenSSL would only repeat a problem already named above (e.g. key mismatch).
  const ctx = problems.length === 0 ? createClientContext(bundle, tls) : { problems: [] }
  for (const p of ctx.problems) found.problems.push({ file: p.file, line: 0, column: 0, key: keyOf(p.field), msg: `${label}: ${p.msg}` })
  return { bundle, ...('context' in ctx && ctx.context ? { context: ctx.context } : {}), ok: problems.length === 0 && ctx.problems.length === 0 }
}

function endpointReport(ep: EndpointConfig, bundle: Bundle, ok: boolean): EndpointReport {
  const end = notAfter(bundle.leaf)
  return {
    endpoint: ep.name,
    subject: oneLine(bundle.leaf.subject),
    issuer: oneLine(bundle.leaf.issuer),
    keyType: bundle.keyType,
    chainOk: ok,
    notAfter: end,
    expiry: [
      { kind: 'client', notAfter: end },
      ...bundle.chain.map((c) => ({ kind: 'intermediate' as const, notAfter: notAfter(c) })),
      ...(bundle.clientRoot ? [{ kind: 'root' as const, notAfter: notAfter(bundle.clientRoot) }] : []),
    ],
  }
}

/** `interception`'s CA, read and checked. */
function inspectInterceptionCa(ica: NonNullable<GatewayConfig['interception']>, now: Date, found: Findings): InterceptionCa | undefined {
  // Each file at its own key, in the same words whether read from disk (`check`) or from a start's snapshot (no path in the error).
  const read = (key: 'caCert' | 'caKey'): string | undefined => {
    try {
      return readConfigFile(ica[key], 'utf8')
    } catch (e) {
      found.problems.push({ file: ica[key], line: 0, column: 0, key: `interception.${key}`, msg: `cannot read the interception CA: ${(e as NodeJS.ErrnoException).code ?? String(e)}` })
      return undefined
    }
  }
  const [cert, key] = [read('caCert'), read('caKey')]
  if (cert === undefined || key === undefined) return undefined
  const loaded = loadInterceptionCa(cert, key, ica.caKeyPassphrase)
  // At the key of the file at fault (a key that does not match the certificate: the key's), placed at its line.
  for (const p of loaded.problems) found.problems.push({ file: ica[p.key], line: 0, column: 0, key: `interception.${p.key}`, msg: p.msg })
  // Like an expired bundle: only CONNECT interception degrades in `serve`; `check` fails.
  const fault = loaded.ca?.validityFault(now.getTime())
  if (fault) found.degraded.push({ file: ica.caCert, line: 0, column: 0, key: 'interception.caCert', msg: fault })
  return loaded.ca
}
