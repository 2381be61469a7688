/**
 * The one way the gateway closes a connection after its last answer: every answer with
 * `Connection: close` (its own errors, a drain's, an ordinary answer it relays), a raw refusal,
 * the end of a drain. Closing a socket with bytes still arriving, or unread, makes the kernel answer
 * with a reset, and the caller (an upload still sending, requests it pipelined) loses what it had
 * not read of the answer yet. Like nginx's lingering close: half-close after the answer, go on
 * reading and discarding what arrives, then close: once the caller closes its side, else after
 * LINGER_LIMITS' time or bytes, whichever comes first, so a slow or silent caller holds it no longer.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { bodyArriving } from './request-progress.js'

/** How long a closing connection keeps discarding (`ms`), and how much at most (`bytes`). */
export interface LingerLimits {
  readonly ms: number
  readonly bytes: number
}

/**
 * The gateway's limits: 2 s; 16 MiB, beyond which the caller is flooding, not finishing what was in
 * flight (counted as each read arrives: the most read is this and the one read that crossed it, 64 KiB
 * at most on TCP).
 */
export const LINGER_LIMITS: LingerLimits = Object.freeze({ ms: 2000, bytes: 16 * 1024 * 1024 })

/** Connections closing lingering: what they still read is discarded, whatever it is. */
const lingering = new WeakSet<Duplex>()
/** Connections whose request parser failed: it is fed nothing once they linger (stopParsing). */
const parserFailed = new WeakSet<Duplex>()
/** The listener discarding each read of a lingering connection, once reading. */
const discards = new WeakMap<Duplex, (chunk: Buffer) => void>()

/** True while `socket` closes lingering (its last answer sent, discarding what arrives until it closes). */
export function isLingering(socket: Duplex): boolean {
  return lingering.has(socket)
}

/**
 * Stops reading `socket`, which is to close after the answers still on their way (bytes after a request
 * that said `Connection: close`, a CONNECT behind a refused request: never processed, RFC 9112 §9.6),
 * so a caller cannot make it read without bound meanwhile; once it closes lingering, reading resumes and
 * goes on (closeLingering), each read discarded.
 */
export function readNoMoreUntilClosing(socket: Duplex): void {
  if (!lingering.has(socket)) socket.pause()
}

/**
 * The request parser of `socket` failed (a parse error: a malformed request, bytes behind one that asked
 * to close): once the connection lingers, its reads go to the discarding alone. Node's server feeds
 * every read to the parser, which fails again at each one: a 'clientError' per read (an Error with its
 * stack, the read attached) until the connection closed, each answered by nothing.
 */
export function stopParsing(socket: Duplex): void {
  parserFailed.add(socket)
  unfeedParser(socket)
}

/** A lingering connection whose parser failed: every 'data' listener but the discarding one goes (Node's server's own feeds its parser). */
function unfeedParser(socket: Duplex): void {
  const discard = discards.get(socket)
  if (discard === undefined || !parserFailed.has(socket)) return
  for (const l of socket.listeners('data')) if (l !== discard) socket.off('data', l as (chunk: Buffer) => void)
}

/** Half-closes `socket` after what is written on it, discards what arrives within the bounds, then destroys it. */
export function closeLingering(socket: Duplex, limits: LingerLimits = LINGER_LIMITS): void {
  socket.end()
  if (lingering.has(socket) || socket.destroyed) return
  lingering.add(socket)
  // What still arrives of a body is dropped by its parser: pushed on to its reader (an upstream call
  // answered already, a request never started), reading stopped once that reader paused, and the
  // caller's bytes piled up unread until the reset.
  dropBody(bodyArriving(socket)?.req)
  let discarded = 0
  // Each read counted as it arrives: closed as soon as the bound is read.
  keepReading(socket, (chunk) => void ((discarded += chunk.length) >= limits.bytes && socket.destroy()))
  const timer = setTimeout(() => socket.destroy(), limits.ms)
  timer.unref()
  socket.once('close', () => clearTimeout(timer))
}

/**
 * Reads `socket` on, each read handed to `count`: resumed where the gateway stopped it
 * (readNoMoreUntilClosing) or nobody reads it (a CONNECT's socket, handed over by Node's server: a
 * refusal written on it). Not while Node's server holds it paused (`_paused`: the answers before are
 * unsent; it asserts no bytes arrive then): it resumes it itself once they have left. On a connection
 * Node's HTTP server reads, its parser takes the reads from the socket's handle, and a 'data' listener
 * gives them back to the socket: added while reading is stopped, the socket would never start it
 * again (Node restarts it from its own 'resume' listener, which that removes), so only once resumed.
 */
function keepReading(socket: Duplex, count: (chunk: Buffer) => void): void {
  const discard = (): void => {
    socket.on('data', count)
    discards.set(socket, count)
    unfeedParser(socket)
  }
  if (socket.readableFlowing === true) return discard()
  socket.once('resume', discard)
  const held = socket as Duplex & { _paused?: boolean; parser?: unknown }
  if (!(held._paused === true && held.parser)) socket.resume()
}

/** Node's parser drops what arrives of `req`'s body from now on (its _dump, as for a body nobody reads), and reading resumes. */
function dropBody(req: IncomingMessage | undefined): void {
  const dumpable = req as (IncomingMessage & { _dump?(): void }) | undefined
  if (dumpable?._dump) dumpable._dump()
  else dumpable?.resume()
}

/**
 * Node ends the connection of an answer with `Connection: close` with socket.destroySoon(), destroying it once written: make that a lingering close.
 * One function for every socket (Node calls it as a method): a closure of its own per socket kept closed connections alive through young collections (test/proxy/connection-guard-young.test.ts).
 */
export function lingerOnClose(socket: Duplex): void {
  ;(socket as Duplex & { destroySoon(): void }).destroySoon = destroyLingering
}

function destroyLingering(this: Duplex): void {
  closeLingering(this)
}
