/**
 * readAnswer (support/ways-in.ts) writes a head's parts in their order, also when its event loop is
 * late. It set one timer per part at once (0, 100, 200 ms); a late loop runs its due timers list by
 * list, one list per length, and a 200 ms timer an earlier ask left pending put the 200 ms list
 * first: part 3 went out before part 2. parse-refusal-messages' 20 KB header so lost its middle
 * under load and arrived as a 9 KB head, answered 200 instead of the 431.
 */
import { createServer, connect, type Server, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readAnswer } from '../support/ways-in.js'

let server: Server
let port = 0
/** Per connection, how many bytes make the whole head (the server answers them back once they are in). */
const expecting: number[] = []

beforeAll(async () => {
  server = createServer((s: Socket) => {
    const length = expecting.shift() ?? 0
    let got = Buffer.alloc(0)
    s.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c])
      if (got.length < length) return
      s.end(`HTTP/1.1 200 OK\r\nContent-Length: ${got.length}\r\n\r\n${got.toString('latin1')}`)
    })
    s.on('error', () => undefined)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as { port: number }).port
})

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
})

const opened = async (): Promise<Socket> => {
  const s = connect(port, '127.0.0.1')
  await new Promise((resolve, reject) => s.once('connect', resolve).once('error', reject))
  return s
}

describe('readAnswer', () => {
  it('writes the parts of a head in order though its loop is late and an earlier ask left a part pending', async () => {
    // The first ask is answered after two of its three parts (as a 414 is): its last part stays pending.
    const first = ['a'.repeat(10), 'b'.repeat(10), 'c'.repeat(10)]
    expecting.push(20)
    expect((await readAnswer(await opened(), first)).body.toString('latin1')).toBe('a'.repeat(10) + 'b'.repeat(10))
    const parts = ['1'.repeat(1_000), '2'.repeat(11_000), '3'.repeat(8_000)]
    expecting.push(20_000)
    const s = await opened()
    const answer = readAnswer(s, parts)
    // A loaded machine: the loop gets back to its timers only after every part of this ask is due.
    for (const end = Date.now() + 400; Date.now() < end;);
    const body = (await answer).body.toString('latin1')
    // The parts as they arrived: each run of one digit, once.
    expect([body.length, body.replace(/(.)\1*/g, '$1')]).toEqual([20_000, '123'])
  })
})
