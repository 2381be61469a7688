/**
 * `--log-format pretty`: one plain line per JSON log line, for a terminal. pino-pretty is a
 * dev dependency in most projects and not in ours; the few lines below are all we need.
 */

const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname'])

/** `2026-01-01T00:00:00.000Z INFO  request reqId=… status=200`; input already redacted. */
export function formatPretty(line: string): string {
  let o: Record<string, unknown>
  try {
    o = JSON.parse(line) as Record<string, unknown>
  } catch {
    return line
  }
  const level = String(o.level ?? '').toUpperCase().padEnd(5)
  const rest = Object.entries(o)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
    .join(' ')
  return `${String(o.time ?? '')} ${level} ${String(o.msg ?? '')}${rest ? ' ' + rest : ''}\n`
}
