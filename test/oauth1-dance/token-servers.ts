/**
 * A token URL's servers for the tests of which endpoint dials it: real TLS servers on 127.0.0.1,
 * 127.0.0.2 and 127.0.0.3, one port, each call recorded with the address it reached, the SNI and
 * the client certificate's CN (any certificate is accepted: the record says which came).
 */
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { TestPki } from '../support/pki.js'

export const ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3'] as const

/** One call as its server saw it. */
export interface SeenCall { address: string; sni: string | false; client: string | null; path: string }

export interface TokenServers {
  port: number
  /** Every call so far, in order (tests empty it before a call). */
  seen: SeenCall[]
  close(): Promise<void>
}

/** Starts the servers with the PKI's server certificate; `answer(path)` is each reply's form body. */
export async function startTokenServers(pki: TestPki, answer: (path: string) => string): Promise<TokenServers> {
  const tls = { cert: readFileSync(pki.file('server-chain.crt')), key: readFileSync(pki.file('server.key')), ca: readFileSync(pki.file('root.crt')) }
  const servers: Server[] = []
  const seen: SeenCall[] = []
  let port = 0
  for (const address of ADDRESSES) {
    const server = createServer({ ...tls, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const s = req.socket as TLSSocket
      const peer = s.getPeerCertificate()
      const path = (req.url ?? '').split('?')[0] as string
      seen.push({ address, sni: (s as TLSSocket & { servername: string | false }).servername, client: peer?.subject ? String(peer.subject.CN) : null, path })
      req.resume()
      res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' }).end(answer(path))
    })
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, address, () => resolve()))
    port = (server.address() as AddressInfo).port
    servers.push(server)
  }
  return {
    port,
    seen,
    close: () => Promise.all(servers.map((s) => new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections() }))).then(() => undefined),
  }
}
