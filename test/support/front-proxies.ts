/**
 * Front proxies placed IN FRONT of a gateway, the way deployments run it: nginx (an Ingress)
 * and HAProxy, plain HTTP, each holding keep-alive connections to the gateway that requests of
 * different clients share, so a request one of them frames differently from the gateway would
 * be another client's request on the gateway's side (request smuggling).
 */
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { startPeer, type Peer } from './peers.js'

/** nginx → 127.0.0.1:`gatewayPort`: HTTP/1.1 upstream keep-alive, request bodies streamed (a chunked one re-chunked), URIs as sent. */
export function startNginxInFront(gatewayPort: number): Promise<Peer> {
  return startPeer({
    name: 'nginx-front',
    command: 'nginx',
    setup(dir, port) {
      const conf = join(dir, 'nginx.conf')
      writeFileSync(conf, `daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/error.log info;
pid ${dir}/nginx.pid;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream gw { server 127.0.0.1:${gatewayPort}; keepalive 4; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://gw;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_request_buffering off;
      proxy_buffering off;
    }
  }
}
`)
      return ['-p', `${dir}/`, '-c', conf, '-e', `${dir}/error.log`]
    },
  })
}

/** HAProxy (mode http) → 127.0.0.1:`gatewayPort`, idle server connections reused across clients (`http-reuse always`); `frontend`: extra lines of its frontend. */
export function startHaproxyInFront(gatewayPort: number, frontend: readonly string[] = []): Promise<Peer> {
  return startPeer({
    name: 'haproxy-front',
    command: 'haproxy',
    setup(dir, port) {
      const cfg = join(dir, 'haproxy.cfg')
      writeFileSync(cfg, `global
  maxconn 256
  pidfile ${dir}/haproxy.pid
defaults
  mode http
  timeout connect 5s
  timeout client 10s
  timeout server 10s
  timeout http-request 5s
frontend fe
  bind 127.0.0.1:${port}
${frontend.map((l) => `  ${l}\n`).join('')}  default_backend gw
backend gw
  http-reuse always
  server gw 127.0.0.1:${gatewayPort}
`)
      return ['-db', '-f', cfg]
    },
  })
}
