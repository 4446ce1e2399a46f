import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { PayfetchError } from '../../../src/errors/PayfetchError.js'
import {
  type AuthChallenge,
  parseWwwAuthenticate,
} from '../../../src/protocols/wwwAuthenticate/parseWwwAuthenticate.js'

const numRuns = 3000

// A header value the fetch `Headers` class accepts: Latin-1 without NUL, CR or LF.
const headerChar = fc
  .integer({ min: 0x01, max: 0xff })
  .filter((code) => code !== 0x0a && code !== 0x0d)
  .map((code) => String.fromCharCode(code))
const noise = fc.string({
  unit: fc.oneof(headerChar, fc.constantFrom('"', '\\', ',', '=', ' ', "'", 'L402 ', 'token=', '"')),
  maxLength: 300,
})

const tchar = fc.constantFrom(
  ..."!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".split(''),
)
const token = fc.string({ unit: tchar, minLength: 1, maxLength: 12 })
const quotable = fc.string({ unit: fc.oneof(headerChar, fc.constantFrom('"', '\\', ',')), maxLength: 40 })
const challenge = fc.record({
  scheme: token,
  params: fc.uniqueArray(fc.tuple(token, quotable), { maxLength: 6, selector: ([name]) => name.toLowerCase() }),
})

const quote = (value: string) => `"${value.replace(/["\\]/g, '\\$&')}"`
const serialize = (challenges: { scheme: string; params: [string, string][] }[]) =>
  challenges
    .map(({ scheme, params }) =>
      [scheme, params.map(([name, value]) => `${name}=${quote(value)}`).join(', ')].filter(Boolean).join(' '),
    )
    .join(', ')

/** Either challenges with lower-case schemes and string values, or CHALLENGE_INVALID; nothing else escapes. */
function parsesOrRefuses(header: string): AuthChallenge[] | undefined {
  try {
    const challenges = parseWwwAuthenticate(header)
    expect(challenges.length).toBeLessThanOrEqual(32)
    for (const { scheme, params } of challenges) {
      expect(scheme).toBe(scheme.toLowerCase())
      for (const [name, value] of Object.entries(params)) {
        expect(name).toBe(name.toLowerCase())
        expect(typeof value).toBe('string')
      }
    }
    return challenges
  } catch (error) {
    if (!(error instanceof PayfetchError) || error.code !== 'CHALLENGE_INVALID') throw error
    return undefined
  }
}

describe('parseWwwAuthenticate (fuzz)', () => {
  test('policy: arbitrary header text yields challenges or CHALLENGE_INVALID, never a TypeError', () => {
    fc.assert(
      fc.property(noise, (header) => void parsesOrRefuses(header)),
      { numRuns },
    )
  })

  test('behavior: well-formed challenges with any quoted values round-trip, also joined from separate lines', () => {
    fc.assert(
      fc.property(fc.array(challenge, { minLength: 1, maxLength: 5 }), (challenges) => {
        const expected = challenges.map(({ scheme, params }) => ({
          scheme: scheme.toLowerCase(),
          params: Object.fromEntries(params.map(([name, value]) => [name.toLowerCase(), value])),
        }))
        expect(parsesOrRefuses(serialize(challenges))).toEqual(expected)
        const lines = new Headers(challenges.map((one): [string, string] => ['www-authenticate', serialize([one])]))
        expect(parsesOrRefuses(lines.get('www-authenticate') as string)).toEqual(expected)
      }),
      { numRuns: 1000 },
    )
  })

  test('policy: long hostile input stays linear (64 KiB of quotes, escapes and tokens parses in well under a second)', () => {
    for (const unit of ['"\\', 'a ', 'a=', '="', 'L402 a="', ', ', "'"]) {
      const header = unit.repeat(Math.floor(65_536 / unit.length))
      const started = performance.now()
      parsesOrRefuses(header)
      expect(performance.now() - started).toBeLessThan(1000)
    }
  })
})
