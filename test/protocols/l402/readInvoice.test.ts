import { createRequire } from 'node:module'
import { decode } from 'bolt11'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import {
  bolt11Networks,
  createLightningNode,
  type InvoiceNetwork,
} from '../../../examples/local-stack/lightningNode.js'
import { lightningNetworks } from '../../../src/protocols/l402/networks.js'
import { readInvoice } from '../../../src/protocols/l402/readInvoice.js'

// The bech32 package bolt11 itself uses, to build invoices with a chosen human-readable part.
const bech32 = createRequire(import.meta.url)('bech32') as {
  decode(text: string, limit?: number): { prefix: string; words: number[] }
  encode(prefix: string, words: number[], limit?: number): string
}
const withPrefix = (invoice: string, prefix: string) =>
  bech32.encode(prefix, bech32.decode(invoice, 10_000).words, 10_000)

const node = createLightningNode()
const networks = Object.keys(bolt11Networks) as InvoiceNetwork[]

describe('readInvoice', () => {
  test('behavior: agrees with the bolt11 package on signed invoices for all four networks and any amount, hash, timestamp and expiry, and hands over the signed words', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...networks),
        // Up to 21M BTC, including sub-satoshi amounts (encoded with the `p` multiplier).
        fc.oneof(
          fc.bigInt({ min: 1n, max: 10_000n }),
          fc.bigInt({ min: 1n, max: 21n * 10n ** 17n }),
          fc.bigInt({ min: 1n, max: 10n ** 9n }).map((sats) => sats * 1000n),
        ),
        fc.integer({ min: 1_500_000_000, max: 2_000_000_000 }),
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.boolean(),
        (network, amountMsat, timestamp, expirySeconds, withPayee) => {
          const { invoice, paymentHash } = node.createInvoice({
            network,
            amountMsat,
            timestamp,
            expirySeconds,
            withPayee,
          })
          const reference = decode(invoice, bolt11Networks[network])
          const { words } = bech32.decode(invoice, 10_000)
          const summary = readInvoice(invoice)
          expect(summary).toEqual({
            network: lightningNetworks[network],
            amount: BigInt(reference.millisatoshis as string),
            timestamp: reference.timestamp,
            expiry: reference.tagsObject.expire_time,
            paymentHash,
            payee: withPayee ? reference.payeeNodeKey : undefined,
            // The signed part and the signature, for payfetch/lightning to check.
            signed: { prefix: reference.prefix, words: words.slice(0, -104), signature: words.slice(-104) },
          })
          expect(amountMsat).toBe(BigInt(reference.millisatoshis as string))
          expect(readInvoice(invoice.toUpperCase())).toEqual(summary)
        },
      ),
      { numRuns: 150 },
    )
  })

  test('behavior: a missing expiry field means BOLT11’s default of 3600 seconds', () => {
    const { invoice } = node.createInvoice({ network: 'mainnet' })
    // Rebuild without the `x` field: strip it from the words (type 6, then two length words).
    const { prefix, words } = bech32.decode(invoice, 10_000)
    const fields = words.slice(7, -104)
    const kept: number[] = []
    for (let index = 0; index < fields.length; ) {
      const length = (fields[index + 1] as number) * 32 + (fields[index + 2] as number)
      if (fields[index] !== 6) kept.push(...fields.slice(index, index + 3 + length))
      index += 3 + length
    }
    const stripped = bech32.encode(prefix, [...words.slice(0, 7), ...kept, ...words.slice(-104)], 10_000)
    expect(readInvoice(stripped)).toMatchObject({ expiry: 3600 })
  })

  test('error: amountless, sub-millisatoshi, unknown-network and malformed invoices are refused with a reason', () => {
    const { invoice } = node.createInvoice({ network: 'mainnet', amountMsat: 250_000n })
    expect(invoice.startsWith('lnbc2500n1')).toBe(true)
    expect(readInvoice(withPrefix(invoice, 'lnbc'))).toBe('amountless invoice')
    expect(readInvoice(node.createInvoice({ amountMsat: null }).invoice)).toBe('amountless invoice')
    expect(readInvoice(withPrefix(invoice, 'lnbc15p'))).toBe('invalid amount')
    expect(readInvoice(withPrefix(invoice, 'lnbc10p'))).toMatchObject({ amount: 1n })
    expect(readInvoice(withPrefix(invoice, 'lnsb2500n'))).toBe('unknown network')
    expect(readInvoice(withPrefix(invoice, 'lnbc02500n'))).toBe('invalid amount')
    expect(readInvoice(withPrefix(invoice, 'lnbc0'))).toBe('invalid amount')
    expect(readInvoice(withPrefix(invoice, 'lnbc2500x'))).toBe('unknown network')
    expect(readInvoice(withPrefix(invoice, 'lnbc22000000'))).toBe('invalid amount')
    expect(readInvoice(withPrefix(invoice, 'lnbc21000000'))).toMatchObject({ amount: 21n * 10n ** 17n })
    // A single character changed breaks the bech32 checksum.
    const flipped = `${invoice.slice(0, 20)}${invoice[20] === 'q' ? 'p' : 'q'}${invoice.slice(21)}`
    expect(readInvoice(flipped)).toBe('malformed invoice')
    expect(readInvoice(`${invoice.slice(0, 10).toUpperCase()}${invoice.slice(10)}`)).toBe('malformed invoice')
    expect(readInvoice(`lightning:${invoice}`)).toBe('malformed invoice')
    expect(readInvoice('lnbc1')).toBe('malformed invoice')
    expect(readInvoice('')).toBe('malformed invoice')
    expect(readInvoice(invoice.slice(0, -1))).toBe('malformed invoice')
  })

  test('error: an invoice without exactly one 256-bit payment hash is refused', () => {
    const { invoice } = node.createInvoice({ network: 'regtest' })
    const { prefix, words } = bech32.decode(invoice, 10_000)
    const hashField = words.slice(7, 7 + 55)
    expect(hashField.slice(0, 3)).toEqual([1, 1, 20]) // `p`, 52 words
    const body = words.slice(7, -104)
    const twice = bech32.encode(prefix, [...words.slice(0, 7), ...hashField, ...body, ...words.slice(-104)], 10_000)
    const none = bech32.encode(prefix, [...words.slice(0, 7), ...body.slice(55), ...words.slice(-104)], 10_000)
    expect(readInvoice(twice)).toBe('no single payment hash')
    expect(readInvoice(none)).toBe('no single payment hash')
  })
})
