/**
 * What the client does with a READONLY answer (ioredis's `reconnectOnError`). A primary demoted
 * during a failover answers writes with READONLY before it drops us: reconnect (through Sentinel,
 * to the new primary) and resend — the write was not applied. Once per command: a server that
 * stays a replica (a URL naming one) would be sent it again at every reconnect, for ever, whether
 * or not its caller still waits; a second READONLY rejects it.
 */
import { answersPermissionProbe } from './redis-permissions.js'

/** The commands resent after a READONLY answer, by their arguments: ioredis's ReplyError names the command with the command's own `args` array (not copied for a command with no secret argument). */
const resentOnReadOnly = new WeakSet<object>()

/** Whether the command a READONLY answer `e` refused is resent (its first such answer) rather than rejected. */
function resendOnce(e: Error): boolean {
  const args = (e as { command?: { args?: unknown } }).command?.args
  if (typeof args !== 'object' || args === null || resentOnReadOnly.has(args)) return false
  resentOnReadOnly.add(args)
  return true
}

/** ioredis's answer to error `e`: false (no reconnect), 1 (reconnect), 2 (reconnect and resend); `onReadOnly` hears each READONLY. */
export function reconnectOnReadOnly(e: Error, onReadOnly: ((e: Error) => void) | undefined): false | 1 | 2 {
  if (!e.message.startsWith('READONLY')) return false
  onReadOnly?.(e)
  // The connect check's probe wrote nothing and needs no resend; reconnecting would only probe again.
  if (answersPermissionProbe(e)) return false
  return resendOnce(e) ? 2 : 1
}
