/**
 * A JSON log line cut to fit one write that the kernel keeps whole. With `--workers` every process
 * writes to one pipe, and a pipe keeps a write of at most PIPE_BUF bytes in one piece: a longer line
 * (a refused reload naming forty problems, 8 KB) went out in parts when the pipe was nearly full,
 * and another process's lines landed between them: neither line was JSON any more. So such a line
 * becomes a shorter one: its members in order while they fit, an array's first elements and how
 * many were left out, any other member that does not fit as its size, and `"truncatedBytes"`: the
 * whole line's size. Still one JSON object per line; what was cut is said on it.
 */
const bytes = (s: string): number => Buffer.byteLength(s, 'utf8')
// Room kept for `,"truncatedBytes":N}\n` and the notes that replace a member.
const RESERVE = 48

/** `line` (one JSON object and "\n") when it has at most `max` bytes, else the shorter line above. */
export function boundedLine(line: string, max: number): string {
  const size = bytes(line)
  if (size <= max) return line
  let record: unknown
  try {
    record = JSON.parse(line)
  } catch {
    record = undefined
  }
  const members = record !== null && typeof record === 'object' && !Array.isArray(record) ? Object.entries(record) : [['msg', 'log line not JSON']]
  const budget = max - RESERVE
  let out = '{'
  for (const [key, value] of members) {
    const head = `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:`
    const room = budget - bytes(out) - bytes(head)
    const member = fitted(value, room)
    if (member !== undefined) out += head + member
  }
  return `${out}${out.length > 1 ? ',' : ''}"truncatedBytes":${size}}\n`
}

/** `value` as JSON within `room` bytes: whole, an array's leading elements and a count, or a note of its size; undefined when not even that fits. */
function fitted(value: unknown, room: number): string | undefined {
  const whole = JSON.stringify(value) ?? 'null'
  if (bytes(whole) <= room) return whole
  if (Array.isArray(value)) {
    const kept: string[] = []
    for (const [i, item] of value.entries()) {
      const note = JSON.stringify(`… ${value.length - i} more left out`)
      const element = JSON.stringify(item) ?? 'null'
      if (bytes(`[${[...kept, element, note].join(',')}]`) > room) return bytes(`[${[...kept, note].join(',')}]`) <= room ? `[${[...kept, note].join(',')}]` : undefined
      kept.push(element)
    }
  }
  const note = JSON.stringify(`[${bytes(whole)} bytes left out]`)
  return bytes(note) <= room ? note : undefined
}
