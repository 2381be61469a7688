/**
 * Real Redis topologies started by the tests from Debian's redis-server and redis-sentinel:
 * a server over TLS, a primary + replica watched by three Sentinels, a three-primary
 * Cluster. Every process binds 127.0.0.1 on a free port (never 6379), keeps its files in a
 * temp dir, and is stopped by the returned `stop()` (call it in afterAll).
 */
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { startPeer, type Peer } from './peers.js'
import { fixedFreePort } from './fixed-ports.js'
import { sendSignal } from './signals.js'

const READY = /Ready to accept connections/

/** Server certificate, key and CA files for `tls-port` (the CA also checks client certificates). */
export interface RedisServerTls {
  cert: string
  key: string
  ca: string
  /**
   * The certificate (chain) and key the server presents when it is the client: to its primary
   * (replication), to other Cluster nodes (the bus), and a Sentinel's to the servers. Default:
   * `cert`/`key`, which a server certificate without clientAuth may not pass for.
   */
  clientCert?: string
  clientKey?: string
  /** `tls-auth-clients`; default yes. */
  authClients?: 'yes' | 'no' | 'optional'
}

/** The test's own TLS client options for servers started with `tls` (it presents `clientCert`). */
export interface RawClientTls {
  ca: string
  cert?: string
  key?: string
}

export interface RedisServerOptions {
  /** Extra redis.conf lines (given the port, for lines that name it). */
  conf?: (port: number) => string
  tls?: RedisServerTls
  readyLine?: RegExp
  /** A fixed port (restarting a server in place); default: a free one. */
  port?: number
  /** Files written into the server's dir before it starts (a Cluster node's kept `nodes.conf`). */
  files?: Record<string, string>
}

/** `tls-*` lines serving TLS only on `port` (also for redis-sentinel, which takes the same ones). */
function tlsConf(port: number, tls: RedisServerTls): string {
  return `port 0\ntls-port ${port}\ntls-cert-file ${tls.cert}\ntls-key-file ${tls.key}\ntls-ca-cert-file ${tls.ca}\n` +
    (tls.clientCert !== undefined ? `tls-client-cert-file ${tls.clientCert}\ntls-client-key-file ${tls.clientKey ?? tls.key}\n` : '') +
    `tls-auth-clients ${tls.authClients ?? 'yes'}\ntls-replication yes`
}

function baseConf(dir: string, port: number, tls: RedisServerTls | undefined): string {
  const listen = tls ? tlsConf(port, tls) : `port ${port}`
  return `${listen}\nbind 127.0.0.1\ndir ${dir}\nsave ""\nappendonly no\nloglevel notice\n`
}

/** The test's client TLS options for servers of `tls` (its CA, and its client certificate as theirs). */
export function rawClientTls(tls: RedisServerTls): RawClientTls {
  return { ca: readFileSync(tls.ca, 'utf8'), cert: readFileSync(tls.clientCert ?? tls.cert, 'utf8'), key: readFileSync(tls.clientKey ?? tls.key, 'utf8') }
}

/**
 * Waits for peers started side by side and adds them, in order, to `started` (what the caller's
 * stop ends); resolves with them, or throws the first failure once the others came up.
 */
async function startAll(started: Peer[], starting: Promise<Peer>[]): Promise<Peer[]> {
  const results = await Promise.allSettled(starting)
  const up = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  started.push(...up)
  const failed = results.find((r) => r.status === 'rejected')
  if (failed !== undefined) throw failed.reason
  return up
}

/** One redis-server; ready once it accepts connections. */
export function startRedisServer(o: RedisServerOptions = {}): Promise<Peer> {
  return startPeer({
    name: 'redis',
    command: 'redis-server',
    readyLine: o.readyLine ?? READY,
    ...(o.port !== undefined ? { port: o.port } : {}),
    setup(dir, port) {
      const conf = join(dir, 'redis.conf')
      writeFileSync(conf, baseConf(dir, port, o.tls) + (o.conf?.(port) ?? ''))
      for (const [name, text] of Object.entries(o.files ?? {})) writeFileSync(join(dir, name), text)
      return [conf]
    },
  })
}

