import { PayfetchError } from '../../errors/PayfetchError.js'

/** One challenge of a `WWW-Authenticate` field (RFC 9110 §11.6.1). */
export type AuthChallenge = {
  /** The auth-scheme in lower case (`l402`, `lsat`, `payment`, `basic`, …): schemes compare case-insensitively. */
  readonly scheme: string
  /** The token68 form (`Basic dXNlcg==`), when the challenge carries one instead of parameters. */
  readonly token68?: string | undefined
  /** Parameters by lower-cased name, values unquoted; the first of a repeated name wins. */
  readonly params: Readonly<Record<string, string>>
}

// One item per match: a token (RFC 9110 tchar), then either `= value` (an auth-param: a quoted
// string with `\` escapes, whose closing quote is captured apart so an unterminated one can be
// dropped, or a bare value that keeps base64 `=` padding), or a token68 that ends its challenge.
// Anything else between items (commas, stray characters) is skipped.
const item =
  /([-!#$%&'*+.^_`|~\w]+)(?:[ \t]*=[ \t]*(?:"((?:\\[\s\S]|[^"\\])*)(")?|([^\s,"]*))|[ \t]+([-\w.~+/]+=*)(?=[ \t]*(?:,|$)))?/g

/**
 * Splits a `WWW-Authenticate` value into its challenges: several schemes in one field, repeated
 * header lines joined with `", "` (what `Headers.get` returns), quoted strings with commas and
 * `\"` escapes, token68, and parameters without the comma some servers forget (Alby's
 * `L402 version="0" token="…", invoice="…"`). Unknown schemes and parameters are kept for the
 * caller to ignore; an unterminated quoted string is dropped.
 *
 * @example
 * ```ts
 * import { parseWwwAuthenticate } from 'payfetch/lightning'
 *
 * parseWwwAuthenticate('LSAT macaroon="AgE=", invoice="lnbc1…", L402 macaroon="AgE=", invoice="lnbc1…"')
 * // [{ scheme: 'lsat', params: { macaroon: 'AgE=', invoice: 'lnbc1…' } },
 * //  { scheme: 'l402', params: { macaroon: 'AgE=', invoice: 'lnbc1…' } }]
 * ```
 *
 * @throws {PayfetchError} `CHALLENGE_INVALID` when the value is longer than 64 KiB.
 */
export function parseWwwAuthenticate(header: string | null | undefined): AuthChallenge[] {
  const challenges: { scheme: string; token68?: string | undefined; params: Record<string, string> }[] = []
  header ??= ''
  if (header.length > 65536)
    throw new PayfetchError('CHALLENGE_INVALID', 'The WWW-Authenticate header is too large.', {
      details: { length: header.length },
    })
  for (const [, name = '', quoted, closed, bare, token68] of header.matchAll(item)) {
    const key = name.toLowerCase()
    const params = challenges[challenges.length - 1]?.params
    if (quoted === undefined && bare === undefined) {
      if (challenges.length === 32) break
      challenges.push({ scheme: key, token68, params: Object.create(null) as Record<string, string> })
    } else if (params && !(key in params) && (bare !== undefined || closed)) {
      // Single quotes are not HTTP, but some servers and Alby's parser use them.
      params[key] = bare?.replace(/^'(.+)'$/, '$1') ?? (quoted as string).replace(/\\([\s\S])/g, '$1')
    }
  }
  return challenges
}
