/**
 * A request's record takes the caller's address the request already read for its context (the
 * listener passes the run's `clientAddress`) instead of reading the socket's `remoteAddress` again:
 * Node keeps a socket's address once read, so the two are the same; a request that read none
 * (refused before its context) has it read from the socket, as before.
 */
import { Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { recordCallerConnection, type CallerConnectionFields } from '../../src/proxy/caller-connection.js'

/** A socket whose address reads are counted, and its counters set. */
function countedSocket(address: string | undefined): { socket: Socket; reads: () => number } {
  let reads = 0
  const socket = new Socket()
  Object.defineProperty(socket, 'remoteAddress', { get: () => ((reads += 1), address) })
  Object.defineProperty(socket, 'bytesRead', { value: 120 })
  Object.defineProperty(socket, 'bytesWritten', { value: 300 })
  return { socket, reads: () => reads }
}

describe('the record\'s client address', () => {
  it('is the one the request read, without reading the socket again', () => {
    const { socket, reads } = countedSocket('127.0.0.9')
    const into: CallerConnectionFields = {}
    recordCallerConnection(socket, into, true, '127.0.0.9')
    expect(into).toEqual({ clientAddress: '127.0.0.9', requestBytes: 120, responseBytes: 300 })
    expect(reads()).toBe(0)
  })

  it('is read from the socket (IPv4-mapped written as IPv4) when the request read none, counted or not', () => {
    const { socket, reads } = countedSocket('::ffff:127.0.0.8')
    const into: CallerConnectionFields = {}
    recordCallerConnection(socket, into, false, undefined)
    expect(into).toEqual({ clientAddress: '127.0.0.8' })
    expect(reads()).toBe(1)
    const gone = countedSocket(undefined)
    const none: CallerConnectionFields = {}
    recordCallerConnection(gone.socket, none)
    expect(none).toEqual({ requestBytes: 120, responseBytes: 300 })
  })
})
