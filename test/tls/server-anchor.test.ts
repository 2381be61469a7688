/**
 * serverAnchor: which configured server root a real verified handshake's chain reached. The
 * server sends leaf + intermediate (never the root); Node completes the chain from the trust
 * store or not, and the answer must be the same root either way.
 */
import { X509Certificate } from 'node:crypto'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { connect, createServer, type TLSSocket } from 'node:tls'
import { describe, expect, it } from 'vitest'
import { issueCertificate, privateKeyPem, serverAnchor, type Issued } from '../../src/tls/index.js'

const DAY = 86_400_000
const x509 = (i: Issued): X509Certificate => new X509Certificate(i.pem)

/** Connects (verifying against `roots`) to a TLS server presenting `leaf` + `chain`; returns what serverAnchor says of the roots. */
async function anchorOf(leaf: Issued, chain: Issued[], roots: Issued[]): Promise<string | undefined> {
  const server = createServer({ cert: leaf.pem + chain.map((c) => c.pem).join(''), key: privateKeyPem(leaf, 'pkcs8') }, (s) => s.end())
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  try {
    const socket: TLSSocket = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', servername: 'localhost', ca: roots.map((r) => r.pem) })
    await once(socket, 'secureConnect')
    const anchor = serverAnchor(socket, roots.map(x509))
    socket.destroy()
    return anchor?.subject === undefined ? undefined : `${anchor.subject.trim()} ${anchor.validTo}`
  } finally {
    server.close()
  }
}

const label = (i: Issued): string => `${x509(i).subject.trim()} ${x509(i).validTo}`

describe('serverAnchor', () => {
  it('names the older of two roots when the chain (via an intermediate) reaches it, in either configured order', async () => {
    const older = await issueCertificate({ subject: 'CN=Older Root', ca: true, notAfter: new Date(Date.now() + 5 * DAY) })
    const newer = await issueCertificate({ subject: 'CN=Newer Root', ca: true, notAfter: new Date(Date.now() + 200 * DAY) })
    const inter = await issueCertificate({ subject: 'CN=Inter', issuer: older, ca: true, pathLength: 0 })
    const leaf = await issueCertificate({ subject: 'CN=localhost', issuer: inter, usages: ['serverAuth'], names: ['localhost'] })
    expect(await anchorOf(leaf, [inter], [older, newer])).toBe(label(older))
    expect(await anchorOf(leaf, [inter], [newer, older])).toBe(label(older))
  })

  it('of a root renewed with its key (both verify the chain), names the one that expires last, in either configured order', async () => {
    const first = await issueCertificate({ subject: 'CN=Partner Root', ca: true, notAfter: new Date(Date.now() + 5 * DAY) })
    const renewed = await issueCertificate({ subject: 'CN=Partner Root', keys: first.keys, ca: true, notAfter: new Date(Date.now() + 400 * DAY) })
    const leaf = await issueCertificate({ subject: 'CN=localhost', issuer: first, usages: ['serverAuth'], names: ['localhost'] })
    expect(await anchorOf(leaf, [], [first, renewed])).toBe(label(renewed))
    expect(await anchorOf(leaf, [], [renewed, first])).toBe(label(renewed))
  })
})
