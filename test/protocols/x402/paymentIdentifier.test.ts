import {
  declarePaymentIdentifierExtension,
  extractAndValidatePaymentIdentifier,
  isValidPaymentId,
  validatePaymentIdentifierRequirement,
} from '@x402/extensions/payment-identifier'
import { describe, expect, test } from 'vitest'
import type { Response402 } from '../../../src/protocols/Protocol.js'
import { decodeX402 } from '../../../src/protocols/x402/decode.js'
import { x402 } from '../../../src/protocols/x402/index.js'
import { withPaymentIdentifier } from '../../../src/protocols/x402/paymentIdentifier.js'
import { decodeBase64Json, encodeBase64Json } from '../../../src/utils/base64.js'

// The server side is the x402 reference package (@x402/extensions 2.27.0): it declares the
// extension and validates what the client echoes, so the wire format is checked by a real peer.
const requirement = {
  scheme: 'exact',
  network: 'eip155:84532',
  amount: '10000',
  asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e',
  payTo: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
  maxTimeoutSeconds: 60,
  extra: { name: 'USDC', version: '2' },
}
const proof = {
  kind: 'eip3009',
  signature: '0xabc',
  authorization: { from: '0x01', to: '0x02', value: '1', validAfter: '0', validBefore: '1', nonce: '0x01' },
  payer: '0x01',
} as const
const key = 'pf_0123456789abcdef0123456789abcdef'

function challengeWith(extensions: unknown): Response402 {
  const message = {
    x402Version: 2,
    error: 'payment required',
    resource: { url: 'https://api.example.com/r' },
    accepts: [requirement],
    extensions,
  }
  return {
    url: 'https://api.example.com/r',
    headers: new Headers({ 'payment-required': encodeBase64Json(message) }),
    body: '',
  }
}

/** The decoded PAYMENT-SIGNATURE payload payfetch would send for this challenge and key. */
function proofFor(
  extensions: unknown,
  idempotencyKey = key,
): { extensions?: Record<string, unknown> } & Record<string, unknown> {
  const [offer] = decodeX402(challengeWith(extensions))
  const headers = x402.proofHeaders(offer!, proof, { idempotencyKey })
  return decodeBase64Json(headers['payment-signature']!) as { extensions?: Record<string, unknown> }
}

describe('x402 payment-identifier', () => {
  test('behavior: a declared (required) payment-identifier gets the call’s idempotency key, accepted by the reference server code', () => {
    const declared = { 'payment-identifier': declarePaymentIdentifierExtension(true) }
    const proof = proofFor(declared)
    expect(proof.extensions?.['payment-identifier']).toMatchObject({ info: { required: true, id: key } })
    // The reference server's own checks: the id is present, valid, and satisfies `required`.
    const paymentPayload = proof as unknown as Parameters<typeof extractAndValidatePaymentIdentifier>[0]
    expect(extractAndValidatePaymentIdentifier(paymentPayload)).toEqual({ id: key, validation: { valid: true } })
    expect(validatePaymentIdentifierRequirement(paymentPayload, true)).toEqual({ valid: true })
  })

  test('behavior: the same key gives byte-identical proofs, a different key a different id', () => {
    const declared = { 'payment-identifier': declarePaymentIdentifierExtension(false) }
    const [offer] = decodeX402(challengeWith(declared))
    const once = x402.proofHeaders(offer!, proof, { idempotencyKey: key })
    const again = x402.proofHeaders(offer!, proof, { idempotencyKey: key })
    expect(again).toEqual(once)
    const other = proofFor(declared, 'pf_ffffffffffffffffffffffffffffffff')
    expect((other.extensions?.['payment-identifier'] as { info: { id: string } }).info.id).toBe(
      'pf_ffffffffffffffffffffffffffffffff',
    )
  })

  test('behavior: other extensions are echoed unchanged next to the identifier', () => {
    const bazaar = { info: { input: { type: 'http', method: 'GET' } }, schema: { type: 'object' } }
    const proof = proofFor({ bazaar, 'payment-identifier': { info: { required: false } } })
    expect(proof.extensions).toEqual({ bazaar, 'payment-identifier': { info: { required: false, id: key } } })
  })

  test('policy: a server that does not declare payment-identifier never receives the key', () => {
    const proof = proofFor({ bazaar: { info: {} } })
    expect(proof.extensions).toEqual({ bazaar: { info: {} } })
    expect(JSON.stringify(proof)).not.toContain(key)
  })

  test('behavior: a key outside the spec’s 16–128 [A-Za-z0-9_-] maps to a valid id, the same for every retry', () => {
    const declared = { 'payment-identifier': { info: { required: true } } }
    const idOf = (candidate: string) =>
      (withPaymentIdentifier(declared, candidate) as { 'payment-identifier': { info: { id: string } } })[
        'payment-identifier'
      ].info.id
    const bad = [
      'short_key_15chr',
      'x'.repeat(129),
      'order-2024.11/20:0001',
      'pf 0123456789abcdef',
      'pf_0123456789abcdef\n',
      'räksmörgås',
    ]
    for (const candidate of bad) {
      expect(isValidPaymentId(idOf(candidate)), candidate).toBe(true)
      expect(idOf(candidate)).toBe(idOf(candidate))
    }
    expect(new Set(bad.map(idOf)).size).toBe(bad.length)
    // A key that is already valid is sent as it is.
    expect(idOf('a'.repeat(16))).toBe('a'.repeat(16))
    expect(idOf('a'.repeat(128))).toBe('a'.repeat(128))
  })

  test('behavior: a malformed declaration is echoed untouched, and the input is never mutated', () => {
    for (const extensions of [
      undefined,
      null,
      [],
      'x',
      { 'payment-identifier': 'yes' },
      { 'payment-identifier': [1] },
    ]) {
      expect(withPaymentIdentifier(extensions, key)).toBe(extensions)
    }
    const declared = { 'payment-identifier': { info: { required: true } } }
    const snapshot = structuredClone(declared)
    withPaymentIdentifier(declared, key)
    expect(declared).toEqual(snapshot)
  })
})
