/**
 * A backend on Go's crypto/tls that requires and verifies a client certificate
 * (test/support/go-mtls-server/main.go, built with the Debian golang-go: goBinary): what a Go service
 * accepts, beside the OpenSSL-based peers (nginx, HAProxy, s_server) of peers.ts.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { goBinary } from './go-build.js'

export interface GoMtlsServer {
  readonly port: number
  stop(): Promise<void>
}

/** Builds the server (unless built) and starts it on a free 127.0.0.1 port: `cert` (its chain), `key`, and `ca` verifying client certificates. */
export async function startGoMtlsServer(o: { cert: string; key: string; ca: string }): Promise<GoMtlsServer> {
  const child = spawn(goBinary('./test/support/go-mtls-server'), ['-cert', o.cert, '-key', o.key, '-ca', o.ca], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (l) => resolve(Number(l)))
    child.once('error', reject)
    void exited.then(() => reject(new Error('the Go mTLS server exited before listening')))
  })
  return {
    port,
    async stop() {
      child.stdin.end()
      await exited
    },
  }
}
