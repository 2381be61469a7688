/**
 * Runs the gateway image without a Docker engine: `buildah from` + `buildah run --isolation
 * chroot` (host network), and a read-only-root variant (the mounted container root remounted
 * read-only in a private mount namespace, then chroot as the image user). Test-only.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import { START_DEADLINE_MS } from '../support/eventually.js'

const run = promisify(execFile)
let storageDriver: string | undefined

/**
 * buildah and its global options: the storage driver scripts/test-image.sh builds with (overlay
 * where this machine mounts one, else vfs), the only one whose images hold the image. Asked on
 * first use, so a skipped image test probes nothing.
 */
export function buildahCommand(): [string, ...string[]] {
  storageDriver ??= execFileSync('bash', ['scripts/buildah-driver.sh'], { encoding: 'utf8' }).trim()
  return ['buildah', '--storage-driver', storageDriver]
}

/** Runs buildah with that driver; resolves to trimmed stdout. */
export async function buildah(...args: string[]): Promise<string> {
  const [cmd, ...pre] = buildahCommand()
  const { stdout } = await run(cmd, [...pre, ...args], { maxBuffer: 64 << 20 })
  return stdout.trim()
}

/** The OCI config of an image (User, Entrypoint, Cmd, Volumes, ExposedPorts…). */
export async function imageConfig(image: string): Promise<Record<string, unknown>> {
  const inspect = JSON.parse(await buildah('inspect', '--type', 'image', image)) as { OCIv1: { config: Record<string, unknown> } }
  return inspect.OCIv1.config
}

/** A free TCP port on 127.0.0.1 (the container shares the host network); never one handed out before. */
export { freePort } from '../support/peers.js'

export interface ContainerProcess {
  readonly child: ChildProcess
  /** Lines printed (stdout and stderr). */
  readonly output: string[]
  /** The pid of `node` itself, found in /proc by its unique argument. */
  nodePid(): number | undefined
  /** Resolves with the exit code once the process (buildah run, or the chroot) ends. */
  readonly exited: Promise<number | null>
  /** The first line matching `re`; by default as long as any spawned process may take to start. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpExecArray>
}

/** Spawns a command and collects its output; `marker` is an argument unique to this run. */
export function spawnContainer(cmd: string, args: string[], marker: string): ContainerProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const output: string[] = []
  const waiters = new Set<() => void>()
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      output.push(line)
      for (const w of waiters) w()
    })
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {
    child,
    output,
    exited,
    nodePid: () => findNodePid(marker),
    waitFor(re, ms = START_DEADLINE_MS) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          for (const line of output) {
            const m = re.exec(line)
            if (m) {
              waiters.delete(tryIt)
              clearTimeout(timer)
              resolve(m)
              return true
            }
          }
          return false
        }
        const tryIt = (): void => void check()
        const timer = setTimeout(() => {
          waiters.delete(tryIt)
          reject(new Error(`no line matching ${re} within ${ms} ms:\n${output.join('\n')}`))
        }, ms)
        if (check()) return
        waiters.add(tryIt)
        void exited.then((code) => {
          if (waiters.has(tryIt)) {
            waiters.delete(tryIt)
            clearTimeout(timer)
            reject(new Error(`exited (${code}) before a line matched ${re}:\n${output.join('\n')}`))
          }
        })
      })
    },
  }
}

function findNodePid(marker: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')
      if (/(^|\/)node$/.test(argv[0] ?? '') && argv.includes(marker)) return Number(entry)
    } catch {
      // the process ended while we looked
    }
  }
  return undefined
}

/** The real, effective, saved and filesystem uids of a process, from /proc. */
export function processUids(pid: number): number[] {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const line = /^Uid:\s+(.*)$/m.exec(status)?.[1] ?? ''
  return line.trim().split(/\s+/).map(Number)
}

/**
 * The argv of a read-only-root run: a private mount namespace where the container's mounted
 * root is remounted read-only, with only /var/lib/mtls-gateway (the state volume), /tmp (a
 * tmpfs, as the chart's emptyDir) and the config directory writable or mounted in.
 */
export function readOnlyRootArgv(o: { rootfs: string; uid: string; configDir: string; stateDir: string; command: string[] }): string[] {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`
  const r = q(o.rootfs)
  const script = [
    'set -e',
    `mount --bind ${r} ${r}`,
    `mount -o remount,bind,ro ${r}`,
    `mount --rbind /proc ${r}/proc`,
    `mount --rbind /dev ${r}/dev`,
    `mount -t tmpfs -o size=64m tmpfs ${r}/tmp`,
    `mount --bind ${q(o.stateDir)} ${r}/var/lib/mtls-gateway`,
    `mount --bind -o ro ${q(o.configDir)} ${r}/etc/mtls-gateway/config`,
    `exec chroot --userspec=${o.uid} ${r} ${o.command.map(q).join(' ')}`,
  ].join('\n')
  return ['unshare', '--mount', '--propagation', 'private', '--fork', 'sh', '-c', script]
}
