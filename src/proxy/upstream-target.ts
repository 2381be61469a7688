/**
 * Where a proxied request goes, built by one function for every way in: the endpoint's
 * origin (scheme, host, port — never from the request) + a request path checked to stay
 * under the endpoint's base path + the query. Nothing resolves a request string as a URL
 * reference. The rules are in docs/paths.md; every refusal is a 400 naming the problem.
 */
import { firstReadingProblem, foldingCharacter, hasDotSegment, normalSpelling, spelledPrefix, type PathReading } from '../config/index.js'
import { GatewayError } from '../errors.js'
import type { Endpoint, OriginParts } from '../gateway/index.js'
import type { ServerAuthority } from '../tracing/index.js'

declare const built: unique symbol

/** A destination only buildUpstreamTarget makes (the brand keeps other values out). */
export interface UpstreamTarget {
  readonly [built]: true
  /** `https://host[:port]` of the endpoint (tenant substituted). */
  readonly origin: string
  /** The origin's host and port, parsed with it (trace spans read these, not a per-request URL). */
  readonly server: ServerAuthority
  /** The origin's scheme and host as the signer reads a URL's: split once per destination (gateway/destination.ts), so once per snapshot. */
  readonly originParts: OriginParts
  /** Every path sent stays under this ('' = anywhere on the origin); no trailing slash. */
  readonly basePath: string
  /** The full path to send (base path included in route mode). */
  readonly path: string
  /** The raw query with its `?`, or ''. */
  readonly query: string
  /** basePath in its normal spelling as a pattern (`{{name}}` placeholders stand for one segment), compiled once per endpoint: test a normal spelling. */
  readonly under: RegExp
  /** The configured path's `{{name}}` placeholders: the only places path fields fill (found once per endpoint). */
  readonly placeholders: Endpoint['destination']['urlPlaceholders']
}

/**
 * `append`: route mode, the request path goes after the endpoint URL's path.
 * `as_is`: forward proxy and CONNECT, the request path is the path on the origin and must
 * stay under the endpoint's `pathPrefix`.
 */
export type Placement = 'append' | 'as_is'

// The dot-segment test is the one the one-segment rule uses (config/path-segment.ts).
export { hasDotSegment }

const CONTROL = /[\x00-\x1f\x7f]/
const SEPARATORS = /[/\\]/g

function refuse(msg: string): GatewayError {
  return new GatewayError('bad_request', msg)
}

/**
 * True for a path checkRequestPathFully accepts without looking further: it starts with "/"
 * and has no "%" (so one decoding level), no "\\", no space, "?", "#", control or non-ASCII
 * character (so one Unicode reading), no "//" and no "." right after a "/" (where every
 * dot-segment starts). Everything else takes the full check.
 */
export function isPlainPath(path: string): boolean {
  if (path.charCodeAt(0) !== 0x2f) return false
  let prev = 0x2f
  for (let i = 1; i < path.length; i++) {
    const c = path.charCodeAt(i)
    if (c <= 0x20 || c >= 0x7f || c === 0x23 || c === 0x3f || c === 0x25 || c === 0x5c || (prev === 0x2f && (c === 0x2f || c === 0x2e))) return false
    prev = c
  }
  return true
}

/** Throws unless `path` obeys the path rules (docs/paths.md); never rewrites it. */
export function checkRequestPath(path: string): void {
  // Most request paths are plain: one pass over the characters instead of the checks below.
  if (!isPlainPath(path)) checkRequestPathFully(path)
}

