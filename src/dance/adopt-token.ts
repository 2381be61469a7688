/**
 * Tokens an earlier version stored under another id of the same user (X-Gateway-User read as
 * Latin-1: "josÃ©" for the UTF-8 "josé") are moved to the user's id the first time that user has
 * none: through the store interface, so on SQLite and Redis alike and from any worker or replica.
 */
import { getRecord, type SecretFields } from '../store/index.js'
import { tokenKey } from './token-keys.js'
import { anonymousMove, tokenEnd } from './anonymous-life.js'
import { moveRecord } from './token-move.js'
import type { StoredToken, TokenOwner, TokenRepoOptions } from './tokens.js'

/** The owner's token (an anonymous one past its end is none); one under a retired seal key is sealed again under the active one. */
export function findToken(o: TokenRepoOptions, owner: TokenOwner, secrets: SecretFields<StoredToken>): Promise<StoredToken | undefined> {
  return getRecord<StoredToken>(o.store, o.sealer, tokenKey(owner), secrets, owner.anonymous ? tokenEnd(o.anonymousTtlMs) : undefined, () => o.onResealed?.('user_token'))
}

/** The owner's token, else the one stored for the same space, profile and tenant under `formerUser`, moved to the owner (OAuth1TokenRepo.findOrAdoptToken). */
export async function findOrAdoptToken(o: TokenRepoOptions, owner: TokenOwner, formerUser: string, secrets: SecretFields<StoredToken>): Promise<StoredToken | undefined> {
  const find = (): Promise<StoredToken | undefined> => findToken(o, owner, secrets)
  const found = await find()
  if (found !== undefined || formerUser === owner.user) return found
  // As identityToMerge moves (token-move.ts): written before the former key goes, so a crash in
  // between leaves a copy, never a loss; only where none is (a token the user got meanwhile stays);
  // a revoke meanwhile wins. Then read back, so every worker racing here ends with the one token
  // that won (none under the former key: none ever, or another worker moved it since the first look).
  // An anonymous user's keeps the end it has (before, the move stored it for a whole anonymousTtl again).
  await moveRecord(o, tokenKey(Object.assign({}, owner, { user: formerUser })), tokenKey(owner), secrets, owner.anonymous ? anonymousMove(o.anonymousTtlMs, false) : undefined)
  return find()
}
