/**
 * `listen.publicUrl` and `tracing.otlp.endpoint`: what either carries that cannot work is refused
 * at load with the fix, as `via.url` is (via-url.ts). A user name and password in publicUrl would be
 * copied into every link the gateway builds on it (authorize redirects, callbacks shown to users),
 * and its query or fragment would land in the middle of them. The OTLP gRPC exporter drops userinfo;
 * the HTTP one sends it as Basic and prints the URL in its failure lines: the collector's
 * credentials belong in tracing.otlp.headers, on both protocols.
 */
import type { Report } from './normalize-util.js'

const parse = (url: string): URL | undefined => {
  try {
    return new URL(url)
  } catch {
    return undefined
  }
}

/** Reports what `listen.publicUrl` carries that links built on it must not. */
export function checkPublicUrl(url: string | undefined, report: Report): void {
  if (url === undefined) return
  const parsed = parse(url)
  if (parsed === undefined) return report(['publicUrl'], 'not a valid URL: write https://host[:port][/path]')
  if (parsed.username || parsed.password) report(['publicUrl'], 'must not carry a user name or password: every link the gateway builds on it (authorize redirects, callbacks) would show them to users')
  if (parsed.search || parsed.hash || url.includes('?') || url.includes('#')) report(['publicUrl'], 'must be https://host[:port][/path], without a query or fragment: links are built by appending paths to it')
}

/** Reports credentials in `tracing.otlp.endpoint`. */
export function checkOtlpEndpoint(url: string | undefined, report: Report): void {
  if (url === undefined) return
  const parsed = parse(url)
  if (parsed === undefined) return report(['otlp', 'endpoint'], 'not a valid URL: write https://collector:4318/v1/traces (http/protobuf) or https://collector:4317 (grpc)')
  if (parsed.username || parsed.password) report(['otlp', 'endpoint'], 'must not carry a user name or password (the grpc exporter drops them; failure lines print the URL): put the collector\'s credentials in tracing.otlp.headers (authorization: …)')
}
