/**
 * Starts test/support/b-binder-backend.py (Python's wsgiref behind mTLS, binding JSON bodies the
 * way case-insensitive binders do) on an ephemeral port of 127.0.0.1, and stops it.
 */
import { fileURLToPath } from 'node:url'
import { startPythonBackend, type BackendFiles } from './wsgi-backend.js'

const SCRIPT = fileURLToPath(new URL('./b-binder-backend.py', import.meta.url))

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
export async function startBinderBackend(files: BackendFiles): Promise<BinderBackend> {
  return startPythonBackend(SCRIPT, 'binder backend', files)
}
