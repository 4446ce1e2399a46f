import { describe, expect, test } from 'vitest'
import { PayfetchError } from '../../../src/errors/PayfetchError.js'
import { parseWwwAuthenticate } from '../../../src/protocols/wwwAuthenticate/parseWwwAuthenticate.js'

const macaroon =
  'AgEEbHNhdAJCAADiAccecbWfp/VY+J6vCO4Alla9RXo4x6/UM2QKD2pd7QEs8RenuCZZsSUOtnDUdlBQCq4jKIDICXKSVfjc7k2U=='
const invoice = 'lnbcrt210n1p5abcdefpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpu'

// What `fetch` hands over when a server sends the field more than once: the lines joined with ", ".
const joined = (...lines: string[]) =>
  new Headers(lines.map((line): [string, string] => ['www-authenticate', line])).get('www-authenticate')

describe('parseWwwAuthenticate', () => {
  test('behavior: Aperture sends LSAT then L402 on two lines; fetch joins them and both challenges come back in order', () => {
    const header = joined(
      `LSAT macaroon="${macaroon}", invoice="${invoice}"`,
      `L402 macaroon="${macaroon}", invoice="${invoice}"`,
    )
    expect(header).toBe(
      `LSAT macaroon="${macaroon}", invoice="${invoice}", L402 macaroon="${macaroon}", invoice="${invoice}"`,
    )
    expect(parseWwwAuthenticate(header)).toEqual([
      { scheme: 'lsat', params: { macaroon, invoice } },
      { scheme: 'l402', params: { macaroon, invoice } },
    ])
  })

  test("behavior: Alby's server helper forgets the comma after version; the parameters still belong to L402", () => {
    expect(
      parseWwwAuthenticate(`L402 version="0" token="eyJwYXltZW50SGFzaCI6IjEyIn0.ab12", invoice="${invoice}"`),
    ).toEqual([{ scheme: 'l402', params: { version: '0', token: 'eyJwYXltZW50SGFzaCI6IjEyIn0.ab12', invoice } }])
  })

  test('behavior: an MPP Payment challenge before the L402 one keeps its own parameters', () => {
    const header = joined(
      'Payment id="kM9xPqWvT2nJ", realm="api.example.com", method="lightning", intent="charge", request="eyJhbW91bnQiOiIxMDAwIn0"',
      `L402 version="0", token="${macaroon}", invoice="${invoice}"`,
    )
    expect(parseWwwAuthenticate(header)).toEqual([
      {
        scheme: 'payment',
        params: {
          id: 'kM9xPqWvT2nJ',
          realm: 'api.example.com',
          method: 'lightning',
          intent: 'charge',
          request: 'eyJhbW91bnQiOiIxMDAwIn0',
        },
      },
      { scheme: 'l402', params: { version: '0', token: macaroon, invoice } },
    ])
  })

  test('behavior: quoted strings keep their commas, spaces and escaped quotes', () => {
    expect(
      parseWwwAuthenticate(
        'Newauth realm="apps", type=1, title="Login to \\"apps\\", now", Basic realm="simple, really"',
      ),
    ).toEqual([
      { scheme: 'newauth', params: { realm: 'apps', type: '1', title: 'Login to "apps", now' } },
      { scheme: 'basic', params: { realm: 'simple, really' } },
    ])
  })

  test('behavior: token68 keeps its = padding, and base64 parameter values are never split on =', () => {
    expect(parseWwwAuthenticate('Basic dXNlcjpwYXNz==, Bearer realm="x"')).toEqual([
      { scheme: 'basic', token68: 'dXNlcjpwYXNz==', params: {} },
      { scheme: 'bearer', params: { realm: 'x' } },
    ])
    // Older L402 servers send unquoted base64 values.
    expect(parseWwwAuthenticate(`L402 macaroon=${macaroon}, invoice=${invoice}`)).toEqual([
      { scheme: 'l402', params: { macaroon, invoice } },
    ])
  })

  test('behavior: scheme and parameter names compare case-insensitively; values keep their case', () => {
    expect(parseWwwAuthenticate('l402 MACAROON="AbC=", Invoice="LNBC1"')).toEqual([
      { scheme: 'l402', params: { macaroon: 'AbC=', invoice: 'LNBC1' } },
    ])
  })

  test('behavior: unknown schemes and parameters are returned for the caller to ignore; single quotes are unwrapped', () => {
    expect(parseWwwAuthenticate("L402 token='abc', invoice='lnbc1', extra=1, Digest realm=x")).toEqual([
      { scheme: 'l402', params: { token: 'abc', invoice: 'lnbc1', extra: '1' } },
      { scheme: 'digest', params: { realm: 'x' } },
    ])
  })

  test('policy: a repeated parameter keeps its first value; prototype names are plain keys', () => {
    const [challenge] = parseWwwAuthenticate('L402 invoice="first", invoice="second", __proto__="p", constructor=c')
    expect(Object.entries(challenge?.params ?? {})).toEqual([
      ['invoice', 'first'],
      ['__proto__', 'p'],
      ['constructor', 'c'],
    ])
    expect(Object.getPrototypeOf(challenge?.params)).toBe(null)
  })

  test('policy: an unterminated quoted string is dropped, not read as the rest of the field', () => {
    expect(parseWwwAuthenticate('L402 invoice="lnbc1", token="abc')).toEqual([
      { scheme: 'l402', params: { invoice: 'lnbc1' } },
    ])
  })

  test('behavior: empty and separator-only values give no challenge', () => {
    expect(parseWwwAuthenticate(null)).toEqual([])
    expect(parseWwwAuthenticate(undefined)).toEqual([])
    expect(parseWwwAuthenticate('')).toEqual([])
    expect(parseWwwAuthenticate(' ,, , ')).toEqual([])
  })

  test('policy: at most 32 challenges are read; later ones and their parameters are ignored', () => {
    const header = Array.from({ length: 40 }, (_, index) => `S${index} a="${index}"`).join(', ')
    const challenges = parseWwwAuthenticate(header)
    expect(challenges).toHaveLength(32)
    expect(challenges.at(-1)).toEqual({ scheme: 's31', params: { a: '31' } })
  })

  test('error: a value longer than 64 KiB is refused as CHALLENGE_INVALID', () => {
    const header = `L402 token="${'A'.repeat(65_536)}"`
    expect(() => parseWwwAuthenticate(header)).toThrowError(PayfetchError)
    try {
      parseWwwAuthenticate(header)
    } catch (error) {
      expect(error).toMatchObject({ code: 'CHALLENGE_INVALID', details: { length: header.length } })
      expect((error as Error).message).toMatchInlineSnapshot(
        `"[CHALLENGE_INVALID] The WWW-Authenticate header is too large."`,
      )
    }
  })
})
