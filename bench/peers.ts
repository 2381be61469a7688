/**
 * The nginx peers of a run, each its own process on 127.0.0.1: the mTLS upstream (nginx, so
 * the upstream is never the bottleneck) and nginx as the reverse-proxy baseline. The gateways
 * are in gateways.ts.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { HOSTS, type BenchPki } from './pki.js'
import { freePort, startProc, type Proc } from './procs.js'

/** The upstream's answer: a small JSON body. */
export const UPSTREAM_BODY = '{"ok":true,"from":"bench-upstream"}'

/** Where the upstream counts accepted connections (stub_status). */
export interface Upstream extends Proc {
  port: number
  statusPort: number
  /** The upstream reads the whole request body before answering (echo module present). */
  readsBody: boolean
}

function nginxMain(dir: string, http: string, modules = ''): string {
  for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d), { recursive: true })
  // One process (master_process off): its pid is the one process that does all the work.
  return `${modules}daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  client_max_body_size 1m;
  client_body_buffer_size 128k;
${http}
}
`
}

async function startNginx(name: string, root: string, port: number, http: (dir: string) => string, modules = '', cpus?: string): Promise<Proc> {
  const dir = join(root, name)
  mkdirSync(dir, { recursive: true })
  const conf = join(dir, 'nginx.conf')
  writeFileSync(conf, nginxMain(dir, http(dir), modules))
  return startProc({ name, command: 'nginx', args: ['-p', `${dir}/`, '-c', conf, '-e', `${dir}/error.log`], cwd: dir, port, ...(cpus !== undefined ? { cpus } : {}) })
}

/**
 * Debian's echo module (libnginx-mod-http-echo), when present, lets the upstream read the
 * whole request body before it answers, as a real API does. nginx's plain `return` answers
 * first and discards the body afterwards; undici (rightly) closes a connection whose
 * response completed before its request body was sent, so a streaming proxy would pay a new
 * handshake per body request: an artifact of the peer, not a cost of the proxy.
 */
const ECHO_MODULE = '/usr/lib/nginx/modules/ngx_http_echo_module.so'

/** nginx answering UPSTREAM_BODY over TLS, requiring a client certificate; echoes the client DN in X-Client-Dn. */
export async function startUpstream(root: string, pki: BenchPki, cpus?: string): Promise<Upstream> {
  const port = await freePort()
  const statusPort = await freePort()
  const readsBody = existsSync(ECHO_MODULE)
  const answer = `default_type application/json;
      add_header X-Client-Dn $ssl_client_s_dn always;
      add_header X-Oauth $bench_oauth always;
      add_header X-Partner-Key $http_x_partner_key always;
      return 200 '${UPSTREAM_BODY}';`
  const locations = readsBody
    ? `location / {
      echo_read_request_body;
      echo_exec @answer;
    }
    location @answer {
      ${answer}
    }`
    : `location / {
      ${answer}
    }`
  const proc = await startNginx(
    'upstream',
    root,
    port,
    () => `  map $http_authorization $bench_oauth {
    '~oauth_signature_method="(?<m>[^"]+)"' $m;
    default none;
  }
  server {
    listen 127.0.0.1:${port} ssl;
    server_name ${HOSTS.plain} ${HOSTS.signed};
    ssl_certificate ${pki.serverChain};
    ssl_certificate_key ${pki.serverKey};
    ssl_client_certificate ${pki.root};
    ssl_verify_client on;
    ssl_verify_depth 2;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:bench:4m;
    ${locations}
  }
  server {
    listen 127.0.0.1:${statusPort};
    location = /status { stub_status; }
  }`,
    readsBody ? `load_module ${ECHO_MODULE};\n` : '',
    cpus,
  )
  return Object.assign(proc, { port, statusPort, readsBody })
}

/** nginx as an mTLS reverse proxy to the upstream (the baseline), keepalive pool, verifying the server. */
export async function startNginxProxy(root: string, pki: BenchPki, upstream: Upstream, cpus?: string): Promise<Proc & { port: number }> {
  const port = await freePort()
  const proc = await startNginx('nginx-proxy', root, port, () => `  upstream bench_upstream {
    server 127.0.0.1:${upstream.port};
    keepalive 256;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass https://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host ${HOSTS.plain};
      proxy_ssl_certificate ${pki.clients.plain.chain};
      proxy_ssl_certificate_key ${pki.clients.plain.key};
      proxy_ssl_trusted_certificate ${pki.root};
      proxy_ssl_verify on;
      proxy_ssl_verify_depth 2;
      proxy_ssl_server_name on;
      proxy_ssl_name ${HOSTS.plain};
      proxy_ssl_protocols TLSv1.2 TLSv1.3;
      proxy_ssl_session_reuse on;
    }
  }`, '', cpus)
  return Object.assign(proc, { port })
}
