/**
 * Starts test/support/b-binder-backend.py (Python's wsgiref behind mTLS, binding JSON bodies the
 * way case-insensitive binders do) on an ephemeral port of 127.0.0.1, and stops it.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const SCRIPT = fileURLToPath(new URL('./b-binder-backend.py', import.meta.url))
const START_TIMEOUT_MS = 40_000

/** What the backend read from a request. */
export interface BinderReading {
  /** Per `?bind=` key path: every value a binder ignoring case may read there. */
  bound: Record<string, unknown[]>
  http: Record<string, string>
  path_info: string
  raw_path: string
  /** The request body as received. */
  body: string
}

export interface BinderBackend {
  port: number
  close(): Promise<void>
}

/** Spawns the backend with a server certificate and the CA its clients' certificates must chain to. */
export async function startBinderBackend(files: { cert: string; key: string; ca: string }): Promise<BinderBackend> {
  const child = spawn('/usr/bin/python3', [SCRIPT, files.cert, files.key, files.ca], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => void (stderr += chunk))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await exited
    }
  }
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let stdout = ''
      const timer = setTimeout(() => reject(new Error(`binder backend did not start in ${START_TIMEOUT_MS} ms:\n${stderr}`)), START_TIMEOUT_MS)
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk
        const line = stdout.split('\n').find((l) => l.startsWith('{'))
        if (line === undefined) return
        clearTimeout(timer)
        resolve((JSON.parse(line) as { port: number }).port)
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`binder backend exited (${code ?? signal}) before listening:\n${stderr}`))
      })
    })
    return { port, close }
  } catch (err) {
    await close()
    throw err
  }
}
