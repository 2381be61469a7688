/**
 * Runs a compiled-node script inside a fresh loopback-only network namespace
 * (`unshare --net` as root, then `ip link set lo up`) and talks to it in JSON lines over
 * stdin/stdout. Whatever the script dials can never leave the machine: the namespace has
 * no interface but `lo`.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface, type Interface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll } from 'vitest'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { clientTlsYaml, createTestPki, type TestPki } from './pki.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

function newestMtime(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs)
  }
  return newest
}

/** Builds dist/ when any src/ file is newer than dist/src/cli/gateway-root.js (`npm test` builds first). */
export async function ensureDistBuilt(): Promise<void> {
  const marker = join(ROOT, 'dist/src/cli/gateway-root.js')
  if (existsSync(marker) && statSync(marker).mtimeMs >= newestMtime(join(ROOT, 'src'))) return
  await promisify(execFile)(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: ROOT, timeout: 240_000 }).catch(() => undefined)
  // As `npm run build`: the bundle in dist/src/main.js, not tsc's unbundled entry.
  await promisify(execFile)(process.execPath, ['dist/scripts/bundle.js'], { cwd: ROOT, timeout: 120_000 }).catch(() => undefined)
  if (!existsSync(marker)) throw new Error('dist/ is missing after `tsc -p tsconfig.json`')
}

export interface NetnsProcess {
  /** Sends one JSON message and resolves with the next JSON line the script writes. */
  ask<T>(message: unknown): Promise<T>
  close(): Promise<void>
}

/** Starts `node <script> ...args` in a new network namespace; resolves after its first line. */
export async function startInNetns(script: string, args: string[]): Promise<NetnsProcess> {
  const quoted = [process.execPath, script, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
  const child: ChildProcessWithoutNullStreams = spawn('unshare', ['--net', 'sh', '-c', `ip link set lo up && exec ${quoted}`], { stdio: 'pipe' })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000)
  })
  const lines: Interface = createInterface({ input: child.stdout })
  const waiting: ((line: string) => void)[] = []
  const failures: ((err: Error) => void)[] = []
  lines.on('line', (line) => waiting.shift()?.(line))
  child.once('exit', (code) => {
    for (const fail of failures.splice(0)) fail(new Error(`netns script exited (${code}): ${stderr}`))
  })
  const nextLine = (): Promise<string> =>
    new Promise((resolve, reject) => {
      waiting.push((line) => {
        failures.shift()
        resolve(line)
      })
      failures.push(reject)
    })
  await nextLine()
  return {
    async ask<T>(message: unknown): Promise<T> {
      const reply = nextLine()
      child.stdin.write(JSON.stringify(message) + '\n')
      return JSON.parse(await reply) as T
    },
    async close() {
      if (child.exitCode !== null) return
      const exited = new Promise((r) => child.once('exit', r))
      child.stdin.write(JSON.stringify({ stop: true }) + '\n')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
  }
}

/**
 * A test file's gateway harness in a namespace, started once for the file with a fresh PKI and
 * interception CA; its arguments: dist root, PKI dir, client TLS YAML, CA cert, CA key.
 * `stop()` asks the harness for its totals and ends it (afterAll then has nothing to close).
 */
export function useInterceptionHarness(script: string): { ask<T>(message: unknown): Promise<T>; stop<T>(): Promise<T> } {
  let pki: TestPki | undefined
  let ns: NetnsProcess | undefined
  beforeAll(async () => {
    await ensureDistBuilt()
    pki = await createTestPki('p256')
    const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
    ns = await startInNetns(script, [`${ROOT}dist`, pki.dir, clientTlsYaml(pki), ica.caCert, ica.caKey])
  }, 240_000)
  afterAll(async () => {
    await ns?.close()
    pki?.cleanup()
  })
  return {
    ask: <T>(message: unknown) => (ns as NetnsProcess).ask<T>(message),
    async stop<T>() {
      const totals = await (ns as NetnsProcess).ask<T>({ stop: true })
      ns = undefined
      return totals
    },
  }
}
