/**
 * Binding a listener (the proxy listener and the admin listener), and how its start-up line names
 * it. `::` (every IPv6 and IPv4 address, dual-stack) on a kernel without IPv6 (booted with
 * `ipv6.disable=1`: socket(AF_INET6) fails with EAFNOSUPPORT) falls back to `0.0.0.0`, as Node does
 * when no host is given, and says so in one warning line. Only `::` falls back, and only for that
 * error: any other failure (a port in use, a low port without the capability) stops the start.
 */
import type { AddressInfo, Server } from 'node:net'
import type { Logger } from 'pino'

/** The error a kernel without IPv6 gives for an IPv6 socket (ipv6.disable=1). */
const NO_IPV6 = 'EAFNOSUPPORT'
const DUAL_STACK = '::'
const IPV4_ANY = '0.0.0.0'

/** A `::` bind that fell back: the config key, what it asked, why it could not be, what was bound. */
export interface BindFallback {
  readonly key: string
  readonly host: string
  readonly code: string
  readonly boundHost: string
}

/** A bound listener as its start-up line says it. */
export interface ListenerBinding {
  /** A URL this machine reaches it at (loopback for a wildcard bind): machine-read by scripts and tests. */
  readonly url: string
  /** Where it listens, for operators: `[::]:8080 (IPv6 and IPv4)`, `0.0.0.0:8080 (IPv4)`, `127.0.0.1:9090`. */
  readonly on: string
  readonly fallback?: BindFallback
}

/** A start-up line: `msg` and `url` are read by scripts and tests; `on` is for operators. */
export interface StartLine {
  msg: 'listening' | 'admin listening'
  url: string
  on: string
}

/** The host to bind after `host` failed with `err`: `0.0.0.0` for `::` on a kernel without IPv6, else undefined (the failure stands). */
export function fallbackHost(host: string, err: unknown): string | undefined {
  return host === DUAL_STACK && (err as NodeJS.ErrnoException | null)?.code === NO_IPV6 ? IPV4_ANY : undefined
}

/** `scheme://host:port` a bound address is reached at from this machine (127.0.0.1 for a wildcard bind). */
export function listenerUrl(a: AddressInfo, tls: boolean): string {
  const host = a.address === IPV4_ANY || a.address === DUAL_STACK ? '127.0.0.1' : a.address.includes(':') ? `[${a.address}]` : a.address
  return `${tls ? 'https' : 'http'}://${host}:${a.port}`
}

/** The bound address as an operator reads it, with the families a wildcard serves. */
function shownAddress(a: AddressInfo, fellBack: boolean): string {
  const at = a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`
  if (a.address === DUAL_STACK) return `${at} (IPv6 and IPv4)`
  if (a.address === IPV4_ANY) return `${at} (${fellBack ? 'IPv4 only: the kernel has no IPv6' : 'IPv4'})`
  return at
}

function listenOnce(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

/** Binds `server` to `host`:`port` (`key` names the config key), falling back from `::` to `0.0.0.0` on a kernel without IPv6. */
export async function bindListener(server: Server, o: { port: number; host: string; key: string; tls: boolean }): Promise<ListenerBinding> {
  let fallback: BindFallback | undefined
  await listenOnce(server, o.port, o.host).catch((e: unknown) => {
    const boundHost = fallbackHost(o.host, e)
    if (boundHost === undefined) throw e
    fallback = { key: o.key, host: o.host, code: (e as NodeJS.ErrnoException).code ?? NO_IPV6, boundHost }
    return listenOnce(server, o.port, boundHost)
  })
  const a = server.address() as AddressInfo
  return { url: listenerUrl(a, o.tls), on: shownAddress(a, fallback !== undefined), ...(fallback ? { fallback } : {}) }
}

/** Says how a started instance listens: the proxy listener's fallback (once, by a `--workers` primary for all its workers, each of which fell back on its own; the admin listener's is said at its bind), then the start-up lines. */
export function announceListeners(logger: Pick<Logger, 'warn'>, announce: (line: StartLine) => void, proxy: ListenerBinding, admin: { url: string; on: string } | undefined): void {
  if (proxy.fallback) warnBindFallback(logger, proxy.fallback)
  announce({ msg: 'listening', url: proxy.url, on: proxy.on })
  if (admin) announce({ msg: 'admin listening', url: admin.url, on: admin.on })
}

/** The one warning line of a fallback (in the process that owns the listener: a `--workers` primary for its workers). */
export function warnBindFallback(logger: Pick<Logger, 'warn'>, f: BindFallback): void {
  logger.warn(
    { key: f.key, host: f.host, code: f.code, boundHost: f.boundHost },
    `${f.key} "${f.host}" cannot be bound: the kernel has no IPv6 (${f.code}; booted with ipv6.disable=1?); listening on ${f.boundHost} (IPv4 only) instead`,
  )
}