/** A `host:port` client for one server or Sentinel (loopback; over TLS when `tls` is given; with `password` when it requires one). */
export function rawClient(port: number, tls?: RawClientTls, password?: string): Redis {
  return new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => null, ...(tls ? { tls: { ...tls, servername: 'localhost' } } : {}), ...(password !== undefined ? { password } : {}) })
}

/**
 * A MONITOR connection to the server at `port`. ioredis's `monitor()` opens a connection of its own
 * (a duplicate) and leaves the client it was asked of as it was: that client is lazy here, so it never
 * connects. Before, an eager one was made and never closed: once the test's server stopped it
 * reconnected every 2 s for the rest of the worker's life, each refusal printed as "[ioredis]
 * Unhandled error event: Error: connect ECONNREFUSED" under whichever test file ran next.
 */
export function monitorClient(port: number): Promise<Redis> {
  return new Redis({ host: '127.0.0.1', port, lazyConnect: true }).monitor()
}

/** Polls `check` until it holds or the deadline passes. */
export async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check().catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Primary + replica + three Sentinels monitoring them as `primaryName`. */
export interface SentinelSet {
  readonly primaryName: string
  readonly primary: Peer
  readonly replica: Peer
  readonly sentinels: Peer[]
  /** The port the Sentinels currently name as primary. */
  currentPrimaryPort(): Promise<number>
  /**
   * SIGKILLs the current primary and waits until every Sentinel names the promoted replica.
   * `restart()` brings the killed server back, empty, on its port, as an orchestrator would;
   * the Sentinels make it the new primary's replica.
   */
  killPrimary(): Promise<{ restart(): Promise<void> }>
  /**
   * An operator's failover (`SENTINEL FAILOVER`): the replica is promoted, the old primary becomes
   * its replica. Resolves with the new primary's port once every Sentinel names it and the old
   * primary is its replica in sync (so a second failover can follow at once).
   */
  failover(): Promise<number>
  /**
   * Starts an operator's failover (`SENTINEL FAILOVER`) and resolves with the primary's port at
   * once, without waiting for it: the old primary keeps answering as a primary until a Sentinel
   * reconfigures it, some seconds after the switch. `settled(port)` waits as `failover()` does.
   */
  startFailover(): Promise<number>
  settled(before: number): Promise<number>
  /**
   * Replaces every Sentinel, one at a time, by a fresh one on the same port whose TLS is `tls`
   * (as an operator rolls Sentinels onto new certificate files: Redis Sentinel cannot change
   * them at run time); resolves once each new Sentinel knows the current primary, its replica
   * and the other two.
   */
  replaceSentinels(tls: SentinelTls): Promise<void>
  /**
   * Sets how often every Sentinel (and each later replacement) looks at the servers and greets
   * the others; the set starts 'quick'. A test watching the window in which an old primary still
   * answers after a failover runs it at 'redis' pace, then goes back to 'quick' for the settling.
   */
  pace(p: SentinelPace): Promise<void>
  /** What the Sentinels and servers logged about roles and failovers, for a failing test's message. */
  history(): string
  stop(): Promise<void>
}

/** The Sentinels' TLS: the servers' by default, without asking callers for a certificate. */
export type SentinelTls = RedisServerTls

/**
 * How often the Sentinels send INFO to the servers and hello messages to each other (`SENTINEL
 * DEBUG info-period / publish-period`, Redis 7, at run time). A Sentinel reconfigures a server
 * that reports itself primary but should be a replica (the old primary after a failover, a
 * killed one restarted empty) only after 4 hello periods, at its next INFO: 8 s then up to 10 s
 * at Redis's own pace ('redis': 10 s / 2 s), 4 s then up to 1 s at 'quick' (1 s / 1 s), which
 * also lets new Sentinels discover each other sooner. The 4 periods are for a failover's new
 * configuration to reach every Sentinel first (its leader sees the promotion at its next INFO,
 * 1 s during a failover at either pace, then says so at once): 2 s (0.5 s hellos) left too
 * little of a margin on a loaded machine. Failure detection (down-after, failover timeout,
 * quorum) is the same at both.
 */
