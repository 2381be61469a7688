/**
 * The container image, built from the Dockerfile with buildah and run without a Docker engine:
 * health, metrics, a real mTLS call through it to a backend on 127.0.0.1, the user id, no dev
 * dependency or test file inside, SIGTERM reaching node, and a read-only root file system.
 *
 * Runs when one of these is set (`npm test` sets the second, after building the bases if
 * missing, and reports a skip after its summary; a bare `vitest run` skips it):
 *   MTLS_GATEWAY_IMAGE=<image>    test an image already built (scripts/test-image.sh sets it)
 *   MTLS_GATEWAY_IMAGE_TEST=1     build it first with `scripts/test-image.sh --build-only`
 */
import { execFile } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildah, buildahCommand, freePort, imageConfig, processUids, readOnlyRootArgv, spawnContainer, type ContainerProcess } from './container.js'
import { sendSignal, take } from '../support/signals.js'

const run = promisify(execFile)
const PREBUILT = process.env.MTLS_GATEWAY_IMAGE
const enabled = Boolean(PREBUILT) || process.env.MTLS_GATEWAY_IMAGE_TEST === '1'
const CONFIG_DIR = '/etc/mtls-gateway/config'

function gatewayYaml(o: { port: number; adminPort: number; backendPort: number }): string {
  return `listen:
  host: 127.0.0.1
  port: ${o.port}
admin:
  host: 127.0.0.1
  port: ${o.adminPort}
drain:
  grace: 5s
callers:
  required: false
endpoints:
  - name: partner
    url: https://api.partner.test:${o.backendPort}
    resolve: 127.0.0.1
    allowPrivate: true
    tls:
      cert: ${CONFIG_DIR}/pki/client.crt
      key: ${CONFIG_DIR}/pki/client.key
      intermediates: ${CONFIG_DIR}/pki/intermediate-ca.crt
      roots: ${CONFIG_DIR}/pki/root-ca.crt
`
}

function startBackend(pki: string): Promise<Server> {
  const server = createServer(
    { cert: readFileSync(join(pki, 'server.crt')), key: readFileSync(join(pki, 'server.key')), ca: readFileSync(join(pki, 'root-ca.crt')), requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate()
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url, client: peer.subject?.CN ?? null }))
    },
  )
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

