/**
 * Real third-party peers for interop tests: nginx, HAProxy and `openssl s_server`, each
 * started on 127.0.0.1 with a free port, its config and logs in a temp dir (never /var),
 * in its own process group so stop() (call it in afterAll) takes down everything it forked.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// One implementation of free ports and readiness, shared with the benchmark (bench/ cannot
// import test/, so the tests import it from there).
export { freePort, portAccepts } from '../../bench/procs.js'
import { freePort, portAccepts } from '../../bench/procs.js'
import { START_DEADLINE_MS } from './eventually.js'
import { signalGroup, takeChild } from './signals.js'

/**
 * A port every dial to 127.0.0.1 is refused on, for the whole run. Not a freePort() left
 * closed: until the test dials it, another process may be given it (for a listener, or as a
 * connection's source port). No test binds a privileged port, and the kernel never hands one
 * out for port 0 or as a source port.
 */
export async function refusingPort(): Promise<number> {
  const port = 1
  if (await portAccepts(port)) throw new Error(`something listens on 127.0.0.1:${port}: the tests need a port that refuses connections`)
  return port
}

export interface Peer {
  readonly name: string
  readonly port: number
  /** The peer's private temp dir (config, logs, pid, temp paths). */
  readonly dir: string
  readonly pid: number
  /** Everything the process printed so far (stdout + stderr). */
  output(): string
  /** A file under dir as text ('' when missing), e.g. nginx's error.log. */
  read(name: string): string
  stop(): Promise<void>
}

export interface PeerSpec {
  name: string
  command: string
  /** Writes config files into dir for this port, returns the argv. Called again on a port clash. */
  setup(dir: string, port: number): string[]
  /** Ready when this appears in the output (else: when the port accepts a TCP connection). */
  readyLine?: RegExp
  readyTimeoutMs?: number
  /** Listen on this port (a restart in place) instead of a free one; no retry on a clash. */
  port?: number
}

const running = new Set<ChildProcess>()
let exitHookInstalled = false

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    if (!signalGroup(child, signal)) child.kill(signal) // no group left: the child alone
  } catch {
    try {
      child.kill(signal)
    } catch {
      // already gone
    }
  }
}

/** Whether `command` is an executable on PATH (a missing one is spawned directly, for its ENOENT). */
function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => {
    try {
      accessSync(join(d, command), constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

const ADDR_IN_USE = /address already in use|EADDRINUSE|cannot bind socket|could not bind|bind\(\) to .* failed/i

/** Starts a peer on a free port; retries with another port when the port was taken meanwhile. */
export async function startPeer(spec: PeerSpec): Promise<Peer> {
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once('exit', () => {
      for (const c of running) killGroup(c, 'SIGKILL')
    })
  }
  let lastError: Error | undefined
  for (let attempt = 0; attempt < (spec.port === undefined ? 5 : 1); attempt++) {
    const port = spec.port ?? (await freePort())
    const dir = mkdtempSync(join(tmpdir(), `mtlsgw-${spec.name}-`))
    const args = spec.setup(dir, port)
    // The peer dies with this process even when it is killed (no 'exit' event, so the hook above
    // never runs): a test run stopped mid-file once left 14 redis-servers behind.
    const child = onPath(spec.command)
      ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', spec.command, ...args], { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(spec.command, args, { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    running.add(child)
    let out = ''
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c))
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (out += c))
    let failure: Error | undefined
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve())
      // A missing binary emits 'error' and never 'exit'.
      child.once('error', (e: NodeJS.ErrnoException) => {
        failure = e.code === 'ENOENT' ? new Error(`${spec.command} is not installed: run "bash scripts/install-peers.sh"`) : e
        resolve()
      })
    })
    void exited.then(() => running.delete(child))
    const read = (name: string): string => {
      try {
        return readFileSync(join(dir, name), 'utf8')
      } catch {
        return ''
      }
    }
    const peer: Peer = {
      name: spec.name, port, dir, pid: takeChild(child),
      output: () => out,
      read,
      async stop() {
        killGroup(child, 'SIGTERM')
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 3000)
        await exited
        clearTimeout(timer)
        rmSync(dir, { recursive: true, force: true })
      },
    }
    const deadline = Date.now() + (spec.readyTimeoutMs ?? START_DEADLINE_MS)
    const alive = (): boolean => failure === undefined && child.exitCode === null && child.signalCode === null
    let ready = false
    while (!ready && Date.now() < deadline && alive()) {
      ready = spec.readyLine ? spec.readyLine.test(out) : await portAccepts(port)
      if (!ready) await new Promise((r) => setTimeout(r, 50))
    }
    if (ready) {
      // Someone else may have taken the port between freePort() and our bind, and answered
      // the probe: a peer that lost the race exits or (nginx, retrying) logs the bind failure.
      await new Promise((r) => setTimeout(r, 100))
      if (alive() && !ADDR_IN_USE.test(`${out}\n${read('error.log')}`)) return peer
    }
    const text = `${out}\n${read('error.log')}`
    await peer.stop()
    if (failure) throw failure
    lastError = new Error(`${spec.name} did not start on 127.0.0.1:${port}:\n${text}`)
    if (!ADDR_IN_USE.test(text)) throw lastError
  }
  throw lastError ?? new Error(`${spec.name} did not start`)
}

// ---------------------------------------------------------------- nginx

