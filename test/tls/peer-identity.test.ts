import { readFileSync } from 'node:fs'
import { createServer, connect, type TLSSocket } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { peerIdentity } from '../../src/tls/index.js'
import { createOpensslTestPki } from '../support/openssl-pki.js' // the first client certificate is the real openssl's
import type { TestPki } from '../support/pki.js'

// peerIdentity reads a connection's client certificate once and keeps it for the
// connection's later requests: every connection must still get its own caller, however the
// connections interleave, TLS 1.2 (renegotiation refused on every listener) as TLS 1.3.
let pki: TestPki
const closers: (() => void)[] = []

beforeAll(async () => {
  pki = await createOpensslTestPki()
})
afterAll(() => {
  closers.forEach((c) => c())
  pki?.cleanup()
})

async function serverSide(pair: { cert: string; key: string }, maxVersion: 'TLSv1.2' | 'TLSv1.3'): Promise<TLSSocket> {
  const server = createServer({ cert: readFileSync(pki.file('server-chain.crt')), key: readFileSync(pki.file('server.key')), ca: readFileSync(pki.file('root.crt')), requestCert: true, rejectUnauthorized: true, maxVersion })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const accepted = new Promise<TLSSocket>((resolve) => server.once('secureConnection', resolve))
  const client = connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1', servername: 'api.partner.test', ca: readFileSync(pki.file('root.crt')), cert: readFileSync(pair.cert), key: readFileSync(pair.key) })
  client.on('error', () => {})
  closers.push(() => (client.destroy(), server.close()))
  return accepted
}

describe('peerIdentity', () => {
  it('gives each connection its own client certificate, on every read, on TLS 1.3 and 1.2', async () => {
    const second = await pki.issue({ subject: 'CN=second-caller', issuer: pki.inter, usages: ['clientAuth'] })
    const secondPair = pki.writePair('second', second, { chain: [pki.inter] })
    const firstPair = { cert: pki.writePair('first', pki.client, { chain: [pki.inter] }).cert, key: pki.file('client.key') }
    const sockets = [
      { socket: await serverSide(firstPair, 'TLSv1.3'), cn: 'bot-runtime', protocol: 'TLSv1.3' },
      { socket: await serverSide(secondPair, 'TLSv1.3'), cn: 'second-caller', protocol: 'TLSv1.3' },
      { socket: await serverSide(secondPair, 'TLSv1.2'), cn: 'second-caller', protocol: 'TLSv1.2' },
      { socket: await serverSide(firstPair, 'TLSv1.2'), cn: 'bot-runtime', protocol: 'TLSv1.2' },
    ]
    for (let round = 0; round < 3; round++) {
      for (const { socket, cn, protocol } of sockets) {
        expect(socket.getProtocol()).toBe(protocol)
        const id = peerIdentity(socket)
        expect(id, `${cn} over ${protocol}, read ${round + 1}`).toMatchObject({ authorized: true, subjectCN: cn })
        expect(id?.fingerprint).toBe(socket.getPeerX509Certificate()?.fingerprint256)
      }
    }
  })
})
