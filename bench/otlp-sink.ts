/**
 * The OTLP/HTTP collector the tracing rows export to: accepts every batch (200, no decoding),
 * so the rows price the gateway's side of tracing (spans, batching, protobuf, HTTP), not a
 * collector's. Runs in the bench process, on the load generator's CPU.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/** The sink's URL and what it received. */
export interface OtlpSink {
  readonly url: string
  readonly batches: number
  stop(): Promise<void>
}

/** Starts the sink on 127.0.0.1:0. */
export async function startOtlpSink(): Promise<OtlpSink> {
  let batches = 0
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      batches++
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 }).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    get batches() {
      return batches
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
