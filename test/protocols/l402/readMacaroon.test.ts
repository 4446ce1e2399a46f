import { randomBytes } from 'node:crypto'
import { issueL402Macaroon } from '@getalby/lightning-tools/402/l402'
import fc from 'fast-check'
import { newMacaroon } from 'macaroon'
import { describe, expect, test } from 'vitest'
import { readMacaroon } from '../../../src/protocols/l402/readMacaroon.js'

const paymentHash = 'e201c71e71b59fa7f558f89eaf08ee009656bd457a38c7afd433640a0f6a5ded'
const tokenId = '012cf117a7b8265961250eb670d4765050aae2232080c809729255f8dcee4d94'
const identifier = Buffer.from(`0000${paymentHash}${tokenId}`, 'hex')

function mint(options: { identifier?: Uint8Array; location?: string; caveats?: string[] } = {}): Uint8Array {
  const macaroon = newMacaroon({
    version: 2,
    rootKey: randomBytes(32),
    identifier: options.identifier ?? identifier,
    ...(options.location === undefined ? {} : { location: options.location }),
  })
  for (const caveat of options.caveats ?? []) macaroon.addFirstPartyCaveat(caveat)
  return macaroon.exportBinary()
}
const std = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')

describe('readMacaroon', () => {
  test('behavior: reads the payment hash and token id of an Aperture identifier (uint16 0 ‖ hash ‖ token id)', () => {
    expect(readMacaroon(std(mint({ location: 'lsat', caveats: ['services=demo:0'] })))).toEqual({
      paymentHash,
      tokenId,
      expiresAt: undefined,
    })
  })

  test('behavior: standard or URL-safe base64, padded or not, with or without a location', () => {
    for (const bytes of [mint({ location: 'lsat' }), mint(), mint({ location: 'x'.repeat(127) })]) {
      const encodings = [
        std(bytes),
        std(bytes).replace(/=+$/, ''),
        Buffer.from(bytes).toString('base64url'),
        `${Buffer.from(bytes).toString('base64url')}==`.slice(0, std(bytes).length),
      ]
      for (const token of encodings) expect(readMacaroon(token)).toMatchObject({ paymentHash, tokenId })
    }
  })

  test('behavior: the earliest <service>_valid_until (seconds) or expiration (ms) caveat is the expiry', () => {
    // js-macaroon 3.0.4 never records its buffer's capacity and doubles it on every append, so a test
    // macaroon carries few caveats.
    expect(
      readMacaroon(
        std(
          mint({
            location: 'lsat',
            caveats: ['services=demo:0', 'demo_valid_until=1900000000', 'other_valid_until=1800000000'],
          }),
        ),
      )?.expiresAt,
    ).toBe(1_800_000_000_000)
    expect(
      readMacaroon(std(mint({ caveats: ['demo_valid_until=1900000000', 'expiration=1850000000123'] })))?.expiresAt,
    ).toBe(1_850_000_000_123)
  })

  test('policy: an identifier in another layout leaves the token without a payment hash to compare', () => {
    expect(readMacaroon(std(mint({ identifier: new TextEncoder().encode('some-id') })))).toEqual({
      paymentHash: undefined,
      tokenId: undefined,
      expiresAt: undefined,
    })
    const version1 = Buffer.from(identifier)
    version1[1] = 1
    expect(readMacaroon(std(mint({ identifier: version1 })))?.paymentHash).toBeUndefined()
  })

  test("policy: tokens that are not V2 binary macaroons stay opaque: Alby's signed JSON, a long location, garbage", async () => {
    expect(readMacaroon(await issueL402Macaroon('secret', paymentHash, { path: '/x' }))).toBeUndefined()
    expect(readMacaroon(std(mint({ location: 'x'.repeat(200) })))).toBeUndefined()
    expect(readMacaroon('not base64!')).toBeUndefined()
    expect(readMacaroon('')).toBeUndefined()
    expect(readMacaroon('A')).toBeUndefined()
  })

  test('policy: any input returns a summary or undefined, never throws', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.uint8Array({ maxLength: 200 }).map((bytes) => std(Uint8Array.from([2, ...bytes]))),
        ),
        (token) => {
          const summary = readMacaroon(token)
          if (summary?.paymentHash !== undefined) expect(summary.paymentHash).toMatch(/^[0-9a-f]{64}$/)
        },
      ),
      { numRuns: 2000 },
    )
  })
})
