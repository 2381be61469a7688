/**
 * A CONNECT tunnel through an upstream HTTP proxy (an on-premises connector or corporate
 * proxy). The mTLS handshake then runs end to end inside it: the proxy sees only bytes.
 */
import { connect as netConnect, isIP, type LookupFunction, type Socket } from 'node:net'
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

/**
 * Opens `CONNECT host:port` through the proxy; resolves with the raw tunnel socket. `lookup`
 * resolves a proxy named by host name (the egress policy's checking lookup).
 */
export function openTunnel(via: ProxyTarget, host: string, port: number, timeoutMs: number, lookup?: LookupFunction): Promise<Socket> {
  const proxy = new URL(via.url)
  const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`
  const dialled = proxyAddress(via)
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: dialled.host, port: dialled.port, ...(lookup && isIP(dialled.host) === 0 ? { lookup } : {}) })
    const fail = (msg: string, code = PROXY_FAILED): void => {
      clearTimeout(deadline)
      socket.destroy()
      reject(Object.assign(new Error(msg), { code }))
    }
    // A deadline (0: none), not an idle timer, which a connector trickling its answer reset byte by byte for hours.
    const deadline = timeoutMs > 0 ? setTimeout(() => fail(`upstream proxy ${proxy.host}: no CONNECT answer in ${timeoutMs} ms`, 'UND_ERR_CONNECT_TIMEOUT'), timeoutMs) : undefined
    socket.once('error', (e: NodeJS.ErrnoException) => {
      // The egress policy refused the proxy's address: that refusal, as it is, is the answer.
      if (e instanceof EgressDeniedError) return void (socket.destroy(), reject(e))
      fail(`upstream proxy ${proxy.host}: ${e.code ?? e.message}`, e.code === 'ECONNREFUSED' ? PROXY_FAILED : (e.code ?? PROXY_FAILED))
    })
    socket.once('connect', () => socket.write(connectRequest(via, authority)))
    let head = Buffer.alloc(0)
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) {
        if (head.length > MAX_HEAD) fail(`upstream proxy ${proxy.host}: CONNECT answer too large`)
        return
      }
      socket.off('data', onData)
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, end).toString('latin1'))?.[1]
      if (status !== '200') return fail(`upstream proxy ${proxy.host} refused CONNECT ${authority}: HTTP ${status ?? '?'}`)
      const rest = head.subarray(end + 4)
      if (rest.length > 0) socket.unshift(rest)
      clearTimeout(deadline)
      socket.removeAllListeners('error')
      socket.pause() // TLS takes over the stream; nothing may be read and dropped before it does
      resolve(socket)
    }
    socket.on('data', onData)
  })
}
