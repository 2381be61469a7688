/**
 * The one way the gateway closes a connection after its last answer: every answer with
 * `Connection: close` (its own errors, a drain's, an ordinary answer it relays), a raw refusal,
 * the end of a drain. Closing a socket with bytes still arriving, or unread, makes the kernel answer
 * with a reset, and the caller (an upload still sending, requests it pipelined) loses what it had
 * not read of the answer yet. Like nginx's lingering close: half-close after the answer, go on
 * reading and discarding what arrives, then close: once the caller closes its side, else after
 * LINGER_MS or LINGER_BYTES, whichever comes first, so a slow or silent caller holds it no longer.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { bodyArriving } from './request-progress.js'

/** How long a closing connection keeps discarding what the client still sends. */
const LINGER_MS = 2000

/** How much it discards at most: beyond, the caller is flooding, not finishing what was in flight. */
const LINGER_BYTES = 16 * 1024 * 1024

/** How often the bytes discarded are counted. */
const COUNT_EVERY_MS = 100

/** Connections closing lingering: what they still read is discarded, whatever it is. */
const lingering = new WeakSet<Duplex>()

/** True while `socket` closes lingering (its last answer sent, discarding what arrives until it closes). */
export function isLingering(socket: Duplex): boolean {
  return lingering.has(socket)
}

/** Half-closes `socket` after what is written on it, discards what arrives within the bounds, then destroys it. */
export function closeLingering(socket: Duplex): void {
  socket.end()
  if (lingering.has(socket) || socket.destroyed) return
  lingering.add(socket)
  // Reading goes on as Node's server reads (never resumed here: it pauses a socket while the answers
  // before are unsent and asserts it gets no bytes then). What still arrives of a body is dropped by
  // its parser: pushed on to its reader (an upstream call answered already, a request never started),
  // reading stopped once that reader paused, and the caller's bytes piled up unread until the reset.
  dropBody(bodyArriving(socket)?.req)
  const read = (): number => (socket as Duplex & { bytesRead?: number }).bytesRead ?? 0
  const from = read()
  const timer = setTimeout(() => socket.destroy(), LINGER_MS)
  const counter = setInterval(() => void (read() - from > LINGER_BYTES && socket.destroy()), COUNT_EVERY_MS)
  timer.unref()
  counter.unref()
  socket.once('close', () => void (clearTimeout(timer), clearInterval(counter)))
}

/** Node's parser drops what arrives of `req`'s body from now on (its _dump, as for a body nobody reads), and reading resumes. */
function dropBody(req: IncomingMessage | undefined): void {
  const dumpable = req as (IncomingMessage & { _dump?(): void }) | undefined
  if (dumpable?._dump) dumpable._dump()
  else dumpable?.resume()
}

/** Node ends the connection of an answer with `Connection: close` with socket.destroySoon(), destroying it once written: make that a lingering close. */
export function lingerOnClose(socket: Duplex): void {
  ;(socket as Duplex & { destroySoon(): void }).destroySoon = () => closeLingering(socket)
}