export type SentinelPace = 'quick' | 'redis'
const PACES: Record<SentinelPace, string[]> = {
  quick: ['info-period', '1000', 'publish-period', '1000'],
  redis: ['info-period', '10000', 'publish-period', '2000'],
}

/**
 * Starts the replicated set; resolves once the replica is in sync and every Sentinel sees both.
 * With `tls` everything speaks TLS only; the Sentinels use `sentinelTls` (default: `tls` with
 * `tls-auth-clients no`).
 */
export async function startSentinelSet(primaryName = 'gwprimary', tls?: RedisServerTls, sentinelTls: SentinelTls | undefined = tls ? { ...tls, authClients: 'no' } : undefined): Promise<SentinelSet> {
  const started: Peer[] = []
  // The test's own client presents the servers' client certificate (trusted everywhere).
  const client = (port: number): Redis => rawClient(port, tls ? rawClientTls(tls) : undefined)
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((p) => p.stop()))
  }
  try {
    // A full resync (the replica's first, an old primary's after a failover) starts at once: Redis
    // otherwise waits 5 s for more replicas to share one diskless transfer.
    const noResyncDelay = 'repl-diskless-sync-delay 0\n'
    const primary = await startRedisServer({ ...(tls ? { tls } : {}), conf: () => noResyncDelay })
    started.push(primary)
    const startSentinel = (primaryPort: number, sTls: SentinelTls | undefined, port?: number): Promise<Peer> =>
      startPeer({
        name: 'redis-sentinel',
        command: 'redis-sentinel',
        readyLine: /\+monitor master/,
        ...(port !== undefined ? { port } : {}),
        setup(dir, p) {
          const conf = join(dir, 'sentinel.conf')
          writeFileSync(conf, `${sTls ? tlsConf(p, sTls) : `port ${p}`}\nbind 127.0.0.1\ndir ${dir}\n` +
            `sentinel monitor ${primaryName} 127.0.0.1 ${primaryPort} 2\n` +
            // 2 s, not 1: on a saturated 2-core machine a Sentinel once judged the freshly promoted
            // primary down within 1 s and failed over again to the old primary, restarted empty and
            // still syncing, losing acknowledged writes (CI beside three other jobs). Production's default is 30 s.
            `sentinel down-after-milliseconds ${primaryName} 2000\n` +
            `sentinel failover-timeout ${primaryName} 4000\n` +
            `sentinel parallel-syncs ${primaryName} 1\n`)
          return [conf]
        },
      })
    // The replica syncs while the Sentinels start.
    const [replica, ...sentinels] = await startAll(started, [
      startRedisServer({
        ...(tls ? { tls } : {}),
        conf: () => `${noResyncDelay}replicaof 127.0.0.1 ${primary.port}\n`,
        readyLine: /MASTER <-> REPLICA sync: Finished with success/,
      }),
      ...[0, 1, 2].map(() => startSentinel(primary.port, sentinelTls)),
    ]) as [Peer, ...Peer[]]
    let currentPace: SentinelPace = 'quick'
    const paceAt = async (sentinel: Peer): Promise<void> => {
      const s = client(sentinel.port)
      try {
        await s.call('SENTINEL', 'DEBUG', ...PACES[currentPace])
      } finally {
        s.disconnect()
      }
    }
    const pace = async (p: SentinelPace): Promise<void> => {
      currentPace = p
      await Promise.all(sentinels.map(paceAt))
    }
    await pace('quick')
    const primaryPortAt = async (sentinel: Peer): Promise<number> => {
      const s = client(sentinel.port)
      try {
        const reply = (await s.call('SENTINEL', 'get-master-addr-by-name', primaryName)) as string[]
        return Number(reply[1])
      } finally {
        s.disconnect()
      }
    }
    const currentPrimaryPort = (): Promise<number> => primaryPortAt(sentinels[0] as Peer)
    // Sentinels learn of the replica (and of each other) from the primary, within seconds.
    const discovered = (): Promise<void> => eventually('sentinels to discover the replica and each other', async () => {
      for (const peer of sentinels) {
        const s = client(peer.port)
        try {
          const info = (await s.call('SENTINEL', 'master', primaryName)) as string[]
          const field = (k: string): number => Number(info[info.indexOf(k) + 1])
          if (field('num-slaves') < 1 || field('num-other-sentinels') < 2) return false
        } finally {
          s.disconnect()
        }
      }
      return true
    }, 30_000)
    await discovered()
    const replaceSentinels = async (sTls: SentinelTls): Promise<void> => {
      const primaryPort = await currentPrimaryPort()
      for (const [i, old] of sentinels.entries()) {
        await old.stop()
        started.splice(started.indexOf(old), 1)
        const fresh = await startSentinel(primaryPort, sTls, old.port)
        sentinels[i] = fresh
        started.push(fresh)
        await paceAt(fresh)
      }
      await discovered()
    }
    const servers = [primary, replica]
    const killPrimary = async (): Promise<{ restart(): Promise<void> }> => {
      const port = await currentPrimaryPort()
      const victim = servers.find((p) => p.port === port)
      if (victim === undefined) throw new Error(`no started server on the primary's port ${port}`)
      sendSignal(victim.pid, 'SIGKILL')
      // Every Sentinel, not one: a Sentinel still on the old configuration that sees the old
      // address come back empty may take it for the primary and have the promoted replica resync
      // from it, wiping what was acknowledged (Redis documents this hazard for restarting a
      // primary without persistence). An orchestrator should restart it only after the failover
      // has settled; on a loaded machine the Sentinels' configurations spread slowly enough for
      // the restart to land in between.
      await eventually('every Sentinel to name the promoted replica', async () => {
        for (const sentinel of sentinels) if ((await primaryPortAt(sentinel)) === port) return false
        return true
      }, 30_000)
      return {
        async restart() {
          const back = await startRedisServer({ port, ...(tls ? { tls } : {}), conf: () => noResyncDelay })
          servers[servers.indexOf(victim)] = back
          started.push(back)
        },
      }
    }
    const startFailover = async (): Promise<number> => {
      const before = await currentPrimaryPort()
      await eventually('a Sentinel to start the failover', async () => {
        const s = client((sentinels[0] as Peer).port)
        try {
          // INPROG or NOGOODSLAVE while the last failover's reconfiguration settles: ask again.
          return (await s.call('SENTINEL', 'FAILOVER', primaryName)) === 'OK'
        } finally {
          s.disconnect()
        }
      }, 30_000)
      return before
    }
    /** Whether the Sentinel at `sentinel` has seen the server at `port` report itself a replica. */
    const seenAsReplica = async (sentinel: Peer, port: number): Promise<boolean> => {
      const s = client(sentinel.port)
      try {
        const replicas = (await s.call('SENTINEL', 'replicas', primaryName)) as string[][]
        const field = (r: string[], k: string): string | undefined => r[r.indexOf(k) + 1]
        return replicas.some((r) => Number(field(r, 'port')) === port && field(r, 'role-reported') === 'slave')
      } finally {
        s.disconnect()
      }
    }
    const settled = async (before: number): Promise<number> => {
      let after = before
      // Every Sentinel, not one, must have seen the old primary as a replica: one that has not yet
      // would, at a next failover's promotion of it, find it still a primary in its own view and
      // demote it again (the promotion times out; seen at 'quick' pace).
      await eventually('every Sentinel to name the promoted replica and see the old primary as its replica, in sync', async () => {
        const ports = await Promise.all(sentinels.map(primaryPortAt))
        after = ports[0] as number
        if (after === before || ports.some((p) => p !== after)) return false
        if (!(await Promise.all(sentinels.map((s) => seenAsReplica(s, before)))).every(Boolean)) return false
        const c = client(after)
        try {
          return /^slave0:.*state=online/m.test(await c.info('replication'))
        } finally {
          c.disconnect()
        }
      }, 40_000).catch((e: unknown) => {
        throw new Error(`${String(e)}; what Redis logged:\n${history()}`)
      })
      return after
    }
    const failover = async (): Promise<number> => settled(await startFailover())
    const history = (): string => {
      const pick = (p: Peer, re: RegExp): string[] => p.output().split('\n').filter((l) => re.test(l)).map((l) => `${p.name}:${p.port} ${l.trim()}`)
      const events = /[+-](sdown|odown|switch-master|failover|promoted|convert-to-slave|slave |selected-slave|elected-leader|try-failover|tilt|reboot)/
      const roles = /MASTER <-> REPLICA|MASTER MODE|Connecting to MASTER|PRIMARY MODE|REPLICAOF|Full resync|Partial resynchronization|Ready to accept/
      return [...sentinels.flatMap((s) => pick(s, events)), ...started.filter((p) => !sentinels.includes(p)).flatMap((p) => pick(p, roles))].join('\n')
    }
    return { primaryName, primary, replica, sentinels, currentPrimaryPort, killPrimary, failover, startFailover, settled, replaceSentinels, pace, history, stop }
  } catch (e) {
    await stop()
    throw e
  }
}

