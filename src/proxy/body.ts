/**
 * Bodies stream by default. A step that needs the bytes (payload fields, OAuth form
 * parameters, body hash) calls bytes(): buffered once, refused beyond the limit.
 */
import type { Readable } from 'node:stream'
import { GatewayError } from '../errors.js'
import type { Body } from './pipeline.js'

/** Wraps an inbound stream (undefined when the request has no body). */
export function createBody(stream: Readable | undefined, limit: number, declaredLength?: number): Body {
  let buffered: Buffer | undefined
  let pending: Promise<Buffer> | undefined
  const body: Body = {
    get stream() {
      return buffered === undefined ? stream : undefined
    },
    get buffered() {
      return buffered
    },
    bytes() {
      if (buffered) return Promise.resolve(buffered)
      if (!stream) return Promise.resolve((buffered = Buffer.alloc(0)))
      if (declaredLength !== undefined && declaredLength > limit) return Promise.reject(tooLarge(limit))
      pending ??= readAll(stream, limit).then((b) => (buffered = b))
      return pending
    },
    replace(bytes) {
      buffered = bytes
    },
  }
  return body
}

function tooLarge(limit: number): GatewayError {
  return new GatewayError('body_too_large', `request body exceeds the ${limit}-byte limit for bodies the gateway must read (limits.maxBufferedBody)`)
}

async function readAll(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    const b = chunk as Buffer
    size += b.length
    if (size > limit) {
      stream.resume()
      throw tooLarge(limit)
    }
    chunks.push(b)
  }
  return Buffer.concat(chunks, size)
}
