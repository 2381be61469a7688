/**
 * `mtls-gateway pki`: a throw-away root → intermediate → server + client PKI for trying
 * the gateway out. Never for production.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeFolders } from '../process/index.js'
import { issueCertificate, privateKeyPem, type KeyKind } from './pki.js'
import { createInterceptionCa } from './mint.js'

export interface DevPkiOptions {
  dir: string
  /** Names for the server certificate besides localhost / 127.0.0.1 / ::1. */
  hosts?: string[]
  kind?: KeyKind
}

export interface DevPkiFiles {
  rootCert: string
  rootKey: string
  intermediateCert: string
  serverCert: string
  serverKey: string
  clientCert: string
  clientKey: string
}

// One level at a time (make-folders.ts): a recursive mkdir under /proc never returns.
function makeFolder(dir: string): void {
  const made = makeFolders(dir)
  if ('problem' in made) throw new Error(made.problem)
}

/** Writes the dev PKI under `dir` (mode 0600 for keys) and returns the file paths. */
export async function writeDevPki(o: DevPkiOptions): Promise<DevPkiFiles> {
  const kind = o.kind ?? 'p256'
  makeFolder(o.dir)
  const root = await issueCertificate({ subject: 'CN=mtls-gateway dev root CA,O=mtls-gateway dev', kind, ca: true, notAfter: new Date(Date.now() + 365 * 86_400_000) })
  const inter = await issueCertificate({ subject: 'CN=mtls-gateway dev intermediate CA,O=mtls-gateway dev', issuer: root, ca: true, pathLength: 0 })
  const names = ['localhost', '127.0.0.1', '::1', 'api.partner.test', ...(o.hosts ?? [])]
  const server = await issueCertificate({ subject: 'CN=api.partner.test,O=mtls-gateway dev', issuer: inter, usages: ['serverAuth'], names })
  const client = await issueCertificate({ subject: 'CN=bot-runtime,OU=gateway,O=mtls-gateway dev', issuer: inter, usages: ['clientAuth'] })
  const files: DevPkiFiles = {
    rootCert: join(o.dir, 'root-ca.crt'),
    rootKey: join(o.dir, 'root-ca.key'),
    intermediateCert: join(o.dir, 'intermediate-ca.crt'),
    serverCert: join(o.dir, 'server.crt'),
    serverKey: join(o.dir, 'server.key'),
    clientCert: join(o.dir, 'client.crt'),
    clientKey: join(o.dir, 'client.key'),
  }
  const write = (file: string, text: string, secret = false): void => writeFileSync(file, text, { mode: secret ? 0o600 : 0o644 })
  write(files.rootCert, root.pem)
  write(files.rootKey, privateKeyPem(root), true)
  write(files.intermediateCert, inter.pem)
  write(files.serverCert, server.pem + inter.pem)
  write(files.serverKey, privateKeyPem(server), true)
  write(files.clientCert, client.pem)
  write(files.clientKey, privateKeyPem(client), true)
  return files
}

/** Writes interception-ca.crt / interception-ca.key (0600) under `dir`. */
export async function writeInterceptionCa(dir: string): Promise<{ caCert: string; caKey: string }> {
  makeFolder(dir)
  const ca = await createInterceptionCa()
  const files = { caCert: join(dir, 'interception-ca.crt'), caKey: join(dir, 'interception-ca.key') }
  writeFileSync(files.caCert, ca.certPem, { mode: 0o644 })
  writeFileSync(files.caKey, ca.keyPem, { mode: 0o600 })
  return files
}
