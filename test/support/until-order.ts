/**
 * Meetings that a test forces by construction (a stopped process sent two things, then continued)
 * may still be handled in the other order: after SIGCONT the kernel and the event loop decide which
 * comes first. A test of one order runs attempts until that order happens, checking each attempt
 * that went the other way for what that order must do, and fails if the order it is about never came.
 */
import { expect } from 'vitest'

/**
 * Runs `attempt` (numbered from 0) until it reports `wanted`, at most `max` times, and expects
 * `wanted` to have come. Each attempt checks its own outcome, whichever order it met.
 */
export async function untilOrder<Order extends string>(wanted: Order, max: number, attempt: (n: number) => Promise<Order>): Promise<Order[]> {
  const seen: Order[] = []
  for (let n = 0; n < max && !seen.includes(wanted); n++) seen.push(await attempt(n))
  expect(seen, `the order "${wanted}" never came in ${max} attempts (came: ${seen.join(', ')})`).toContain(wanted)
  return seen
}
