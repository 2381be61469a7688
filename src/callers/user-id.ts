/**
 * What a user id is, on every path that takes one: a JWT's `sub` and `identityToMerge` (token
 * exchange, a JWT used as the bearer, a JWE), X-Gateway-User, the dance's `user=`, a revoke's
 * path, the console's forms. One rule, so an id accepted on one path is never refused (or
 * stored under another key) on another.
 */
import { GatewayError } from '../errors.js'

/** The longest user id, in UTF-16 code units (JavaScript's `length`). */
export const MAX_USER_ID = 256

// A UTF-16 surrogate without its pair: JSON's \uD800 escape can carry one, and no store key or URL can.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Why `text` is not well-formed Unicode (an unpaired surrogate), or undefined when it is. */
export function unicodeProblem(text: string): string | undefined {
  return LONE_SURROGATE.test(text) ? 'must be well-formed Unicode (it holds an unpaired surrogate)' : undefined
}

/** The longest `jti`, in UTF-16 code units: it is a replay-store key, as a user id is a token key. */
export const MAX_JTI = 256

// C0 and C1 controls and DEL, and the Unicode bidirectional controls (LRM, RLM, ALM, the embeddings,
// overrides and isolates): an id holding one breaks an upstream header (CR, LF, NUL) or reads as
// another id on the console and in logs (an override reverses the text shown after it).
const CONTROL = /[\u0000-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/

/** Why `text` holds a control character (the end of a sentence), or undefined when it holds none. */
export function controlProblem(text: string): string | undefined {
  return CONTROL.test(text) ? 'must not contain control or bidirectional formatting characters' : undefined
}

/** Why `id` is not a user id (the end of a sentence naming it), or undefined when it is one. */
export function userIdProblem(id: string): string | undefined {
  return identifierProblem(id, MAX_USER_ID)
}

/** Why `text` is not an identifier of at most `max` characters: empty, too long, ill-formed, or holding controls. */
export function identifierProblem(text: string, max: number): string | undefined {
  if (text === '') return 'must not be empty'
  if (text.length > max) return `must be at most ${max} characters`
  return unicodeProblem(text) ?? controlProblem(text)
}

/** `id` when it is a user id; else 400 bad_request "<subject> <problem>". */
export function checkUserId(subject: string, id: string): string {
  const problem = userIdProblem(id)
  if (problem !== undefined) throw new GatewayError('bad_request', `${subject} ${problem}`)
  return id
}

/**
 * `id` when it may name a user already in the store, for a revoke: today's rule without its length
 * limit, since ids an earlier version allowed (console links before the limit) must stay removable.
 * Never for an id a call, a dance or a link will use: those take checkUserId.
 */
export function checkStoredUserId(subject: string, id: string): string {
  const problem = id === '' ? 'must not be empty' : unicodeProblem(id)
  if (problem !== undefined) throw new GatewayError('bad_request', `${subject} ${problem}`)
  return id
}
