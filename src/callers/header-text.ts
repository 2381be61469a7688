/**
 * Text a caller puts in a request header (X-Gateway-User, the tenant header). Node hands header
 * values over as Latin-1 strings, one character per byte; callers send UTF-8, so read as they are
 * given "josé" would be "josÃ©": another user than the dance's, the console's and an authorize
 * link's "josé". Every header read as text goes through headerText: UTF-8, or a 400.
 */
import { GatewayError } from '../errors.js'
import { utf8Text } from './utf8.js'

const ASCII = /^[\x00-\x7f]*$/
// One character per byte is all a header parser gives; anything above is no byte to decode.
const NOT_BYTES = /[^\x00-\xff]/

/** The header value `value` (as Node gives it: one character per byte) read as UTF-8; 400 naming `header` when its bytes are not UTF-8. */
export function headerText(header: string, value: string): string {
  if (ASCII.test(value)) return value
  if (NOT_BYTES.test(value)) throw new GatewayError('bad_request', `${header} holds a character that is not a byte (above U+00FF)`)
  return utf8Text(Buffer.from(value, 'latin1'), header, 'send its text UTF-8 encoded (the gateway reads header text in no other encoding)')
}

/**
 * What an earlier version took `text` (read from a header) to be: its UTF-8 bytes read as
 * Latin-1; undefined for ASCII text, which every version read alike. Stored tokens keyed under
 * that reading are moved to `text` (docs: X-Gateway-User).
 */
export function latin1Reading(text: string): string | undefined {
  return ASCII.test(text) ? undefined : Buffer.from(text, 'utf8').toString('latin1')
}
