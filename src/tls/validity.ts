/**
 * Time-based bundle health. A bundle that parses and builds is usable or not depending only
 * on the clock: its client chain (leaf, intermediates, the root it builds to) must be inside
 * every validity period, and at least one of its server roots must be. These facts are
 * evaluated against the clock at each use, so an endpoint degrades (and recovers) while the
 * gateway runs, the same way after a reload, a fresh start or in any worker.
 */
import type { X509Certificate } from 'node:crypto'
import type { Reason } from '../errors.js'
import type { Bundle } from './bundle.js'
import { oneLine } from './chain.js'

const DAY_MS = 86_400_000

/**
 * Whole days a certificate has left (0: under a day; notAfter itself is still valid), or how
 * long ago it expired, in words: flooring a negative count read "-2" a day after the date.
 */
export function daysLeftText(notAfterMs: number, nowMs: number): string {
  const left = notAfterMs - nowMs
  if (left >= 0) return String(Math.floor(left / DAY_MS))
  const gone = Math.floor(-left / DAY_MS)
  return gone === 0 ? 'expired <1 day ago' : `expired ${gone} day${gone === 1 ? '' : 's'} ago`
}

/** Why a bundle cannot be used now; closed, snake_case (a metric label and an error reason). */
export type ValidityReason = Extract<Reason, 'client_cert_expired' | 'client_cert_not_yet_valid' | 'server_roots_not_valid' | 'server_crl_not_valid'>

/** Every ValidityReason, for metrics that show each one as 0/1. */
export const VALIDITY_REASONS: readonly ValidityReason[] = ['client_cert_expired', 'client_cert_not_yet_valid', 'server_roots_not_valid', 'server_crl_not_valid']

/** One time-based problem: the reason, the bundle field it is about, and a sentence with the date. */
export interface ValidityFault {
  reason: ValidityReason
  field: 'cert' | 'roots' | 'crl'
  msg: string
}

/** A bundle's validity periods, read once; `faults(now)` is two comparisons between the dates where the answer changes. */
export interface BundleValidity {
  /** Every problem at `now` (ms since the epoch), client chain first; empty when usable. */
  faults(now?: number): readonly ValidityFault[]
}

interface Period {
  role: 'client' | 'intermediate' | 'root' | 'server' | 'server_intermediate'
  subject: string
  from: number
  until: number
}

function periodOf(cert: X509Certificate, role: Period['role']): Period {
  return { role, subject: oneLine(cert.subject), from: Date.parse(cert.validFrom), until: Date.parse(cert.validTo) }
}

/** How a certificate of each role is named in a sentence. */
const CHAIN_ROLE_WORDS: Record<Period['role'], string> = {
  client: 'client certificate',
  intermediate: 'intermediate certificate of the client chain',
  root: 'root certificate of the client chain',
  server: 'server certificate',
  server_intermediate: 'intermediate certificate of the server chain',
}

const iso = (ms: number): string => new Date(ms).toISOString()

function chainFault(p: Period, now: number): ValidityFault | undefined {
  const what = CHAIN_ROLE_WORDS[p.role]
  // X.509 notAfter is inclusive: expired once the clock is past it (as OpenSSL counts).
  if (now > p.until) return { reason: 'client_cert_expired', field: 'cert', msg: `${what} expired on ${iso(p.until)} ("${p.subject}")` }
  if (now < p.from) return { reason: 'client_cert_not_yet_valid', field: 'cert', msg: `${what} is not valid before ${iso(p.from)} ("${p.subject}")` }
  return undefined
}

/**
 * Why the certificates of a certificate file (leaf first, then the intermediates it sends)
 * cannot be presented at `now`, in a bundle's words: one sentence per certificate outside its
 * validity period. `side` is who presents it: the gateway as a client, or a listener serving.
 */
export function chainDateFaults(certs: readonly X509Certificate[], now: number, side: 'client' | 'server' = 'client'): string[] {
  const roles = side === 'client' ? (['client', 'intermediate'] as const) : (['server', 'server_intermediate'] as const)
  return certs.flatMap((c, i) => chainFault(periodOf(c, roles[i === 0 ? 0 : 1]), now)?.msg ?? [])
}

/** Why no certificate of a CA file can anchor a chain at `now` (every one outside its validity period), or undefined. */
export function anchorsDateFault(certs: readonly X509Certificate[], now: number): string | undefined {
  const listed = noneValid(certs.map((c) => periodOf(c, 'root')), now)
  return listed === undefined ? undefined : `no certificate in it is valid now: ${listed}`
}

/** `no certificate is valid now: "<subject>" expired on <date>; …` when every period excludes `now`. */
function noneValid(periods: readonly Period[], now: number): string | undefined {
  if (periods.length === 0 || periods.some((r) => now >= r.from && now <= r.until)) return undefined
  return periods.map((r) => `"${r.subject}" ${now > r.until ? `expired on ${iso(r.until)}` : `not valid before ${iso(r.from)}`}`).join('; ')
}

/** Reads the validity periods of `bundle`; `systemRoots` means a server may also chain to the system's roots. */
export function bundleValidity(bundle: Bundle, o: { systemRoots: boolean }): BundleValidity {
  const chain = [periodOf(bundle.leaf, 'client'), ...bundle.chain.map((c) => periodOf(c, 'intermediate')), ...(bundle.clientRoot ? [periodOf(bundle.clientRoot, 'root')] : [])]
  // With system roots in play the gateway cannot know which anchor a server uses: no verdict.
  const roots = o.systemRoots ? [] : bundle.roots.map((c) => periodOf(c, 'root'))
  // OpenSSL refuses every server while a CRL it holds is past nextUpdate or before thisUpdate (CRL_HAS_EXPIRED, CRL_NOT_YET_VALID).
  const crls = (bundle.crls ?? []).flatMap((c) => c.periods.map((p) => ({ file: c.file, issuer: p.issuer, from: p.from, until: p.until ?? Infinity })))
  const evaluate = (now: number): ValidityFault[] => {
    const out = chain.flatMap((p) => chainFault(p, now) ?? [])
    const listed = noneValid(roots, now)
    if (listed !== undefined) out.push({ reason: 'server_roots_not_valid', field: 'roots', msg: `no server root is valid now: ${listed}` })
    for (const c of crls) {
      if (now > c.until) out.push({ reason: 'server_crl_not_valid', field: 'crl', msg: `the CRL of "${c.issuer}" (${c.file}) expired on ${iso(c.until)} (its nextUpdate): no server can be verified until a fresh CRL is in place` })
      else if (now < c.from) out.push({ reason: 'server_crl_not_valid', field: 'crl', msg: `the CRL of "${c.issuer}" (${c.file}) is not valid before ${iso(c.from)} (its thisUpdate)` })
    }
    return out
  }
  // The answer only changes at a notBefore or just past a notAfter: cache it between those instants (the hot path).
  const changes = [...new Set([...chain, ...roots, ...crls].flatMap((p) => [p.from, p.until + 1]))].filter(Number.isFinite).sort((a, b) => a - b)
  let cached = { from: 0, until: -1, faults: [] as readonly ValidityFault[] }
  return {
    faults(now = Date.now()) {
      if (now >= cached.from && now < cached.until) return cached.faults
      const from = changes.filter((t) => t <= now).pop() ?? -Infinity
      const until = changes.find((t) => t > now) ?? Infinity
      cached = { from, until, faults: evaluate(now) }
      return cached.faults
    },
  }
}
