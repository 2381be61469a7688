/**
 * What every command shares: options with environment equivalents, argument parsers that
 * name the flag, and the one place that turns an error into a one-line message and an exit
 * code (2: the command line was wrong; 1: the command failed). No stack trace reaches a user.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { ConfigError } from '../errors.js'
import { WorkerStartFailure } from '../process/index.js'

/** The config file a command reads when neither --config nor MTLS_GATEWAY_CONFIG says. */
export const DEFAULT_CONFIG = 'config/gateway.yaml'

/** A mistake on the command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** `-c, --config <file>`, also MTLS_GATEWAY_CONFIG. */
export function configOption(): Option {
  return new Option('-c, --config <file>', 'config file').default(DEFAULT_CONFIG).env('MTLS_GATEWAY_CONFIG')
}

/** Parser for a TCP port flag (0–65535). */
export function parsePort(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError('expected a port number 0–65535.')
  return Number(value)
}

/** Parser for a count flag (a positive integer). */
export function parsePositiveInteger(value: string): number {
  if (!/^[1-9]\d{0,5}$/.test(value)) throw new InvalidArgumentError('expected a positive integer.')
  return Number(value)
}

const DURATION_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const

/** Parser for a duration flag, written as the config writes durations (`30s`, `500ms`, `2m`); 1 ms to 596 h (a timer's reach). */
export function parseDurationFlag(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value)
  const ms = m ? Math.round(Number(m[1]) * DURATION_MS[m[2] as keyof typeof DURATION_MS]) : Number.NaN
  if (!(ms >= 1 && ms <= 2 ** 31 - 1)) throw new InvalidArgumentError('expected a duration such as 30s or 500ms (at least 1ms, at most 596h).')
  return ms
}

interface SystemError extends Error { code?: string; syscall?: string; address?: string; port?: number; path?: string }

const SYSTEM_MESSAGES: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this machine',
  // The kernel has no IPv6 (booted with ipv6.disable=1): only "::" falls back to 0.0.0.0 (bind-listener.ts).
  EAFNOSUPPORT: 'the kernel does not support this address family (EAFNOSUPPORT: no IPv6, booted with ipv6.disable=1?)',
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
}

/** Codes that name the address, not the port, as what to change. */
const HOST_CODES = new Set(['EADDRNOTAVAIL', 'EAFNOSUPPORT'])

/** One line (a ConfigError: one line per problem) saying what failed, naming the file or address. */
export function describeError(e: unknown): string {
  if (e instanceof ConfigError || e instanceof UsageError || e instanceof WorkerStartFailure) return e.message
  if (!(e instanceof Error)) return String(e)
  const sys = e as SystemError
  const what = sys.code !== undefined ? SYSTEM_MESSAGES[sys.code] : undefined
  if (what !== undefined && (sys.syscall === 'listen' || sys.syscall === 'bind')) {
    // A socket the kernel would not make has no port yet; an IPv6 address is bracketed before one.
    const host = sys.address === undefined ? '?' : sys.address.includes(':') && sys.port !== undefined ? `[${sys.address}]` : sys.address
    const where = sys.port === undefined ? host : `${host}:${sys.port}`
    const hint = HOST_CODES.has(sys.code as string) ? 'listen.host / admin.host in the config' : '--port, or listen.port / admin.port in the config'
    return `cannot listen on ${where}: ${what} (${hint})`
  }
  if (what !== undefined && sys.path !== undefined) return `${sys.path}: ${what}`
  return (e.message.split('\n')[0] ?? '').trim() || e.name
}

/**
 * The root command, set up so subcommands (which inherit these settings when created) report
 * errors through runProgram instead of exiting on their own.
 */
export function createProgram(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`${name}: ${text.replace(/^error: /, '')}`) })
}

/**
 * Parses argv and runs the command. Errors become one line on stderr (prefixed with the
 * command's name) and exit code 2 for usage mistakes, 1 for failures; commander's own messages
 * (unknown option, invalid argument, missing option) are already one line naming the flag.
 */
export async function runProgram(program: Command, argv: readonly string[]): Promise<void> {
  // A reader that went away (`| head`) ends the command quietly, as it does any Unix tool;
  // without a listener the write's EPIPE is an uncaught 'error' with a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0)
  })
  try {
    await program.parseAsync([...argv])
  } catch (e) {
    // process.exit: a failed start may leave handles open (watchers, a store connection).
    // stderr is synchronous for files, pipes and terminals on Linux, so the line is not lost.
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2)
    process.stderr.write(`${program.name()}: ${describeError(e)}\n`)
    process.exit(e instanceof UsageError ? 2 : 1)
  }
}
