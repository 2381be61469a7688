/**
 * The CPUs this process may really use: a container's CFS quota (cgroup v2 `cpu.max`, cgroup v1
 * `cpu.cfs_quota_us` / `cpu.cfs_period_us`) when one is set, else os.availableParallelism(), which
 * counts the node's CPUs. `serve --workers` defaults to it, so a pod limited to 2 CPUs on a
 * 64-core node starts 2 workers, not 64 throttled ones.
 */
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'

/** Where to look; tests point `root` at a fixture tree laid out like `/`. */
export interface CpuQuotaOptions {
  /** Filesystem root holding `proc/self/cgroup` and `sys/fs/cgroup` (default `/`). */
  root?: string
  /** CPUs the OS offers (default os.availableParallelism()). */
  cpus?: number
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim()
  } catch {
    return undefined
  }
}

/** `quota period` → CPUs; undefined for `max` (no limit), -1 or nonsense. */
function ratio(quota: string | undefined, period: string | undefined): number | undefined {
  const q = Number(quota)
  const p = Number(period)
  return Number.isFinite(q) && Number.isFinite(p) && q > 0 && p > 0 ? q / p : undefined
}

/** The cgroup directory a controller line of /proc/self/cgroup names, from its mount, walking up to the mount. */
function candidates(mount: string, path: string): string[] {
  const dirs: string[] = []
  const parts = path.split('/').filter(Boolean)
  for (let n = parts.length; n >= 0; n--) dirs.push(join(mount, ...parts.slice(0, n)))
  return dirs
}

/** The smallest limit along the process's cgroup path (a parent's limit binds its children too). */
function smallest(values: (number | undefined)[]): number | undefined {
  const set = values.filter((v): v is number => v !== undefined)
  return set.length === 0 ? undefined : Math.min(...set)
}

/** CPUs allowed by the cgroup quota (may be fractional), or undefined when none is set. */
export function cgroupCpuLimit(o: CpuQuotaOptions = {}): number | undefined {
  const root = o.root ?? '/'
  const lines = (read(join(root, 'proc/self/cgroup')) ?? '').split('\n')
  const sys = join(root, 'sys/fs/cgroup')
  // cgroup v2: "0::/path", one unified hierarchy with cpu.max = "<quota|max> <period>".
  const unified = lines.find((l) => l.startsWith('0::'))
  if (unified !== undefined && read(join(sys, 'cgroup.controllers')) !== undefined) {
    return smallest(candidates(sys, unified.slice(3)).map((d) => {
      const [quota, period] = (read(join(d, 'cpu.max')) ?? '').split(/\s+/)
      return ratio(quota, period)
    }))
  }
  // cgroup v1: "N:cpu,cpuacct:/path", mounted at sys/fs/cgroup/cpu,cpuacct (or cpu); -1 means no quota.
  const v1 = lines.map((l) => l.split(':')).find((f) => (f[1] ?? '').split(',').includes('cpu'))
  if (!v1) return undefined
  const mount = [join(sys, v1[1] as string), join(sys, 'cpu'), join(sys, 'cpu,cpuacct')].find((m) => read(join(m, 'cpu.cfs_period_us')) !== undefined)
  if (!mount) return undefined
  return smallest(candidates(mount, v1.slice(2).join(':')).map((d) => ratio(read(join(d, 'cpu.cfs_quota_us')), read(join(d, 'cpu.cfs_period_us')))))
}

/** `serve --workers` default: the quota's whole CPUs (at least 1), never more than the OS offers. */
export function defaultWorkers(o: CpuQuotaOptions = {}): number {
  const cpus = o.cpus ?? availableParallelism()
  const limit = cgroupCpuLimit(o)
  // Rounded down, like Go's automaxprocs: 1.5 CPUs run 1 worker unthrottled rather than 2 throttled.
  return limit === undefined ? cpus : Math.max(1, Math.min(cpus, Math.floor(limit)))
}
