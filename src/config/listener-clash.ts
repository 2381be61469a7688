/**
 * The gateway's two listeners (`listen`, `admin`) on one socket: the same port (not 0) on
 * addresses that overlap, which the kernel refuses for the second bind (EADDRINUSE), so
 * `serve` stops at start. `check` binds nothing and judges the config alone (a `serve --port`
 * is not in it): it names the clash at `admin.port` in these words. Overlap as Linux binds
 * them: `::` takes every address (dual-stack), `0.0.0.0` every IPv4 one, an IPv4-mapped IPv6
 * address is its IPv4 one. `localhost` is the address `serve` would bind for it: the first answer
 * of Node's dns.lookup (getaddrinfo: /etc/hosts), as server.listen asks it; any other host name is
 * compared by name only (its address is DNS's, which `check` does not ask).
 */
import { execFileSync } from 'node:child_process'
import { isIP } from 'node:net'
import type { ConfigProblem } from '../errors.js'
import type { GatewayConfig } from './types.js'
import { configProblem } from './placed-problems.js'

type Address = { kind: 'any' } | { kind: 'v4' | 'v6' | 'name'; text: string }

function addressOf(host: string): Address {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1')
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h)?.[1]
  if (mapped !== undefined) return { kind: 'v4', text: mapped }
  if (isIP(h) === 4) return { kind: 'v4', text: h }
  if (isIP(h) === 6) return /^[0:]*$/.test(h) ? { kind: 'any' } : { kind: 'v6', text: new URL(`http://[${h}]`).hostname }
  return h === '' ? { kind: 'any' } : { kind: 'name', text: h.replace(/\.$/, '') }
}

/**
 * The address server.listen binds for `localhost`: dns.lookup's first answer, asked of a child
 * process since `check` is synchronous (only when listen and admin share a port); the name itself
 * when it cannot tell (then compared by name, as before).
 */
function localhostAddress(): string {
  const ask = "require('node:dns').lookup('localhost', (e, a) => process.stdout.write(e ? 'localhost' : a))"
  try {
    return execFileSync(process.execPath, ['-e', ask], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] }) || 'localhost'
  } catch {
    return 'localhost'
  }
}

/** `localhost` as the address it binds; any other address as it is. */
const bound = (a: Address): Address => (a.kind === 'name' && a.text === 'localhost' ? addressOf(localhostAddress()) : a)

/** Whether listening on `a` and on `b`, at the same port, would take one socket. */
export function hostsOverlap(a: string, b: string): boolean {
  const [x, y] = [addressOf(a), addressOf(b)]
  if (x.kind === 'any' || y.kind === 'any' || (x.kind === 'name' && y.kind === 'name' && x.text === y.text)) return true
  return sameSocket(bound(x), bound(y))
}

function sameSocket(x: Address, y: Address): boolean {
  if (x.kind === 'any' || y.kind === 'any') return true
  if (x.kind !== y.kind) return false
  return x.text === y.text || (x.kind === 'v4' && (x.text === '0.0.0.0' || y.text === '0.0.0.0'))
}

/** The clash of `listen` and `admin` at `admin.port` (found after the load, placed at its line), or none. */
export function listenerClashProblems(config: GatewayConfig): ConfigProblem[] {
  const { listen, admin } = config
  if (!admin.enabled || admin.port === 0 || admin.port !== listen.port || !hostsOverlap(listen.host, admin.host)) return []
  const msg = `${admin.port} is listen.port too, on an address that overlaps (listen.host ${listen.host}, admin.host ${admin.host}): the second listener cannot bind it (address already in use) and serve stops at start; give admin.port another port`
  return [configProblem(config, 'admin.port', msg)]
}
