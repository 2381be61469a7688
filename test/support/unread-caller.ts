/**
 * A caller that reads slowly and is still sending (unread-client.py, Python's ssl: Node's tls cannot
 * shrink a socket's receive buffer), for tests of how the gateway closes a connection after its last
 * answer: what the gateway answers waits in its send queue while the caller uploads, and the caller
 * reads only once the gateway has ended or closed the connection and it has sent twice more. Closed
 * at once, the connection is reset at those bytes and the answers not yet sent are lost; closed
 * lingering (its FIN after the answers, what arrives discarded), the caller reads them all.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Duplex } from 'node:stream'
import { eventually } from './eventually.js'

/** What the caller read, and the error that ended its reading (null: the gateway's FIN). */
export interface UnreadResult {
  received: Buffer
  error: string | null
}

export interface UnreadCaller {
  /** After the gateway ended or closed `socket()` (its side of the caller's connection): lets the caller send twice more, then reads to the end. */
  readAfterClose(socket: () => Duplex | undefined): Promise<UnreadResult>
  /** Reads to the end once it has sent what it writes first (at once, if that is sent). */
  read(): Promise<UnreadResult>
  kill(): void
}

export interface UnreadCallerOptions {
  port: number
  /** The server name a TLS caller asks for; absent: plain TCP. */
  serverName?: string
  /** The CA file that verifies the listener's certificate. */
  ca: string
  /** The caller's certificate (its chain after it) and key files. */
  cert?: { cert: string; key: string }
  /** The bytes it writes first (requests, latin1); then it goes on uploading 64 bytes each 20 ms. */
  sends: string
}

/** Starts the caller (a 2 KiB receive buffer), which writes `o.sends` at once. */
export function startUnreadCaller(o: UnreadCallerOptions): UnreadCaller {
  const args = [join(import.meta.dirname, 'unread-client.py'), String(o.port), o.serverName ?? '-', o.ca, '2048', ...(o.cert ? [o.cert.cert, o.cert.key] : [])]
  const client = spawn('/usr/bin/python3', args, { stdio: ['pipe', 'pipe', 'inherit'] })
  const out: string[] = []
  createInterface({ input: client.stdout }).on('line', (l) => void out.push(l))
  client.stdin.write(`${JSON.stringify(o.sends)}\n`)
  const read = async (): Promise<UnreadResult> => {
    const closed = new Promise((resolve) => client.once('close', resolve))
    client.stdin.write('read\n')
    await closed
    const last = JSON.parse(out.at(-1) ?? '{}') as { received: string; error: string | null }
    return { received: Buffer.from(last.received, 'base64'), error: last.error }
  }
  return {
    readAfterClose: async (socket) => {
      await eventually(() => { const s = socket(); return s !== undefined && (s.destroyed || s.writableFinished) }, 30_000, 'the gateway to close or end the connection')
      const sent = out.length
      await eventually(() => out.length >= sent + 2, 30_000, 'the caller to try sending twice more')
      return read()
    },
    read,
    kill: () => void client.kill(),
  }
}

/** The answers in `received`, in order: each status line's text up to the next one. */
export function answersIn(received: Buffer): Buffer[] {
  const text = received.toString('latin1')
  const starts = [...text.matchAll(/HTTP\/1\.1 \d{3} /g)].map((m) => m.index)
  return starts.map((start, i) => received.subarray(start, starts[i + 1] ?? received.length))
}
