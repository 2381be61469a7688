/**
 * A CONNECT tunnel through an upstream HTTP proxy (an on-premises connector or corporate
 * proxy). The mTLS handshake then runs end to end inside it: the proxy sees only bytes.
 */
import { connect as netConnect, isIP, type LookupFunction, type Socket } from 'node:net'
import { describeDialFailure } from '../tls/index.js'
import { EgressDeniedError } from './egress.js'

export interface ProxyTarget {
  /** http://host:port of the proxy. */
  url: string
  username?: string
  password?: string
}

/** Marks proxy failures so the error table can name them. */
export const PROXY_FAILED = 'ERR_GATEWAY_PROXY_FAILED'

const MAX_HEAD = 16 * 1024

/** The proxy's host (brackets off an IPv6 literal) and port, as dialled. */
export function proxyAddress(via: ProxyTarget): { host: string; port: number } {
  const proxy = new URL(via.url)
  return { host: proxy.hostname.replace(/^\[|\]$/g, ''), port: Number(proxy.port) || 80 }
}

/** The CONNECT request's head, with the proxy's Basic credentials when it has some. */
function connectRequest(via: ProxyTarget, authority: string): string {
  const auth = via.username !== undefined ? `Proxy-Authorization: Basic ${Buffer.from(`${via.username}:${via.password ?? ''}`).toString('base64')}\r\n` : ''
  return `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`
}

/** What a CONNECT answer's first bytes must begin with: a proxy that says anything else does not speak HTTP. */
const STATUS_LINE_START = Buffer.from('HTTP/1.')

/** One CONNECT exchange, as its failure messages name it. */
interface Exchange {
  /** The proxy's host:port as written in via.url. */
  readonly name: string
  /** The CONNECT's host:port. */
  readonly authority: string
  /** What a 407 means here: whether the credentials are missing or were refused. */
  readonly on407: string
  /** Whether the CONNECT was written (the proxy's socket connected). */
  readonly sent: () => boolean
}

/** A 407 read against the config: missing credentials are the operator's to add, refused ones to correct (a password alone is a config error). */
function authRefusal(via: ProxyTarget): string {
  if (via.username !== undefined) return 'Proxy Authentication Required: it refused the configured via.username and via.password'
  return 'Proxy Authentication Required, and via.username and via.password are not configured: set them'
}

/** The answer so far: undefined while it may still come, a failure's message, or the bytes after a 200's head. */
function readAnswer(head: Buffer, { name, authority, on407 }: Exchange): { rest: Buffer } | string | undefined {
  const n = Math.min(head.length, STATUS_LINE_START.length)
  // At once, not at the deadline: an SSH or TLS server behind the connector's port never sends \r\n\r\n.
  if (!head.subarray(0, n).equals(STATUS_LINE_START.subarray(0, n))) return `upstream proxy ${name} answered something that is not HTTP`
  const end = head.indexOf('\r\n\r\n')
  if (end === -1) return head.length > MAX_HEAD ? `upstream proxy ${name}: CONNECT answer too large` : undefined
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, end).toString('latin1'))?.[1]
  if (status !== '200') return `upstream proxy ${name} refused CONNECT ${authority}: HTTP ${status ?? '?'}${status === '407' ? ` ${on407}` : ''}`
  return { rest: head.subarray(end + 4) }
}

/**
 * Opens `CONNECT host:port` through the proxy; resolves with the raw tunnel socket. `lookup`
 * resolves a proxy named by host name (the egress policy's checking lookup).
 */
export function openTunnel(via: ProxyTarget, host: string, port: number, timeoutMs: number, lookup?: LookupFunction): Promise<Socket> {
  const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`
  const dialled = proxyAddress(via)
  const socket = netConnect({ host: dialled.host, port: dialled.port, ...(lookup && isIP(dialled.host) === 0 ? { lookup } : {}) })
  let sent = false
  socket.once('connect', () => {
    sent = true
    socket.write(connectRequest(via, authority))
  })
  return connectAnswer(socket, { name: new URL(via.url).host, authority, on407: authRefusal(via), sent: () => sent }, timeoutMs)
}

/**
 * The proxy's answer to the CONNECT on `socket`. Settles on every way the exchange can end: a 200's
 * head, any other answer, bytes that are not HTTP, the peer's end or close, a socket error, the deadline.
 */
function connectAnswer(socket: Socket, exchange: Exchange, timeoutMs: number): Promise<Socket> {
  const { name, authority } = exchange
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0)
    const settle = (): void => {
      clearTimeout(deadline)
      socket.off('data', onData).off('end', onClosed).off('close', onClosed)
    }
    const fail = (msg: string, code = PROXY_FAILED): void => {
      settle()
      socket.destroy()
      reject(Object.assign(new Error(msg), { code }))
    }
    // A deadline (0: none), not an idle timer, which a connector trickling its answer reset byte by byte for hours.
    const deadline = timeoutMs > 0 ? setTimeout(() => fail(`upstream proxy ${name}: no CONNECT answer in ${timeoutMs} ms`, 'UND_ERR_CONNECT_TIMEOUT'), timeoutMs) : undefined
    const onError = (e: NodeJS.ErrnoException): void => {
      // The egress policy refused the proxy's address: that refusal, as it is, is the answer.
      if (e instanceof EgressDeniedError) return void (settle(), socket.destroy(), reject(e))
      const failure = socketFailure(e, exchange, head)
      fail(failure.msg, failure.code)
    }
    const onClosed = (): void => fail(`upstream proxy ${name} closed the connection ${head.length === 0 ? 'before answering CONNECT' : 'before the end of its CONNECT answer'}`)
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk])
      const answer = readAnswer(head, exchange)
      if (answer === undefined) return
      if (typeof answer === 'string') return fail(answer)
      settle()
      socket.off('error', onError)
      if (answer.rest.length > 0) socket.unshift(answer.rest)
      socket.pause() // TLS takes over the stream; nothing may be read and dropped before it does
      resolve(socket)
    }
    socket.on('data', onData).once('end', onClosed).once('close', onClosed).once('error', onError)
  })
}

/** A socket error of the exchange: its message, and the code the error table reads its reason by. */
function socketFailure(e: NodeJS.ErrnoException, exchange: Exchange, head: Buffer): { msg: string; code: string } {
  const { name } = exchange
  // Out of descriptors is this process's state, a timeout a 504 like the deadline's: they keep their own reasons.
  if (e.code === 'EMFILE' || e.code === 'ENFILE' || e.code === 'ETIMEDOUT') return { msg: `upstream proxy ${name}: ${e.code}`, code: e.code }
  if (e.code === 'ECONNREFUSED') return { msg: `upstream proxy ${name}: connection refused`, code: PROXY_FAILED }
  // The rest failed the proxy's socket, not the endpoint's: named as the proxy's, like its other failures.
  const when = stage(exchange, head)
  if (e.code === 'ECONNRESET' || e.code === 'EPIPE') return { msg: `upstream proxy ${name} reset the connection ${when} (${e.code})`, code: PROXY_FAILED }
  return { msg: `upstream proxy ${name}: ${describeDialFailure(e.code).text} ${when}`, code: PROXY_FAILED }
}

/** Where in the exchange a socket failure came: before the CONNECT was sent, before any answer, or partway through one. */
function stage({ authority, sent }: Exchange, head: Buffer): string {
  if (!sent()) return `before CONNECT ${authority} was sent`
  return head.length === 0 ? `before answering CONNECT ${authority}` : `before the end of its answer to CONNECT ${authority}`
}
