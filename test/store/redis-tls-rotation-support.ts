/** What the Redis TLS rotation tests share: their teardown, a PKI's client files' contents, the three PKIs of a rotation. */
import { readFileSync } from 'node:fs'
import { afterEach } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'

/** Run after each test, last pushed first. */
export const cleanup: (() => Promise<unknown> | void)[] = []

/** Registers the teardown of `cleanup` (call once, at a test file's top level). */
export function cleanupAfterEach(): void {
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn()
  })
}

/** `pki`'s client key, as a key file holds it. */
export const clientKey = (pki: TestPki): string => readFileSync(pki.file('client.key'), 'utf8')
/** `pki`'s client certificate file's contents: the leaf and its intermediate. */
export const clientChain = (pki: TestPki): string => pki.client.pem + pki.inter.pem

/** Three PKIs: `first` (the server's and the gateway's at start), `next` (the server's next CA), `renewed` (the gateway's next client CA). */
export async function rotationPkis(): Promise<{ first: TestPki; next: TestPki; renewed: TestPki }> {
  const [first, next, renewed] = await Promise.all([createTestPki(), createTestPki(), createTestPki()])
  cleanup.push(() => first.cleanup(), () => next.cleanup(), () => renewed.cleanup())
  return { first, next, renewed }
}
