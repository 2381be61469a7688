#!/usr/bin/env node
/** argv → one of cli/*; nothing else. */
import { Command } from 'commander'
import { runCheck } from './cli/check.js'
import { startGateway } from './cli/serve.js'
import { writeDevPki } from './tls/index.js'
import { ConfigError } from './errors.js'
import { addOAuth1Commands } from './cli/oauth1-sign.js'

const program = new Command('mtls-gateway').description('Outbound gateway: mTLS, OAuth 1.0a signing and authorization fields').version('0.1.0')
const DEFAULT_CONFIG = 'config/gateway.yaml'

program
  .command('serve')
  .description('run the gateway')
  .option('-c, --config <file>', 'config file', DEFAULT_CONFIG)
  .option('--port <port>', 'override listen.port', (v) => Number(v))
  .action(async (o: { config: string; port?: number }) => {
    try {
      const gw = await startGateway({ configFile: o.config, ...(o.port !== undefined ? { listen: { port: o.port } } : {}) })
      process.stdout.write(JSON.stringify({ msg: 'listening', url: gw.url }) + '\n')
      const stop = (): void => void gw.close().then(() => process.exit(0))
      process.once('SIGTERM', stop)
      process.once('SIGINT', stop)
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
  .description('write a throw-away root, intermediate, server and client certificate (dev only)')
  .option('-d, --dir <dir>', 'output directory', 'certs/dev')
  .option('--host <name...>', 'extra server names')
  .option('--key <kind>', 'key type: p256, p384, rsa2048', 'p256')
  .action(async (o: { dir: string; host?: string[]; key: 'p256' | 'p384' | 'rsa2048' }) => {
    const files = await writeDevPki({ dir: o.dir, kind: o.key, ...(o.host ? { hosts: o.host } : {}) })
    for (const [k, v] of Object.entries(files)) process.stdout.write(`${k.padEnd(17)} ${v}\n`)
  })

addOAuth1Commands(program)

await program.parseAsync(process.argv)