export interface NginxOptions {
  /** Lines inside `server { … }` after `listen`, e.g. ssl_* directives and locations. */
  server: string
}

/**
 * nginx (Debian), foreground and single-process, with every path (error log, pid, temp
 * dirs, access log) inside its temp dir. `-e` moves even the startup error log there.
 */
export function startNginx(o: NginxOptions): Promise<Peer> {
  return startPeer({
    name: 'nginx',
    command: 'nginx',
    setup: (dir, port) => nginxArgs(dir, `  server {
    listen 127.0.0.1:${port} ssl;
    server_name api.partner.test;
${o.server}
  }
`),
  })
}

/** The files of a server that verifies its clients: its chain and key, and the CA its clients' certificates must reach. */
export interface VerifyingServerFiles {
  cert: string
  key: string
  clientCa: string
}

/**
 * `server` lines of an nginx that requires a client certificate (`ssl_verify_client on`, which
 * answers a bad one with an HTTP 400 page after the handshake), chains of up to `depth`
 * certificates; `rest` follows (protocols, session settings, locations).
 */
export function verifyingNginxServer(files: VerifyingServerFiles, depth: number, rest: string): string {
  return `    ssl_certificate ${files.cert};
    ssl_certificate_key ${files.key};
    ssl_client_certificate ${files.clientCa};
    ssl_verify_client on;
    ssl_verify_depth ${depth};
${rest}`
}

/** Writes nginx.conf into `dir` (every path inside it) with `http` inside its `http { … }` block, and returns nginx's argv for it. */
export function nginxArgs(dir: string, http: string): string[] {
  const conf = join(dir, 'nginx.conf')
  writeFileSync(conf, `daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/error.log info;
pid ${dir}/nginx.pid;
events { worker_connections 128; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${http}}
`)
  return ['-p', `${dir}/`, '-c', conf, '-e', `${dir}/error.log`]
}

// ---------------------------------------------------------------- HAProxy

export interface HaproxyOptions {
  /** PEM with the server certificate (+ chain) and its key, as HAProxy's `crt` wants. */
  crtPem: string
  /** CA file for client certificates (`verify required`). */
  caFile: string
  /** The HTTP response line(s) of the frontend; default: 200 with the client DN. */
  response?: string
  /** Extra words on the bind line (e.g. `ssl-max-ver TLSv1.2`). */
  bindExtra?: string
}

/** HAProxy 2.6 in the foreground (-db), TLS frontend requiring a client certificate. */
export function startHaproxy(o: HaproxyOptions): Promise<Peer> {
  return startPeer({
    name: 'haproxy',
    command: 'haproxy',
    setup(dir, port) {
      const crt = join(dir, 'server.pem')
      writeFileSync(crt, o.crtPem, { mode: 0o600 })
      return haproxyArgs(dir, `frontend fe
  bind 127.0.0.1:${port} ssl crt ${crt} ca-file ${o.caFile} verify required ${o.bindExtra ?? ''}
  ${o.response ?? 'http-request return status 200 content-type text/plain lf-string "dn=%[ssl_c_s_dn] verify=%[ssl_c_verify]"'}
`)
    },
  })
}

/** Writes haproxy.cfg into `dir` (HTTP mode, bounded timeouts) with `sections` after its defaults, and returns HAProxy's foreground argv for it. */
export function haproxyArgs(dir: string, sections: string): string[] {
  const cfg = join(dir, 'haproxy.cfg')
  writeFileSync(cfg, `global
  maxconn 256
  pidfile ${dir}/haproxy.pid
defaults
  mode http
  timeout connect 5s
  timeout client 10s
  timeout server 10s
${sections}`)
  return ['-db', '-f', cfg]
}

// ---------------------------------------------------------------- openssl s_server

export interface OpensslServerOptions {
  cert: string
  key: string
  /** Intermediates sent after the leaf (`-cert_chain`). */
  chain?: string
  /** CA file used to verify client certificates. */
  caFile: string
  /** `-Verify`'s depth: intermediate CAs a client chain may have (default 2). */
  verifyDepth?: number
  /** Extra arguments (e.g. `-tls1_2`). */
  extra?: string[]
}

/** `openssl s_server -Verify 2 -verify_return_error -www` (or o.verifyDepth): requires a client cert, answers with a status page. */
export function startOpensslServer(o: OpensslServerOptions): Promise<Peer> {
  return startPeer({
    name: 'openssl',
    command: 'openssl',
    readyLine: /^ACCEPT/m,
    setup(_dir, port) {
      return [
        's_server', '-accept', `127.0.0.1:${port}`, '-naccept', '1000',
        '-cert', o.cert, '-key', o.key, ...(o.chain ? ['-cert_chain', o.chain] : []),
        '-CAfile', o.caFile, '-Verify', String(o.verifyDepth ?? 2), '-verify_return_error', '-www',
        ...(o.extra ?? []),
      ]
    },
  })
}

/** Two sockets relayed as one connection (`sockets` keeps them, to end them): either closing closes the other; errors are closes. */
export function joinSockets(sockets: Set<Socket>, client: Socket, upstream: Socket): void {
  for (const s of [client, upstream]) {
    sockets.add(s)
    s.on('error', () => undefined)
    s.on('close', () => {
      client.destroy()
      upstream.destroy()
    })
  }
}
