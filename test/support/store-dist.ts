import { spawn, execFile, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const FIXTURES = join(ROOT, 'test/store/fixtures')

/** True when every src/store/*.ts has an emitted dist/src/store/*.js at least as new. */
function distIsFresh(): boolean {
  const src = join(ROOT, 'src/store')
  return readdirSync(src)
    .filter((f) => f.endsWith('.ts'))
    .every((f) => {
      const out = join(ROOT, 'dist/src/store', f.replace(/\.ts$/, '.js'))
      return existsSync(out) && statSync(out).mtimeMs >= statSync(join(src, f)).mtimeMs
    })
}

/**
 * Child processes run the compiled store (plain node cannot load .ts on Node 20).
 * `npm test` builds first; a bare `vitest run` builds here when dist is missing or stale.
 * Other folders' type errors do not stop tsc from emitting.
 */
export async function ensureStoreBuilt(): Promise<void> {
  if (distIsFresh()) return
  const tsc = join(ROOT, 'node_modules/.bin/tsc')
  await promisify(execFile)(tsc, ['-p', 'tsconfig.json'], { cwd: ROOT, timeout: 240_000 }).catch(() => undefined)
  // As `npm run build`: the bundle in dist/src/main.js, not tsc's unbundled entry.
  await promisify(execFile)(process.execPath, ['dist/scripts/bundle.js'], { cwd: ROOT, timeout: 120_000 }).catch(() => undefined)
  if (!distIsFresh()) throw new Error('dist/src/store is missing or stale after `tsc -p tsconfig.json`')
}

/** A fixture child whose stdout is read line by line. */
export interface FixtureChild {
  readonly child: ChildProcessWithoutNullStreams
  /** Complete stdout lines so far (a line cut by SIGKILL is never included). */
  readonly lines: string[]
  /** Resolves once `pred` holds for the lines read so far. */
  waitFor(pred: (lines: string[]) => boolean, timeoutMs?: number): Promise<void>
  /** Resolves with the exit code or signal once stdout is drained. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  stderr(): string
}

/** Starts `node test/store/fixtures/<script> ...args`. */
export function spawnFixture(script: string, args: string[]): FixtureChild {
  const child = spawn(process.execPath, [join(FIXTURES, script), ...args], { cwd: ROOT })
  const lines: string[] = []
  let partial = ''
  let err = ''
  const waiters = new Set<() => void>()
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n')
    partial = parts.pop() ?? ''
    lines.push(...parts)
    for (const w of waiters) w()
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk
  })
  let done = false
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      done = true
      for (const w of waiters) w()
      resolve({ code, signal })
    })
  })
  return {
    child,
    lines,
    exited,
    stderr: () => err,
    waitFor(pred, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`fixture ${script}: timed out; stderr: ${err}`)), timeoutMs)
        const check = (): void => {
          if (pred(lines)) finish()
          else if (done) finish(new Error(`fixture ${script} exited early; stderr: ${err}`))
        }
        function finish(e?: Error): void {
          clearTimeout(timer)
          waiters.delete(check)
          if (e) reject(e)
          else resolve()
        }
        waiters.add(check)
        check()
      })
    },
  }
}
