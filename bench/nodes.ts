/**
 * Which Node binaries run the forwarder and the gateways: `--nodes a,b` or
 * MTLS_GATEWAY_BENCH_NODES (comma-separated paths), else the bench's own Node plus the
 * cached Node 24 of `scripts/node24.sh` when that cache exists and this Node is not 24.
 * Every node's paths run in the same interleaved rounds; tables are printed per node.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

export interface BenchNode {
  /** Short key for ids and process names, e.g. "node24". */
  key: string
  binary: string
  version: string
}

function cachedNode24(): string | undefined {
  const cache = process.env.MTLS_GATEWAY_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'mtls-gateway')
  try {
    const dir = readdirSync(cache).filter((d) => /^node-24\./.test(d)).sort().pop()
    const bin = dir === undefined ? undefined : join(cache, dir, 'bin', 'node')
    return bin !== undefined && existsSync(bin) ? bin : undefined
  } catch {
    return undefined
  }
}

/** `quick`: the smoke run keeps to this node unless nodes are named. */
export function benchNodes(flag: string | undefined, quick: boolean): BenchNode[] {
  const listed = (flag ?? process.env.MTLS_GATEWAY_BENCH_NODES)?.split(',').map((s) => s.trim()).filter(Boolean)
  const node24 = quick || process.versions.node.startsWith('24.') ? undefined : cachedNode24()
  const binaries = listed && listed.length > 0 ? listed : [process.execPath, ...(node24 ? [node24] : [])]
  const seen = new Set<string>()
  return binaries.map((binary) => {
    let version: string
    try {
      version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim()
    } catch {
      throw new Error(`bench node ${binary} does not run (--nodes / MTLS_GATEWAY_BENCH_NODES)`)
    }
    let key = `node${version.replace(/^v/, '').split('.')[0] ?? ''}`
    while (seen.has(key)) key += 'b'
    seen.add(key)
    return { key, binary, version }
  })
}

/** A path id of one node's run: `<id>~<key>` when several nodes run, the id itself otherwise. */
export const nodeId = (id: string, node: BenchNode, many: boolean): string => (many ? `${id}~${node.key}` : id)
/** The id without its node part. */
export const withoutNode = (id: string): string => id.replace(/~.*$/, '')
