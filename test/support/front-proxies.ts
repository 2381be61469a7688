/**
 * Front proxies placed IN FRONT of a gateway, the way deployments run it: nginx (an Ingress)
 * and HAProxy, plain HTTP, each holding keep-alive connections to the gateway that requests of
 * different clients share, so a request one of them frames differently from the gateway would
 * be another client's request on the gateway's side (request smuggling).
 */
import { haproxyArgs, nginxArgs, startPeer, type Peer } from './peers.js'

/** nginx → 127.0.0.1:`gatewayPort`: HTTP/1.1 upstream keep-alive, request bodies streamed (a chunked one re-chunked), URIs as sent; idle client connections closed after 1 s. */
export function startNginxInFront(gatewayPort: number): Promise<Peer> {
  return startPeer({
    name: 'nginx-front',
    command: 'nginx',
    setup: (dir, port) => nginxArgs(dir, `  upstream gw { server 127.0.0.1:${gatewayPort}; keepalive 4; }
  server {
    listen 127.0.0.1:${port};
    # A client connection idle after its last answer closes after 1 s, not 75 s: the framing rig
    # reads each exchange to its close, and where nginx read a pipelined request as a chunked
    # body's trailers, the connection is idle once the body's answer is out.
    keepalive_timeout 1s;
    location / {
      proxy_pass http://gw;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_request_buffering off;
      proxy_buffering off;
    }
  }
`),
  })
}

/** HAProxy (mode http) → 127.0.0.1:`gatewayPort`, idle server connections reused across clients (`http-reuse always`); `frontend`: extra lines of its frontend. */
export function startHaproxyInFront(gatewayPort: number, frontend: readonly string[] = []): Promise<Peer> {
  return startPeer({
    name: 'haproxy-front',
    command: 'haproxy',
    setup: (dir, port) => haproxyArgs(dir, `frontend fe
  timeout http-request 5s
  bind 127.0.0.1:${port}
${frontend.map((l) => `  ${l}\n`).join('')}  default_backend gw
backend gw
  http-reuse always
  server gw 127.0.0.1:${gatewayPort}
`),
  })
}

/** A running nginx and HAProxy in front of one gateway. */
export interface FrontProxies {
  nginx: Peer
  haproxy: Peer
  stop(): Promise<void>
}

/** Both front proxies before the gateway at `gatewayUrl`. */
export async function startFrontProxies(gatewayUrl: string): Promise<FrontProxies> {
  const port = Number(new URL(gatewayUrl).port)
  const nginx = await startNginxInFront(port)
  const haproxy = await startHaproxyInFront(port).catch(async (err: unknown) => {
    await nginx.stop()
    throw err
  })
  return { nginx, haproxy, stop: async () => (await nginx.stop(), await haproxy.stop()) }
}
