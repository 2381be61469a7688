/**
 * Starts test/peers/wsgi_backend.py (Python's wsgiref behind mTLS: a CGI-style backend) on an
 * ephemeral port of 127.0.0.1 and stops it.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { START_DEADLINE_MS } from './eventually.js'

const SCRIPT = fileURLToPath(new URL('../peers/wsgi_backend.py', import.meta.url))

/** What the WSGI application read from a request. */
export interface WsgiReading {
  http: Record<string, string>
  path_info: string
  query_string: string
  query: Record<string, string[]>
  query_semicolon: Record<string, string[]>
  form: Record<string, string[]>
}

export interface WsgiBackend {
  port: number
  stderr(): string
  close(): Promise<void>
}

/** Spawns the backend with a server certificate and the CA its clients' certificates must chain to. */
export async function startWsgiBackend(files: BackendFiles): Promise<WsgiBackend> {
  return startPythonBackend(SCRIPT, 'wsgi backend', files)
}

/** The files a Python mTLS backend is started with. */
export interface BackendFiles {
  cert: string
  key: string
  ca: string
}

/**
 * Spawns a Python backend script that prints `{"port": N}` once it listens on 127.0.0.1, and
 * stops it on close (test/support/b-binder-backend.ts starts another script this way).
 */
export async function startPythonBackend(script: string, name: string, files: BackendFiles): Promise<WsgiBackend> {
  const child = spawn('/usr/bin/python3', [script, files.cert, files.key, files.ca], { stdio: ['ignore', 'pipe', 'pipe'] })
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
      const timer = setTimeout(() => reject(new Error(`${name} did not start in ${START_DEADLINE_MS} ms:\n${stderr}`)), START_DEADLINE_MS)
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk
        const line = stdout.split('\n').find((l) => l.startsWith('{'))
        if (line === undefined) return
        clearTimeout(timer)
        resolve((JSON.parse(line) as { port: number }).port)
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`${name} exited (${code ?? signal}) before listening:\n${stderr}`))
      })
    })
    return { port, stderr: () => stderr, close }
  } catch (err) {
    await close()
    throw err
  }
}
