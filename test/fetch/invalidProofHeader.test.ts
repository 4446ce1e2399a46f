import { describe, expect, test } from 'vitest'
import { invalidProofHeader } from '../../src/fetch/invalidProofHeader.js'

describe('invalidProofHeader', () => {
  test('behavior: base64 and token68 proofs pass', () => {
    expect(invalidProofHeader({ 'payment-signature': 'eyJhIjoxfQ==', authorization: 'L402 AgEE:0a1b' })).toBeUndefined()
  })

  test.each([
    ['CR LF', 'abc\r\nx-evil: 1'],
    ['LF', 'abc\nx'],
    ['NUL', 'abc\0'],
    ['empty', ''],
    ['oversized', 'a'.repeat(64 * 1024 + 1)],
  ])('policy: a proof with %s is refused', (_name, value) => {
    expect(invalidProofHeader({ 'x-payment': 'ok', authorization: value })).toBe('authorization')
  })
})
