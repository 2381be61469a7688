/**
 * An upstream that accepts TCP connections and never answers: a request to it stays in flight
 * (a drain's grace, a second signal). `held` is every connection it accepted, in order. With
 * `read`, it reads what it is sent (a hung OTLP collector: the exporter's write completes).
 */
import { createServer, type Socket } from 'node:net'

export interface HungUpstream {
  readonly port: number
  readonly held: readonly Socket[]
  close(): Promise<void>
}

/** Starts one on 127.0.0.1 at a free port. */
export async function startHungUpstream(o: { read?: boolean } = {}): Promise<HungUpstream> {
  const held: Socket[] = []
  const server = createServer((s) => {
    held.push(s)
    if (o.read) s.resume()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    port,
    held,
    close: async () => {
      for (const s of held.splice(0)) s.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