/** checkRequestPath without its fast path (exported for the property test comparing the two). */
export function checkRequestPathFully(path: string): void {
  if (!path.startsWith('/')) throw refuse('the request path must start with "/"')
  // A URL parser ends the path there ("?", "#") or trims it (a trailing space): "/b/%2e%2e#x" would resolve to "/".
  if (/[ #?]/.test(path)) throw refuse('a space, "?" or "#" in the request path is refused (the path ends where a query or fragment starts)')
  if (path.includes('\\')) throw refuse('a backslash in the request path is refused (servers disagree whether it separates segments); send %5C')
  if (path.includes('//')) throw refuse('an empty path segment ("//") is refused')
  if (/%(?![0-9a-fA-F]{2})/.test(path)) throw refuse('malformed percent-encoding in the request path')
  // Judged at every reading: a backend that decodes twice, or folds Unicode, must not see `..` or NUL either.
  const problem = firstReadingProblem(path, readingProblem, (r) => (r.depth === 0 ? refuse('the request path does not percent-decode to UTF-8') : undefined))
  if (problem !== undefined) throw problem
}

/** Who reads a folded reading (path-readings.ts), as refusals say it. */
const FOLDING_BACKEND = 'a backend that normalises Unicode (NFKC, and slash look-alikes such as U+2215)'

/** What one reading of a request path (path-readings.ts) shows that a backend reading it so would act on. */
function readingProblem(r: PathReading): GatewayError | undefined {
  if (hasDotSegment(r.text)) {
    if (r.unfolded === undefined && !r.lossy) return new GatewayError('path_escapes_base', 'the request path contains a dot-segment ("." or "..", in any encoding): it could leave the endpoint\'s base path, so it is refused rather than normalised')
    const named = r.unfolded === undefined ? undefined : foldingCharacter(r.unfolded, /[./\\;?#%]/, r.lossy)
    if (r.lossy) return new GatewayError('path_escapes_base', `the request path holds ${named?.codePoint ?? 'a character'} (in some encoding), which a backend that normalises Unicode (NFKC) and then reads the slash look-alikes NFKC wrote (U+2044 in "1⁄2") as "/" reads as "${named?.reading ?? '/'}": it would see a dot-segment ("." or "..") and could leave the endpoint's base path, so it is refused`)
    return new GatewayError('path_escapes_base', `the request path holds ${named?.codePoint ?? 'a character'} (in some encoding), which ${FOLDING_BACKEND} reads as its ASCII look-alike: it would see a dot-segment ("." or "..") and could leave the endpoint's base path, so it is refused`)
  }
  // A lossy reading splits fractions and units (`1⁄2` as `1/2`): only its dot-segments count (PathReading.lossy).
  if (r.lossy) return undefined
  if (CONTROL.test(r.text)) return refuse('the request path contains a control character (such as %00) in some encoding')
  // Folding never removes an ASCII "/" or "\\": more of them is a separator it made.
  if (r.unfolded !== undefined && (r.text.match(SEPARATORS)?.length ?? 0) > (r.unfolded.match(SEPARATORS)?.length ?? 0)) return refuse(foldedSeparator(r.unfolded))
  return undefined
}

/**
 * Why a separator that folding made is refused: a slash look-alike (U+FF0F, U+2215) stands for a
 * slash, so %2F is what was meant; a character NFKC writes as text holding one (U+2105 "c/o") has
 * no spelling a folding backend keeps in one segment, so it is spelled out.
 */
function foldedSeparator(unfolded: string): string {
  const found = foldingCharacter(unfolded, /[/\\]/)
  const holds = `the request path holds ${found?.codePoint ?? 'a character'} (in some encoding), which ${FOLDING_BACKEND} reads as`
  if (found === undefined || found.reading.length === 1) return `${holds} "/" or "\\": it would split the segment there, so it is refused (send %2F for a slash inside a segment)`
  const separator = (/[/\\]/.exec(found.reading) as RegExpExecArray)[0]
  return `${holds} "${found.reading}", whose "${separator}" would split the segment there: every spelling of ${found.codePoint} is refused (write out what it stands for instead: "${encodeURIComponent(found.reading)}")`
}

/**
 * Whether `path` is `base` or below it, on a segment boundary, the two compared in their normal
 * spelling (RFC 3986 §6.2.2): `/%6Fnly/x` is under `/only`, as the backend reads it.
 */
export function isUnderBase(path: string, base: string): boolean {
  return base === '' || spelledPrefix(path, base) >= 0
}

/** The one constructor of upstream targets, for all three ways in. */
export function buildUpstreamTarget(endpoint: Endpoint, tenant: string | undefined, requestPath: string, query: string, placement: Placement): UpstreamTarget {
  checkRequestPath(requestPath)
  if (query.includes('#') || CONTROL.test(query)) throw refuse('the query contains a fragment or a control character')
  // The endpoint URL comes from validated config, parsed once per tenant (a checked DNS label).
  const destination = endpoint.destination
  const configured = destination.at(tenant)
  const append = placement === 'append'
  const basePath = append ? configured.path : destination.prefix
  const path = append ? (configured.path + requestPath) : requestPath
  if (!isUnderBase(path, basePath)) throw new GatewayError('path_escapes_base', `the request path is not under ${basePath}/ of endpoint "${endpoint.name}"`)
  const placeholders = append ? destination.urlPlaceholders : destination.prefixPlaceholders
  return { origin: configured.origin, server: configured.server, originParts: configured.originParts, basePath, path, query, under: append ? configured.under : destination.prefixUnder, placeholders } as UpstreamTarget
}

/** The URL the steps edit (query and path fields, signing); starts as exactly the target. */
export function toOutboundUrl(target: UpstreamTarget): URL {
  const url = new URL(target.origin + target.path + target.query)
  assertDestination(target, url)
  return url
}

/**
 * Second line of defence, right before the dial: the URL the steps produced still names
 * the target's origin and stays under its base path. A failure is a bug, never a caller's
 * doing, so it is an internal error — and nothing is sent.
 */
export function assertDestination(target: UpstreamTarget, url: URL): void {
  if (url.origin !== target.origin) throw new GatewayError('internal', 'internal error', { cause: new Error(`destination ${url.origin} is not the endpoint origin ${target.origin}`) })
  assertDestinationPath(target, url.pathname)
}

/** assertDestination's path half, for a path sent as is (the origin is the target's own). */
export function assertDestinationPath(target: UpstreamTarget, pathname: string): void {
  if (!target.under.test(normalSpelling(pathname)) || hasDotSegment(pathname)) {
    // Not the path itself: after path fields it may hold a field value (an account number, a PIN).
    throw new GatewayError('internal', 'internal error', { cause: new Error(`the destination path (${pathname.length} characters) left the base path ${target.basePath}`) })
  }
}