describe.skipIf(!enabled)('container image (buildah)', () => {
  let image: string
  let config: Record<string, unknown>
  let ctr: string
  let rootfs: string
  let work: string
  let backend: Server
  let gw: ContainerProcess
  let urls: { proxy: string; admin: string }
  let ports: { port: number; adminPort: number }

  beforeAll(async () => {
    const buildahCli = buildahCommand()
    if (PREBUILT) image = PREBUILT
    else {
      const { stdout } = await run('bash', ['scripts/test-image.sh', '--build-only'], { maxBuffer: 64 << 20, timeout: 15 * 60_000 })
      image = stdout.trim().split('\n').pop() as string
    }
    config = await imageConfig(image)
    ctr = await buildah('from', '--pull-never', image)
    // buildah run mounts the image's VOLUME itself, and which of that and our -v wins the same
    // path is not fixed: drop the declared volume from this working container (not the image).
    await buildah('config', '--volume', '/var/lib/mtls-gateway-', ctr)
    rootfs = await buildah('mount', ctr)
    work = mkdtempSync(join(tmpdir(), 'mtls-gateway-image-'))
    const [uid, gid] = String(config.User).split(':').map(Number) as [number, number]
    for (const d of ['conf', 'conf/pki', 'state', 'state-ro']) mkdirSync(join(work, d))
    chmodSync(work, 0o755)
    for (const d of ['conf/pki', 'state', 'state-ro']) chownSync(join(work, d), uid, gid)
    // The dev PKI, written by the image's own CLI as the image user.
    await run(buildahCli[0], [...buildahCli.slice(1), 'run', '--isolation', 'chroot', '-v', `${join(work, 'conf/pki')}:/pki`, ctr, '--', 'node', '/app/dist/src/main.js', 'pki', '--dir', '/pki'])
    backend = await startBackend(join(work, 'conf/pki'))
    ports = { port: await freePort(), adminPort: await freePort() }
    writeFileSync(join(work, 'conf/gateway.yaml'), gatewayYaml({ ...ports, backendPort: (backend.address() as AddressInfo).port }))
    const entrypoint = config.Entrypoint as string[]
    gw = spawnContainer(buildahCli[0], [
      ...buildahCli.slice(1), 'run', '--isolation', 'chroot', '--network', 'host',
      '-v', `${join(work, 'conf')}:${CONFIG_DIR}:ro`, '-v', `${join(work, 'state')}:/var/lib/mtls-gateway`,
      ctr, '--', ...entrypoint, 'serve', '--config', `${CONFIG_DIR}/gateway.yaml`, '--workers', '1',
    ], `${CONFIG_DIR}/gateway.yaml`)
    const proxy = await gw.waitFor(/"msg":"listening".*"url":"([^"]+)"/)
    const admin = await gw.waitFor(/"msg":"admin listening".*"url":"([^"]+)"/)
    urls = { proxy: proxy[1] as string, admin: admin[1] as string }
  }, 16 * 60_000)

  afterAll(async () => {
    if (gw && gw.child.exitCode === null) {
      const pid = gw.nodePid()
      if (pid) sendSignal(take(pid), 'SIGKILL')
      gw.child.kill('SIGKILL')
      await gw.exited
    }
    await new Promise<void>((resolve) => (backend ? backend.close(() => resolve()) : resolve()))
    if (ctr) {
      await buildah('umount', ctr).catch(() => undefined)
      await buildah('rm', ctr).catch(() => undefined)
    }
    if (work) rmSync(work, { recursive: true, force: true })
  })

  it('is configured as a non-root numeric user, exec-form entrypoint, state volume, both ports', () => {
    expect(config.User).toMatch(/^[1-9]\d*:[1-9]\d*$/)
    const entrypoint = config.Entrypoint as string[]
    expect(entrypoint[0]).toBe('node') // exec form: no /bin/sh -c in between, SIGTERM reaches node
    expect(entrypoint).toContain('/app/dist/src/main.js')
    expect(Object.keys(config.Volumes as object)).toEqual(['/var/lib/mtls-gateway'])
    expect(Object.keys(config.ExposedPorts as object).sort()).toEqual(['8080/tcp', '9090/tcp'])
  })

  it('runs Node 24 LTS without a package manager, carries OCI labels, keeps state on the volume', async () => {
    // A working container of its own: a second `buildah run` in the one the gateway runs in came
    // back once with no output under full CI load.
    const probe = await buildah('from', '--pull-never', image)
    const buildahCli = buildahCommand()
    try {
      const node = await run(buildahCli[0], [...buildahCli.slice(1), 'run', '--isolation', 'chroot', probe, '--', 'node', '-p', 'process.versions.node'])
      expect(node.stdout.trim(), node.stderr).toMatch(/^24\./)
    } finally {
      await buildah('rm', probe).catch(() => undefined)
    }
    for (const tool of ['usr/local/bin/npm', 'usr/local/bin/npx', 'usr/local/bin/corepack', 'usr/local/bin/yarn', 'usr/local/lib/node_modules/npm', 'usr/local/lib/node_modules/corepack']) {
      expect(existsSync(join(rootfs, tool)), tool).toBe(false)
    }
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }
    const labels = (config.Labels ?? {}) as Record<string, string>
    expect(labels['org.opencontainers.image.version']).toBe(pkg.version)
    expect(labels['org.opencontainers.image.title']).toBe('mtls-gateway')
    expect(labels['org.opencontainers.image.licenses']).toBe('Apache-2.0')
    // The config above has no store.file: the image's MTLS_GATEWAY_STATE_DIR puts it on the volume.
    expect(config.Env as string[]).toContain('MTLS_GATEWAY_STATE_DIR=/var/lib/mtls-gateway')
  })

  it('runs the gateway as that user (uid from /proc of the node process)', () => {
    const pid = gw.nodePid()
    expect(pid).toBeDefined()
    const want = Number(String(config.User).split(':')[0])
    expect(processUids(pid as number)).toEqual([want, want, want, want])
  })

  it('answers /healthz, /readyz and /metrics on the admin listener', async () => {
    expect((await fetch(`${urls.admin}/healthz`)).status).toBe(200)
    const ready = await fetch(`${urls.admin}/readyz`)
    expect(ready.status, await ready.clone().text()).toBe(200)
    const metrics = await (await fetch(`${urls.admin}/metrics`)).text()
    expect(metrics).toMatch(/^mtls_gateway_config_reloads_total\{result="success"\} 0$/m)
    expect(metrics).toMatch(/^mtls_gateway_certificate_expiry_timestamp_seconds\{endpoint="partner",kind="client"\} \d+$/m)
  })

  it('makes a real mTLS call through the container to a backend on 127.0.0.1', async () => {
    const res = await fetch(`${urls.proxy}/proxy/partner/hello?x=1`)
    const body = await res.text()
    expect(res.status, body).toBe(200)
    expect(JSON.parse(body)).toEqual({ path: '/hello?x=1', client: 'bot-runtime' })
    const metrics = await (await fetch(`${urls.admin}/metrics`)).text()
    expect(metrics).toMatch(/^mtls_gateway_requests_total\{endpoint="partner",method="GET",status_class="2xx"\} 1$/m)
    expect(existsSync(join(work, 'state/gateway.db'))).toBe(true) // the store lives on the volume
  })

  it('runs test-endpoint --all as the chart\'s helm test does: the backend passes the five steps', async () => {
    // A working container of its own, as the Node version check above.
    const probe = await buildah('from', '--pull-never', image)
    const buildahCli = buildahCommand()
    try {
      const tested = await run(buildahCli[0], [...buildahCli.slice(1), 'run', '--isolation', 'chroot', '--network', 'host', '-v', `${join(work, 'conf')}:${CONFIG_DIR}:ro`, probe, '--',
        ...(config.Entrypoint as string[]), 'test-endpoint', '--all', '--config', `${CONFIG_DIR}/gateway.yaml`])
      expect(tested.stdout, tested.stderr).toMatch(/^Connection Test Passed: endpoint "partner" /m)
      expect(tested.stdout.trimEnd().split('\n').at(-1)).toBe('1 passed, 0 failed, 0 skipped')
    } finally {
      await buildah('rm', probe).catch(() => undefined)
    }
  })

  it('holds only the bundle, package.json and production dependencies', () => {
    expect(readdirSync(join(rootfs, 'app')).sort()).toEqual(['dist', 'node_modules', 'package.json'])
    expect(readdirSync(join(rootfs, 'app/dist'))).toEqual(['src'])
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> }
    const modules = join(rootfs, 'app/node_modules')
    for (const dev of Object.keys(pkg.devDependencies)) expect(existsSync(join(modules, dev)), dev).toBe(false)
    for (const dev of ['vitest', 'typescript', '@types', 'vite', 'fast-check', 'playwright-core', '.bin/tsc', '.bin/vitest']) expect(existsSync(join(modules, dev)), dev).toBe(false)
    for (const dep of Object.keys(pkg.dependencies)) expect(existsSync(join(modules, dep, 'package.json')), dep).toBe(true)
    const own: string[] = []
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name)
        if (e.isDirectory()) walk(p)
        else own.push(p.slice(rootfs.length))
      }
    }
    walk(join(rootfs, 'app/dist'))
    // The bundle (scripts/bundle.ts: main.js and its chunks, none of tsc's module tree) and the
    // console's hand-written pages, scripts and styles (served as they are).
    const consoleAssets = readdirSync('src/console/assets').map((f) => `/app/dist/src/console/assets/${f}`)
    expect(own.filter((f) => !consoleAssets.includes(f) && f !== '/app/dist/src/main.js' && !/^\/app\/dist\/src\/chunks\/[\w-]+\.js$/.test(f))).toEqual([])
    expect(own.filter((f) => f.startsWith('/app/dist/src/chunks/')).length).toBeGreaterThan(5)
    expect(own.filter((f) => f.startsWith('/app/dist/src/console/assets/')).sort()).toEqual(consoleAssets.sort())
    expect(own.filter((f) => /\.(test|spec)\./.test(f) || f.includes('/test/'))).toEqual([])
    for (const absent of ['app/test', 'app/src', 'app/tsconfig.json', 'app/helm', 'app/certs', 'app/.git']) expect(existsSync(join(rootfs, absent)), absent).toBe(false)
    expect(statSync(join(rootfs, 'var/lib/mtls-gateway')).uid).toBe(Number(String(config.User).split(':')[0]))
  })

  it('drains on SIGTERM sent to node (PID of the exec-form entrypoint) and exits 0', async () => {
    const pid = gw.nodePid() as number
    sendSignal(take(pid), 'SIGTERM')
    await gw.waitFor(/draining/, 30_000)
    expect(await gw.exited).toBe(0)
    expect(gw.output.join('\n')).toMatch(/drained/)
  })

  it('works with a read-only root file system (state on the volume, /tmp a tmpfs)', async () => {
    const entrypoint = config.Entrypoint as string[]
    const ro = spawnContainer('unshare', readOnlyRootArgv({
      rootfs, uid: String(config.User), configDir: join(work, 'conf'), stateDir: join(work, 'state-ro'),
      // The image's environment as a runtime would set it (MTLS_GATEWAY_STATE_DIR among it).
      command: ['/usr/bin/env', ...(config.Env as string[]), ...entrypoint.map((a) => (a === 'node' ? '/usr/local/bin/node' : a)), 'serve', '--config', `${CONFIG_DIR}/gateway.yaml`, '--workers', '1'],
    }).slice(1), `${CONFIG_DIR}/gateway.yaml`)
    try {
      await ro.waitFor(/"msg":"admin listening"/)
      const ready = await fetch(`${urls.admin}/readyz`)
      expect(ready.status, await ready.clone().text()).toBe(200)
      const res = await fetch(`${urls.proxy}/proxy/partner/ro`)
      expect(res.status, await res.clone().text()).toBe(200)
      expect(existsSync(join(work, 'state-ro/gateway.db'))).toBe(true)
      const pid = ro.nodePid() as number
      sendSignal(take(pid), 'SIGTERM')
      expect(await ro.exited).toBe(0)
    } finally {
      if (ro.child.exitCode === null) {
        const pid = ro.nodePid()
        if (pid) sendSignal(take(pid), 'SIGKILL')
        await ro.exited
      }
    }
    // The same root refuses writes outside the volume: proof the run above really was read-only.
    const probe = spawnContainer('unshare', readOnlyRootArgv({
      rootfs, uid: String(config.User), configDir: join(work, 'conf'), stateDir: join(work, 'state-ro'),
      command: ['/usr/local/bin/node', '-e', "try{require('fs').writeFileSync('/app/x','x')}catch(e){console.log(e.code)}"],
    }).slice(1), '--never--')
    await probe.exited
    expect(probe.output.join('\n')).toMatch(/EROFS/)
  })
})
