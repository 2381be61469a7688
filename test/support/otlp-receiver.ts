/**
 * An OTLP/HTTP trace receiver on 127.0.0.1:0 that decodes each export with the OpenTelemetry
 * protobuf definitions (the generated protobufjs root the OpenTelemetry JS project published
 * from opentelemetry-proto) and keeps the spans, the raw bodies and the request headers.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createSecureServer, createServer as createH2cServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

interface ProtoType {
  decode(bytes: Uint8Array): unknown
  toObject(message: unknown, options: Record<string, unknown>): unknown
}
const root = require('otlp-proto-root/build/src/generated/root.js') as { opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: ProtoType } } } } } }
const Request = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest

/** OTLP's span kinds (opentelemetry.proto.trace.v1.Span.SpanKind). */
export const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3 } as const

/** One decoded span with ids in hex and attributes as plain values. */
export interface ReceivedSpan {
  traceId: string
  spanId: string
  parentSpanId: string
  name: string
  kind: number
  status: { code?: number; message?: string }
  attributes: Record<string, string | number | boolean>
  links: { traceId: string; spanId: string }[]
  resource: Record<string, string | number | boolean>
}

export interface OtlpReceiver {
  readonly url: string
  readonly spans: ReceivedSpan[]
  /** Every export body as received (to search for secrets in the bytes themselves). */
  readonly bodies: Buffer[]
  readonly headers: IncomingHttpHeaders[]
  /** Resolves once `pred` holds for the spans received (polls; rejects after `ms`). */
  waitFor(pred: (spans: ReceivedSpan[]) => boolean, ms?: number): Promise<ReceivedSpan[]>
  /** Connections open to the receiver now. */
  connections(): Promise<number>
  close(): Promise<void>
  /** From now on accept only client certificates from this CA file, and drop every open connection. */
  trustOnly(caFile: string): void
}

type AnyValue = { stringValue?: string; boolValue?: boolean; intValue?: string; doubleValue?: number }
type KeyValue = { key: string; value?: AnyValue }

const hex = (b64: string | undefined): string => Buffer.from(b64 ?? '', 'base64').toString('hex')
const plain = (v: AnyValue | undefined): string | number | boolean => v?.stringValue ?? v?.boolValue ?? (v?.intValue !== undefined ? Number(v.intValue) : (v?.doubleValue ?? ''))
const attrs = (kvs: KeyValue[] | undefined): Record<string, string | number | boolean> => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, plain(kv.value)]))

interface Decoded {
  resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: { traceId?: string; spanId?: string; parentSpanId?: string; name: string; kind?: number; status?: { code?: number; message?: string }; attributes?: KeyValue[]; links?: { traceId?: string; spanId?: string }[] }[] }[] }[]
}

/** Decodes one OTLP/HTTP protobuf export body. */
export function decodeTraces(body: Uint8Array): ReceivedSpan[] {
  const obj = Request.toObject(Request.decode(body), { longs: String, bytes: String, enums: Number, defaults: false }) as Decoded
  return (obj.resourceSpans ?? []).flatMap((rs) =>
    (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s) => ({
        traceId: hex(s.traceId),
        spanId: hex(s.spanId),
        parentSpanId: hex(s.parentSpanId),
        name: s.name,
        kind: s.kind ?? 0,
        status: s.status ?? {},
        attributes: attrs(s.attributes),
        links: (s.links ?? []).map((l) => ({ traceId: hex(l.traceId), spanId: hex(l.spanId) })),
        resource: attrs(rs.resource?.attributes),
      })),
    ),
  )
}

/** How the receiver listens: OTLP/HTTP (default) or OTLP/gRPC, plain or TLS (a client certificate required with `ca`). */
export interface OtlpReceiverOptions {
  protocol?: 'http/protobuf' | 'grpc'
  tls?: { cert: string; key: string; ca?: string }
  /** Keep idle connections open (no keep-alive timeout), as a collector without an idle timeout does. */
  keepIdle?: boolean
  /**
   * OTLP/HTTP: how to answer each export, whose spans are kept either way: 200 (default), another
   * status (a collector that fails it), or `never` (a hung collector: the request is read, never answered).
   */
  answer?: number | 'never'
}

const GRPC_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export'

/** Starts the receiver: POST /v1/traces with application/x-protobuf, or the gRPC Export method. */
export async function startOtlpReceiver(o: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = []
  const bodies: Buffer[] = []
  const headers: IncomingHttpHeaders[] = []
  const grpc = o.protocol === 'grpc'
  const accept = (body: Buffer, h: IncomingHttpHeaders): void => {
    bodies.push(body)
    headers.push(h)
    spans.push(...decodeTraces(body))
  }
  const onHttp = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/x-protobuf') return void res.writeHead(400).end()
      accept(Buffer.concat(chunks), req.headers)
      if (o.answer === 'never') return
      res.writeHead(o.answer ?? 200, { 'content-type': 'application/x-protobuf' }).end()
    })
  }
  // gRPC over HTTP/2: each message is a 5-byte prefix (compressed flag, length) and the protobuf.
  const onGrpc = (req: Http2ServerRequest, res: Http2ServerResponse): void => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const frame = Buffer.concat(chunks)
      if (req.url !== GRPC_PATH || frame[0] !== 0) return void res.writeHead(400).end()
      accept(frame.subarray(5, 5 + frame.readUInt32BE(1)), req.headers)
      res.addTrailers({ 'grpc-status': '0' })
      res.writeHead(200, { 'content-type': 'application/grpc' }).end(Buffer.from([0, 0, 0, 0, 0]))
    })
  }
  const tls = o.tls ? { cert: readFileSync(o.tls.cert), key: readFileSync(o.tls.key), ...(o.tls.ca ? { ca: readFileSync(o.tls.ca), requestCert: true, rejectUnauthorized: true } : {}) } : undefined
  const server = grpc ? (tls ? createSecureServer(tls, onGrpc) : createH2cServer(onGrpc)) : tls ? createHttpsServer(tls, onHttp) : createServer(onHttp)
  if (o.keepIdle && 'keepAliveTimeout' in server) server.keepAliveTimeout = 0
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const scheme = tls ? 'https' : 'http'
  return {
    url: grpc ? `${scheme}://127.0.0.1:${port}` : `${scheme}://127.0.0.1:${port}/v1/traces`,
    spans,
    bodies,
    headers,
    async waitFor(pred, ms = 20_000) {
      const deadline = Date.now() + ms
      while (!pred(spans)) {
        if (Date.now() > deadline) throw new Error(`spans not received within ${ms} ms; got: ${spans.map((s) => s.name).join(', ')}`)
        await new Promise((r) => setTimeout(r, 50))
      }
      return spans
    },
    connections: () => new Promise<number>((resolve) => server.getConnections((err, n) => resolve(err ? -1 : n))),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        if ('closeAllConnections' in server) server.closeAllConnections()
      }),
    trustOnly(caFile: string) {
      if (!tls || !('setSecureContext' in server)) throw new Error('trustOnly needs a TLS receiver')
      server.setSecureContext({ ...tls, ca: readFileSync(caFile) })
      if ('closeAllConnections' in server) server.closeAllConnections()
    },
  }
}