/** A Cluster of primaries (and replicas when asked for). */
export interface RedisCluster {
  readonly nodes: Peer[]
  /**
   * Stops node `index` and starts it again on its ports with its `nodes.conf` (its identity and
   * slots) but no data, as an orchestrator restarts a pod whose volume keeps only the cluster
   * config; resolves once every node reports state ok again.
   */
  restartEmpty(index: number): Promise<void>
  stop(): Promise<void>
}

/**
 * Starts `count` cluster-enabled servers (TLS only, the bus too, with `tls`), joins them with
 * `redis-cli --cluster create` (`replicas` per primary: `count` / (1 + `replicas`) primaries, the
 * first nodes), waits for state ok and, with replicas, until each is in sync.
 */
export async function startRedisCluster(count = 3, tls?: RedisServerTls, replicas = 0): Promise<RedisCluster> {
  const nodes: Peer[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((p) => p.stop()))
  }
  const buses: number[] = []
  const startNode = (bus: number, port: number, files?: Record<string, string>): Promise<Peer> =>
    startRedisServer({ ...(tls ? { tls } : {}), port, ...(files ? { files } : {}), conf: () => `cluster-enabled yes\ncluster-config-file nodes.conf\ncluster-port ${bus}\ncluster-node-timeout 3000\n${tls ? 'tls-cluster yes\n' : ''}` })
  try {
    // One at a time (started side by side, a migration test failed 3 runs in 6: not understood).
    for (let i = 0; i < count; i++) {
      // The bus port must be chosen too: the default (port + 10000) may not exist. Both outside the
      // ephemeral range: a node restarts on its ports, and no connection's source port may take them meanwhile.
      buses.push(await fixedFreePort())
      nodes.push(await startNode(buses[i] as number, await fixedFreePort()))
    }
    const cliTls = tls ? ['--tls', '--cacert', tls.ca, '--cert', tls.clientCert ?? tls.cert, '--key', tls.clientKey ?? tls.key, '--sni', 'localhost'] : []
    await promisify(execFile)('redis-cli', [...cliTls, '--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 30_000 })
    const settled = (): Promise<void> => eventually('the cluster to report state ok on every node', async () => {
      for (const n of nodes) {
        const c = rawClient(n.port, tls ? rawClientTls(tls) : undefined)
        try {
          if (!String(await c.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) return false
          const replication = await c.info('replication')
          if (/^role:slave/m.test(replication) && !/^master_link_status:up/m.test(replication)) return false
        } finally {
          c.disconnect()
        }
      }
      return true
    }, 40_000)
    await settled()
    const restartEmpty = async (index: number): Promise<void> => {
      const old = nodes[index] as Peer
      const config = old.read('nodes.conf')
      await old.stop()
      nodes[index] = await startNode(buses[index] as number, old.port, { 'nodes.conf': config })
      await settled()
    }
    return { nodes, restartEmpty, stop }
  } catch (e) {
    await stop()
    throw e
  }
}
