/** How an upstream answer that arrived whole before its relay began goes to the caller (upstream-call.ts). */
import type { ServerResponse } from 'node:http'

/**
 * A whole body (`chunks`: what arrived, none for an empty one) into `res`, its last chunk given to end(): Node then writes the head and the body
 * in one corked write, with no empty final write and no uncork turn of its own (write() then end()
 * made both). The bytes are those of write()s then end(), chunked or not (test/proxy/relay-end-chunk.test.ts).
 */
export function endWhole(res: ServerResponse, chunks: readonly Buffer[] | undefined): void {
  if (chunks === undefined) return void res.end() // whole at its head (a 204, a 304, an empty body)
  const last = chunks.length - 1
  for (let i = 0; i < last; i++) res.write(chunks[i] as Buffer)
  res.end(chunks[last])
}
