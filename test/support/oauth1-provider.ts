/**
 * Starts test/peers/oauth1_provider.py (python3-oauthlib) on an ephemeral port and stops it.
 * Debian installs python3-oauthlib for /usr/bin/python3 only, hence the absolute interpreter.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { START_DEADLINE_MS } from './eventually.js'

const PYTHON = '/usr/bin/python3'
const SCRIPT = fileURLToPath(new URL('../peers/oauth1_provider.py', import.meta.url))

/** A consumer the provider knows. */
export interface OAuth1ProviderClient {
  key: string
  secret?: string
  /** PEM public key (SPKI "PUBLIC KEY", PKCS#1 "RSA PUBLIC KEY" or ssh-rsa) for RSA-* methods. */
  rsa_public_key?: string
  callbacks?: string[]
  realms?: string[]
}

/** A token the provider has already issued. */
export interface OAuth1ProviderToken {
  client_key: string
  token: string
  secret: string
  realms?: string[]
}

/** The provider's JSON configuration (see the docstring of oauth1_provider.py). */
export interface OAuth1ProviderConfig {
  clients: OAuth1ProviderClient[]
  access_tokens?: OAuth1ProviderToken[]
  request_tokens?: (OAuth1ProviderToken & { callback?: string; verifier?: string | null })[]
  signature_methods?: string[]
  lengths?: Partial<Record<'client_key' | 'request_token' | 'access_token' | 'nonce' | 'verifier', [number, number]>>
  timestamp_lifetime?: number
  require_body_hash?: boolean
  enforce_ssl?: boolean
  tls?: { cert: string; key: string; ca?: string; require_client_cert?: boolean }
}

/** A running provider. */
export interface OAuth1Provider {
  port: number
  /** `http://127.0.0.1:<port>` (or https when tls is configured). */
  url: string
  /** What the provider printed to stderr so far (request log, tracebacks). */
  stderr(): string
  close(): Promise<void>
}

/** Spawns the provider with `config`, resolves once it prints its port. */
export async function startOAuth1Provider(config: OAuth1ProviderConfig): Promise<OAuth1Provider> {
  const dir = await mkdtemp(join(tmpdir(), 'oauth1-provider-'))
  const configPath = join(dir, 'config.json')
  await writeFile(configPath, JSON.stringify(config))
  const child = spawn(PYTHON, [SCRIPT, configPath, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))

  const ready = new Promise<{ port: number; scheme: string }>((resolve, reject) => {
    let stdout = ''
    const timer = setTimeout(() => reject(new Error(`oauth1 provider did not start in ${START_DEADLINE_MS} ms:\n${stderr}`)), START_DEADLINE_MS)
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      const line = stdout.split('\n').find((l) => l.startsWith('{'))
      if (line === undefined) return
      clearTimeout(timer)
      resolve(JSON.parse(line) as { port: number; scheme: string })
    })
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`oauth1 provider exited (${code ?? signal}) before listening:\n${stderr}`))
    })
  })

  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(killer)
    }
    await rm(dir, { recursive: true, force: true })
  }

  try {
    const { port, scheme } = await ready
    return { port, url: `${scheme}://127.0.0.1:${port}`, stderr: () => stderr, close }
  } catch (err) {
    await close()
    throw err
  }
}

/** One consumer with one issued access token, served over mTLS with `pki`'s server certificate (client certificate required). */
export function singleClientConfig(pki: { file(name: string): string }, consumer: { key: string; secret: string }, token: { token: string; secret: string }): OAuth1ProviderConfig {
  return {
    clients: [{ key: consumer.key, secret: consumer.secret }],
    access_tokens: [{ client_key: consumer.key, token: token.token, secret: token.secret }],
    tls: { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), require_client_cert: true },
  }
}
