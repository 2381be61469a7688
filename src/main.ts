#!/usr/bin/env node
/** argv → one of cli/*; nothing else. */
import { Command, Option } from 'commander'
import { runCheck } from './cli/check.js'
import { runServe } from './cli/serve.js'
import { defaultWorkers, LOG_LEVELS, type LogFormat, type LogLevel } from './ops/index.js'
import { writeDevPki, writeInterceptionCa } from './tls/index.js'
import { ConfigError } from './errors.js'
import { addOAuth1Commands } from './cli/oauth1-sign.js'
import { addTestAuthCommand } from './cli/test-auth.js'

const program = new Command('mtls-gateway').description('Outbound gateway: mTLS, OAuth 1.0a signing and authorization fields').version('0.1.0')
const DEFAULT_CONFIG = 'config/gateway.yaml'

program
  .command('serve')
  .description('run the gateway')
  .option('-c, --config <file>', 'config file', DEFAULT_CONFIG)
  .option('--port <port>', 'override listen.port', (v) => Number(v))
  .addOption(new Option('--workers <n>', 'worker processes sharing the port (1: no cluster)').default(defaultWorkers(), 'CPUs of the container quota (cgroup), else of the machine').argParser((v) => Number(v)))
  .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
  .addOption(new Option('--log-format <format>', 'json lines, or one plain line per entry for a terminal').choices(['json', 'pretty']).default('json'))
  .action(async (o: { config: string; port?: number; workers: number; logLevel: LogLevel; logFormat: LogFormat }) => {
    try {
      if (!Number.isInteger(o.workers) || o.workers < 1) throw new Error(`--workers must be a positive integer, got ${o.workers}`)
      await runServe({ configFile: o.config, workers: o.workers, logLevel: o.logLevel, logFormat: o.logFormat, ...(o.port !== undefined ? { port: o.port } : {}) })
    } catch (e) {
      if (e instanceof ConfigError) {
        process.stderr.write(e.message + '\n')
        process.exit(1)
      }
      throw e
    }
  })

program
  .command('check')
  .description('validate the config and every client bundle (like nginx -t)')
  .option('-c, --config <file>', 'config file', DEFAULT_CONFIG)
  .action((o: { config: string }) => {
    const result = runCheck(o.config)
    ;(result.ok ? process.stdout : process.stderr).write(result.output)
    process.exitCode = result.ok ? 0 : 1
  })

program
  .command('pki')
  .argument('[what]', '"dev": a throw-away root, intermediate, server and client (dev only); "interception-ca": the CA that mints CONNECT leaves', 'dev')
  .description('write certificates: a dev PKI, or the interception CA')
  .option('-d, --dir <dir>', 'output directory', 'certs/dev')
  .option('--host <name...>', 'extra server names (dev)')
  .option('--key <kind>', 'key type for dev: p256, p384, rsa2048', 'p256')
  .action(async (what: string, o: { dir: string; host?: string[]; key: 'p256' | 'p384' | 'rsa2048' }) => {
    if (what === 'interception-ca') {
      for (const [k, v] of Object.entries(await writeInterceptionCa(o.dir))) process.stdout.write(`${k.padEnd(17)} ${v}\n`)
      return
    }
    if (what !== 'dev') {
      process.stderr.write(`unknown pki target "${what}": use dev or interception-ca\n`)
      process.exitCode = 2
      return
    }
    const files = await writeDevPki({ dir: o.dir, kind: o.key, ...(o.host ? { hosts: o.host } : {}) })
    for (const [k, v] of Object.entries(files)) process.stdout.write(`${k.padEnd(17)} ${v}\n`)
  })

addOAuth1Commands(program)
addTestAuthCommand(program, DEFAULT_CONFIG)

await program.parseAsync(process.argv)
