/**
 * A CONNECT tunnel through an upstream HTTP proxy (an on-premises connector or corporate
 * proxy). The mTLS handshake then runs end to end inside it: the proxy sees only bytes.
 */
import { connect as netConnect, isIP, type LookupFunction, type Socket } from 'node:net'
import { describeDialFailure, fdExhaustionText } from '../tls/index.js'
import { EgressDeniedError } from './egress.js'

export interface ProxyTarget {
  /** http://host:port of the proxy. */
  url: string
  username?: string
  password?: string
}

/** Marks proxy failures so the error table can name them. */
export const PROXY_FAILED = 'ERR_GATEWAY_PROXY_FAILED'
/** Marks a via dial that ran out of `timeouts.connect` (504), its message naming the proxy and the CONNECT. */
export const PROXY_TIMEOUT = 'ERR_GATEWAY_PROXY_TIMEOUT'
/** Marks a via dial this process had no descriptor for (503 fd_exhausted), its message naming the proxy and the CONNECT. */
export const PROXY_FD_EXHAUSTED = 'ERR_GATEWAY_PROXY_FD_EXHAUSTED'

const MAX_HEAD = 16 * 1024

/** The proxy's host (brackets off an IPv6 literal) and port, as dialled. */
export function proxyAddress(via: ProxyTarget): { host: string; port: number } {
  const proxy = new URL(via.url)
  return { host: proxy.hostname.replace(/^\[|\]$/g, ''), port: Number(proxy.port) || 80 }
}

/** The CONNECT's host:port (brackets around an IPv6 literal). */
export function connectAuthority(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}

/** The proxy's host:port as written in via.url, as messages name it. */
const proxyName = (via: ProxyTarget): string => new URL(via.url).host

/**
 * A via dial's timeout: the proxy, the CONNECT's target and where the exchange stood (`stood`),
 * or, once the tunnel is up, that no TLS handshake came through it.
 */
export function viaTimeout(via: ProxyTarget, authority: string, timeoutMs: number, stood = `no TLS handshake through its tunnel to ${authority}`): Error {
  return Object.assign(new Error(`upstream proxy ${proxyName(via)}: connect timeout: ${stood} within ${timeoutMs / 1000} s (timeouts.connect)`), { code: PROXY_TIMEOUT })
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
  readonly via: ProxyTarget
  /** The proxy's host:port as written in via.url. */
  readonly name: string
  /** The CONNECT's host:port. */
  readonly authority: string
  /** What a 407 means here: whether the credentials are missing or were refused. */
  readonly on407: string
  /** Whether the CONNECT was written (the proxy's socket connected). */
  readonly sent: () => boolean
  /** The dial's `timeouts.connect`, for the message of its expiry. */
  readonly timeoutMs: number
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
  if (!head.subarray(0, n).equals(STATUS_LINE_START.subarray(0, n))) return `upstream proxy ${name} answered CONNECT ${authority} with something that is not HTTP`
  const end = head.indexOf('\r\n\r\n')
  if (end === -1) return head.length > MAX_HEAD ? `upstream proxy ${name}: its answer to CONNECT ${authority} is larger than ${MAX_HEAD / 1024} KiB` : undefined
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, end).toString('latin1'))?.[1]
  if (status !== '200') return `upstream proxy ${name} refused CONNECT ${authority}: HTTP ${status ?? '?'}${status === '407' ? ` ${on407}` : ''}`
  return { rest: head.subarray(end + 4) }
}

/** A CONNECT under way: the raw tunnel once the proxy's 200 came, and the end of its time. */
export interface Tunnel {
  readonly answer: Promise<Socket>
  /** The dial's deadline passed: ends an exchange still under way and returns the error it failed with (undefined once settled). */
  expire(): Error | undefined
}

/**
 * Opens `CONNECT host:port` through the proxy; its answer is the raw tunnel socket. `lookup`
 * resolves a proxy named by host name (the egress policy's checking lookup). The dial's deadline
 * (`timeouts.connect`, whole-dial, in upstream.ts) expires it.
 */
