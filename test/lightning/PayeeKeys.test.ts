import { secp256k1 } from '@noble/curves/secp256k1'
import { sha256 } from '@noble/hashes/sha2'
import fc from 'fast-check'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { PayeeKeys } from '../../src/lightning/PayeeKeys.js'
import { verifyInvoiceSignature } from '../../src/lightning/verifyInvoiceSignature.js'
import { bech32, invoiceCorpus, nodeKeys, reencoded, signInvoice } from '../support/invoiceCorpus.js'
import { groupOrder, signatureOf, withSignature } from './bolt11Reference.js'

const corpus = invoiceCorpus().filter(({ name }) => !name.includes('amountless'))
const payee = signInvoice('payee').signer
const other = signInvoice('other', { key: nodeKeys.other }).signer

/** What a check with nothing remembered answers. */
const cold = (invoice: string) => verifyInvoiceSignature(invoice, new PayeeKeys())

/** Keys that have checked the given invoices, in that order. */
function warmedBy(invoices: readonly string[], size?: number): PayeeKeys {
  const keys = new PayeeKeys(size)
  for (const invoice of invoices) verifyInvoiceSignature(invoice, keys)
  return keys
}

/** The digest BOLT #11 signs: sha256 of the prefix and the data words packed into bytes. */
function digestOf(invoice: string): Uint8Array {
  const { prefix, words } = bech32.decode(invoice, 10_000)
  const bits = words
    .slice(0, -104)
    .map((word) => word.toString(2).padStart(5, '0'))
    .join('')
  const padded = bits.padEnd(Math.ceil(bits.length / 8) * 8, '0')
  const data = Array.from({ length: padded.length / 8 }, (_, at) =>
    Number.parseInt(padded.slice(at * 8, at * 8 + 8), 2),
  )
  return sha256(new Uint8Array([...new TextEncoder().encode(prefix), ...data]))
}

/** The same invoice signed by another node: a valid signature, from the wrong key where `n` names one. */
function signedByOther(invoice: string): string {
  const signature = secp256k1.sign(digestOf(invoice), nodeKeys.other)
  return withSignature(invoice, signature.r, signature.s, signature.recovery)
}

