/**
 * The benchmark's throw-away PKI: root → intermediate → upstream server and two client
 * certificates (one per gateway endpoint, so the upstream can tell them apart), plus the
 * interception CA. Written to the run's temp dir.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { issueCertificate, privateKeyPem, writeInterceptionCa, type Issued } from '../src/tls/index.js'

/** Host names the upstream certificate covers; endpoints are told apart by host. */
export const HOSTS = { plain: 'api.bench.test', signed: 'signed.bench.test' } as const

/** Subject CNs of the two client certificates; the upstream echoes the DN it verified. */
export const CLIENTS = { plain: 'bench-plain', signed: 'bench-signed' } as const

export interface BenchPki {
  root: string
  inter: string
  /** Leaf + intermediate, as the upstream presents it. */
  serverChain: string
  serverKey: string
  /** Per client: leaf, leaf+intermediate (for nginx), key. */
  clients: Record<keyof typeof CLIENTS, { cert: string; chain: string; key: string }>
  interceptionCa: { caCert: string; caKey: string }
}

/** Issues everything (P-256) into `dir`. */
export async function writeBenchPki(dir: string): Promise<BenchPki> {
  const write = (name: string, text: string): string => {
    const file = join(dir, name)
    writeFileSync(file, text, { mode: 0o600 })
    return file
  }
  const root = await issueCertificate({ subject: 'CN=Bench Root CA,O=mtls-gateway bench', kind: 'p256', ca: true })
  const inter = await issueCertificate({ subject: 'CN=Bench Intermediate CA,O=mtls-gateway bench', issuer: root, ca: true, pathLength: 0 })
  const server = await issueCertificate({ subject: `CN=${HOSTS.plain}`, issuer: inter, usages: ['serverAuth'], names: [HOSTS.plain, HOSTS.signed, '127.0.0.1'] })
  const client = async (cn: string, base: string): Promise<{ cert: string; chain: string; key: string }> => {
    const issued: Issued = await issueCertificate({ subject: `CN=${cn},O=mtls-gateway bench`, issuer: inter, usages: ['clientAuth'] })
    return { cert: write(`${base}.crt`, issued.pem), chain: write(`${base}-chain.crt`, issued.pem + inter.pem), key: write(`${base}.key`, privateKeyPem(issued)) }
  }
  return {
    root: write('root.crt', root.pem),
    inter: write('inter.crt', inter.pem),
    serverChain: write('server-chain.crt', server.pem + inter.pem),
    serverKey: write('server.key', privateKeyPem(server)),
    clients: { plain: await client(CLIENTS.plain, 'client-plain'), signed: await client(CLIENTS.signed, 'client-signed') },
    interceptionCa: await writeInterceptionCa(join(dir, 'ica')),
  }
}