export function openTunnel(via: ProxyTarget, host: string, port: number, timeoutMs: number, lookup?: LookupFunction): Tunnel {
  const authority = connectAuthority(host, port)
  const dialled = proxyAddress(via)
  const socket = netConnect({ host: dialled.host, port: dialled.port, ...(lookup && isIP(dialled.host) === 0 ? { lookup } : {}) })
  let sent = false
  socket.once('connect', () => {
    sent = true
    socket.write(connectRequest(via, authority))
  })
  return connectAnswer(socket, { via, name: proxyName(via), authority, on407: authRefusal(via), sent: () => sent, timeoutMs })
}

/**
 * The proxy's answer to the CONNECT on `socket`. Settles on every way the exchange can end: a 200's
 * head, any other answer, bytes that are not HTTP, the peer's end or close, a socket error, expiry.
 */
function connectAnswer(socket: Socket, exchange: Exchange): Tunnel {
  let head = Buffer.alloc(0)
  let settled = false
  let fail: (e: Error) => void = () => undefined
  const answer = new Promise<Socket>((resolve, reject) => {
    const settle = (): void => {
      settled = true
      socket.off('data', onData).off('end', onClosed).off('close', onClosed)
    }
    fail = (e) => {
      settle()
      socket.destroy()
      reject(e)
    }
    // The egress policy refused the proxy's address: that refusal, as it is, is the answer.
    const onError = (e: NodeJS.ErrnoException): void => fail(e instanceof EgressDeniedError ? e : socketFailure(e, exchange, head))
    const onClosed = (): void => fail(proxyFailure(`upstream proxy ${exchange.name} closed the connection ${stage(exchange, head)}`))
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk])
      const read = readAnswer(head, exchange)
      if (read === undefined) return
      if (typeof read === 'string') return fail(proxyFailure(read))
      settle()
      socket.off('error', onError)
      if (read.rest.length > 0) socket.unshift(read.rest)
      socket.pause() // TLS takes over the stream; nothing may be read and dropped before it does
      resolve(socket)
    }
    socket.on('data', onData).once('end', onClosed).once('close', onClosed).once('error', onError)
  })
  return {
    answer,
    expire() {
      if (settled) return undefined
      const e = viaTimeout(exchange.via, exchange.authority, exchange.timeoutMs, timedOut(exchange, head))
      fail(e)
      return e
    },
  }
}

const proxyFailure = (msg: string): Error => Object.assign(new Error(msg), { code: PROXY_FAILED })

/** Where the exchange stood when the deadline passed. */
function timedOut({ authority, sent }: Exchange, head: Buffer): string {
  if (!sent()) return `CONNECT ${authority} not sent: no connection to it`
  return head.length === 0 ? `no answer to CONNECT ${authority}` : `its answer to CONNECT ${authority} did not end`
}

/** A socket error of the exchange, with the code the error table reads its reason by. */
function socketFailure(e: NodeJS.ErrnoException, exchange: Exchange, head: Buffer): Error {
  const { name } = exchange
  const when = stage(exchange, head)
  // Out of descriptors is this process's state: its own reason, with the CONNECT the dial was for (it named only the
  // proxy). A kernel connect timeout is a 504, like the deadline's.
  if (e.code === 'EMFILE' || e.code === 'ENFILE') return Object.assign(new Error(`upstream proxy ${name}: ${fdExhaustionText(e.code)}, ${when}`), { code: PROXY_FD_EXHAUSTED })
  if (e.code === 'ETIMEDOUT') return Object.assign(new Error(`upstream proxy ${name}: connect timeout (ETIMEDOUT) ${when}`), { code: PROXY_TIMEOUT })
  // The rest (connection refused too) failed the proxy's socket, not the endpoint's: named as the proxy's, like its
  // other failures, with the CONNECT it was dialled for.
  if (e.code === 'ECONNRESET' || e.code === 'EPIPE') return proxyFailure(`upstream proxy ${name} reset the connection ${when} (${e.code})`)
  return proxyFailure(`upstream proxy ${name}: ${describeDialFailure(e.code).text} ${when}`)
}

/** Where in the exchange a socket failure came: before the CONNECT was sent, before any answer, or partway through one. */
function stage({ authority, sent }: Exchange, head: Buffer): string {
  if (!sent()) return `before CONNECT ${authority} was sent`
  return head.length === 0 ? `before answering CONNECT ${authority}` : `before the end of its answer to CONNECT ${authority}`
}