/** Tampered copies of an invoice from a remembered payee. */
function tampered(invoice: string): Record<string, string> {
  const { r, s, recovery } = signatureOf(invoice)
  const { words } = bech32.decode(invoice, 10_000)
  return {
    'recovery bit flipped': withSignature(invoice, r, s, recovery ^ 1),
    'recovery overflow bit set': withSignature(invoice, r, s, recovery | 2),
    's negated': withSignature(invoice, r, groupOrder - s, recovery),
    's bit flipped': reencoded(invoice, (all) => all.map((word, at) => (at === all.length - 40 ? word ^ 8 : word))),
    'another payment hash': reencoded(invoice, (all) => all.map((word, at) => (at === 12 ? word ^ 16 : word))),
    'signed by another node': signedByOther(invoice),
    untouched: reencoded(invoice, () => words),
  }
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('PayeeKeys', () => {
  test('behavior: an invoice from a remembered payee is checked from its tables (no recovery, no verify from scratch), with the answer of a cold check, with and without n', () => {
    const keys = warmedBy(corpus.map(({ invoice }) => invoice))
    expect(keys.recent.map(({ hex }) => hex).sort()).toEqual([payee, other].sort())
    const recover = vi.spyOn(secp256k1.Signature.prototype, 'recoverPublicKey')
    const verify = vi.spyOn(secp256k1, 'verify')
    for (const { name, invoice, signer } of corpus) {
      const warm = verifyInvoiceSignature(invoice, keys)
      expect(warm, name).toEqual(cold(invoice))
      expect(warm, name).toMatchObject({ payee: signer })
    }
    // The cold checks above recovered or verified once each; the warm ones never did.
    expect(recover.mock.calls.length + verify.mock.calls.length).toBe(corpus.length)
  })

  test('error: a tampered invoice from a remembered payee (recovery bit flipped or overflow set, s negated or a bit flipped, another payment hash, another node’s valid signature) gets exactly what a cold check gives', () => {
    const seen = new Set<string>()
    // Every third invoice (with and without n, each network) and the other node's.
    for (const { name, invoice } of corpus.filter((one, index) => index % 3 === 0 || one.name.includes('another'))) {
      for (const keys of [
        // Twice each: a key gets its table the second time it signs.
        warmedBy([invoice, invoice]),
        warmedBy(
          [signInvoice('other', { key: nodeKeys.other }).invoice, invoice].flatMap((one) => [one, one]),
          2,
        ),
      ])
        for (const [change, changed] of Object.entries(tampered(invoice))) {
          const answer = cold(changed)
          expect(verifyInvoiceSignature(changed, keys), `${name}: ${change}`).toEqual(answer)
          seen.add(typeof answer === 'string' ? answer : answer.payee === payee ? 'payee' : 'another key')
        }
    }
    // Refusals, the remembered payee and other keys were all among the answers.
    expect([...seen].sort()).toEqual([
      'another key',
      'invalid signature',
      'payee',
      'signature does not match its payee (n field)',
      'signature not in low-S form',
    ])
  })

  test('policy: a key that signed once is remembered without a table (a one-off payee pays for none); met again, it gets one', () => {
    const { invoice } = corpus[0] as { invoice: string }
    const keys = warmedBy([invoice])
    expect(keys.recent.map(({ point }) => point)).toEqual([undefined])
    const recover = vi.spyOn(secp256k1.Signature.prototype, 'recoverPublicKey')
    const verify = vi.spyOn(secp256k1, 'verify')
    expect(verifyInvoiceSignature(invoice, keys)).toEqual(cold(invoice))
    expect(keys.recent[0]?.point).toBeDefined()
    const calls = recover.mock.calls.length + verify.mock.calls.length
    // The third check goes by the table: no recovery or verify beyond the cold one it is compared with.
    expect(verifyInvoiceSignature(invoice, keys)).toEqual(cold(invoice))
    expect(recover.mock.calls.length + verify.mock.calls.length).toBe(calls + 1)
  })

  test('policy: the keys stay bounded, most recent first: the oldest is dropped, and a payee met again moves first', () => {
    const signers = Array.from({ length: 11 }, (_, index) =>
      signInvoice(`key ${index}`, { key: (index + 1).toString(16).padStart(64, '0'), withPayee: index % 2 === 0 }),
    )
    const keys = new PayeeKeys()
    for (const { invoice } of signers) verifyInvoiceSignature(invoice, keys)
    const newest = signers.map(({ signer }) => signer).reverse()
    expect(keys.recent.map(({ hex }) => hex)).toEqual(newest.slice(0, 8))
    verifyInvoiceSignature((signers[5] as { invoice: string }).invoice, keys)
    expect(keys.recent.map(({ hex }) => hex)).toEqual([newest[5], ...newest.slice(0, 5), ...newest.slice(6, 8)])
    // A refused invoice leaves them as they were.
    const before = keys.recent
    verifyInvoiceSignature(signedByOther(signInvoice('named', { withPayee: true }).invoice), keys)
    expect(keys.recent).toBe(before)
    keys.clear()
    expect(keys.recent).toEqual([])
  })

  test('policy: in any order, with few or many keys remembered, every invoice gets the answer of a cold check', () => {
    const many = Array.from({ length: 5 }, (_, index) =>
      signInvoice(`order ${index}`, { key: (index + 7).toString(16).padStart(64, '0'), withPayee: index === 2 }),
    )
    const invoices = [
      ...corpus.filter((_, index) => index % 5 === 0),
      ...many,
      ...corpus.slice(0, 6).flatMap(({ invoice }) => Object.values(tampered(invoice))),
    ].map((one) => (typeof one === 'string' ? one : one.invoice))
    const answers = new Map(invoices.map((invoice) => [invoice, cold(invoice)]))
    fc.assert(
      fc.property(fc.shuffledSubarray(invoices, { minLength: 1 }), fc.integer({ min: 1, max: 8 }), (order, size) => {
        const keys = new PayeeKeys(size)
        for (const invoice of order) expect(verifyInvoiceSignature(invoice, keys)).toEqual(answers.get(invoice))
        expect(keys.recent.length).toBeLessThanOrEqual(size)
      }),
      { numRuns: 15 },
    )
  })
})
