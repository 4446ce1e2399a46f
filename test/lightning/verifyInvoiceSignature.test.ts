import { describe, expect, test } from 'vitest'
import { PayeeKeys } from '../../src/lightning/PayeeKeys.js'
import { verifyInvoiceSignature } from '../../src/lightning/verifyInvoiceSignature.js'
import { bech32, invoiceCorpus, nodeKeys, reencoded, signInvoice } from '../support/invoiceCorpus.js'
import { expected, groupOrder, reference, signatureOf, withSignature } from './bolt11Reference.js'
import { bolt11SpecVectors, specPayee } from './bolt11SpecVectors.js'

const corpus = invoiceCorpus()
const keys = [signInvoice('payee').signer, signInvoice('other', { key: nodeKeys.other }).signer]

/** bolt11's reading of an invoice it must be able to read. */
function read(invoice: string) {
  const decoded = reference(invoice)
  if (decoded instanceof Error) throw new Error(`bolt11 refuses ${invoice}: ${decoded.message}`)
  return decoded
}

/** The words with one of them (counted from the end when negative) XORed with `bits`. */
const flipped = (words: number[], index: number, bits: number) =>
  words.map((word, at) => (at === (index < 0 ? words.length + index : index) ? word ^ bits : word))

/** Where each field starts (its type word), walking the data part by the length words. */
function fieldsOf(words: number[]): { type: number; at: number; length: number }[] {
  const fields: { type: number; at: number; length: number }[] = []
  for (let at = 7; at < words.length - 104; ) {
    const length = (words[at + 1] as number) * 32 + (words[at + 2] as number)
    fields.push({ type: words[at] as number, at, length })
    at += 3 + length
  }
  return fields
}

describe('verifyInvoiceSignature', () => {
  test('behavior: on every network and multiplier, with and without n, amountless, expired, long, hashed and routed, it reads what bolt11.decode reads (signature included), with payee keys remembered or not', () => {
    const hrps = corpus.map(({ invoice }) => bech32.decode(invoice, 10_000).prefix)
    // The corpus covers what it says it covers.
    expect(new Set(hrps.map((hrp) => /^ln(bcrt|bc|tbs|tb)/.exec(hrp)?.[1]))).toEqual(
      new Set(['bc', 'tb', 'tbs', 'bcrt']),
    )
    expect(new Set(hrps.map((hrp) => /[0-9]([munp]?)$/.exec(hrp)?.[1] ?? 'amountless'))).toEqual(
      new Set(['', 'm', 'u', 'n', 'p', 'amountless']),
    )
    for (const { name, invoice, signer } of corpus) {
      const decoded = read(invoice)
      expect(decoded.payeeNodeKey, name).toBe(signer)
      const verified = verifyInvoiceSignature(invoice)
      expect(verified, name).toEqual(expected(decoded))
      expect(verifyInvoiceSignature(invoice.toUpperCase()), name).toEqual(verified)
      // Nothing remembered: the full check alone.
      expect(verifyInvoiceSignature(invoice, new PayeeKeys()), name).toEqual(verified)
    }
  })

  test('behavior: the valid BOLT #11 examples verify to the spec’s node key wherever bolt11 reads them, and the one it misreads too', () => {
    for (const { title, invoice } of bolt11SpecVectors.filter(({ valid }) => valid)) {
      const decoded = reference(invoice)
      const verified = verifyInvoiceSignature(invoice)
      if (decoded instanceof Error) {
        // bolt11 compares a 52-word `n` field with the signer, where BOLT #11 says to skip it.
        expect(title).toBe('Same, but including fields which must be ignored.')
        expect(decoded.message).toContain('does not match payee pubkey')
        expect(verified).toMatchObject({ payee: specPayee, amount: 2_500_000_000n })
        continue
      }
      expect(verified, title).toEqual(expected(decoded))
      // Amountless examples are refused before their signature matters (payfetch pays no open amount).
      if (typeof verified !== 'string') expect(verified.payee, title).toBe(specPayee)
    }
  })

  test('error: the invalid BOLT #11 examples are refused as bolt11 refuses them, but those at fault outside the signature', () => {
    const reasons: Record<string, string> = {}
    for (const { title, invoice } of bolt11SpecVectors.filter(({ valid }) => !valid)) {
      const decoded = reference(invoice)
      const verified = verifyInvoiceSignature(invoice)
      if (typeof verified === 'string') {
        expect(decoded, title).toBeInstanceOf(Error)
        reasons[title] = verified
      } else reasons[title] = `accepted, as bolt11 does: ${verified.payee === read(invoice).payeeNodeKey}`
    }
    // An unknown even feature bit and a missing `s` field are the wallet's to refuse.
    expect(reasons).toMatchInlineSnapshot(`
      {
        "Bech32 checksum is invalid.": "malformed invoice",
        "Invalid multiplier": "unknown network",
        "Invalid sub-millisatoshi precision.": "invalid amount",
        "Malformed bech32 string (mixed case)": "malformed invoice",
        "Malformed bech32 string (no 1)": "malformed invoice",
        "Missing required \`s\` field.": "accepted, as bolt11 does: true",
        "Non canonical signature (high-S) with 'n' field defined": "signature not in low-S form",
        "Same, but adding invalid unknown feature 100": "accepted, as bolt11 does: true",
        "Signature is not recoverable.": "invalid signature",
        "String is too short.": "malformed invoice",
      }
    `)
  })

  test('error: a changed data character (checksum recomputed), a flipped signature bit or a swapped payee is refused with n; without n the invoice names another key, as bolt11 reads it', () => {
    for (const { name, invoice, signer } of corpus.filter(({ name }) => !name.includes('amountless'))) {
      const words = bech32.decode(invoice, 10_000).words
      const payee = fieldsOf(words).find(({ type, length }) => type === 19 && length === 53)
      const tampered = {
        timestamp: reencoded(invoice, (all) => flipped(all, 6, 1)),
        'payment hash': reencoded(invoice, (all) => flipped(all, 12, 16)),
        'signature r': reencoded(invoice, (all) => flipped(all, -100, 2)),
        'signature s': reencoded(invoice, (all) => flipped(all, -40, 8)),
        ...(payee && {
          payee: reencoded(invoice, (all) => [
            ...all.slice(0, payee.at + 3),
            ...bech32.toWords(Buffer.from(keys.find((key) => key !== signer) as string, 'hex')),
            ...all.slice(payee.at + 56),
          ]),
        }),
      }
      for (const [change, changed] of Object.entries(tampered)) {
        const label = `${name}: ${change}`
        const decoded = reference(changed)
        const verified = verifyInvoiceSignature(changed)
        if (payee) {
          expect(decoded, label).toBeInstanceOf(Error)
          expect(verified, label).toBe('signature does not match its payee (n field)')
        } else if (decoded instanceof Error) expect(verified, label).toBe('invalid signature')
        else {
          expect(verified, label).toEqual(expected(decoded))
          expect(decoded.payeeNodeKey, label).not.toBe(signer)
        }
      }
    }
  })

  test('policy: with an n field only a low-S signature passes and the recovery id is not used; without, key recovery takes a high-S signature too (BOLT #11)', () => {
    for (const withPayee of [false, true]) {
      const { invoice, signer } = signInvoice(`high-S ${withPayee}`, { withPayee })
      const { r, s, recovery } = signatureOf(invoice)
      expect(s < groupOrder / 2n).toBe(true)
      // The same signature with s negated: the point R flips, so does the recovery id.
      const highS = withSignature(invoice, r, groupOrder - s, recovery ^ 1)
      expect(read(highS).payeeNodeKey).toBe(signer)
      expect(verifyInvoiceSignature(highS)).toEqual(
        withPayee ? 'signature not in low-S form' : expect.objectContaining({ payee: signer }),
      )
      // Another recovery id recovers another key; against `n` it does not matter.
      const otherId = withSignature(invoice, r, s, recovery ^ 1)
      expect(reference(otherId)).toSatisfy((decoded) => decoded instanceof Error || decoded.payeeNodeKey !== signer)
      expect(verifyInvoiceSignature(otherId)).toSatisfy((verified) =>
        withPayee
          ? typeof verified !== 'string' && verified.payee === signer
          : typeof verified === 'string' || verified.payee !== signer,
      )
    }
  })

  test('error: a recovery id above 3, and r or s zero or not below the group order, are invalid signatures', () => {
    for (const withPayee of [false, true]) {
      const { invoice } = signInvoice(`ranges ${withPayee}`, { withPayee })
      const { r, s, recovery } = signatureOf(invoice)
      for (const [label, changed] of [
        ['recovery id 4', withSignature(invoice, r, s, 4 + recovery)],
        ['recovery id 255', withSignature(invoice, r, s, 255)],
        ['r = 0', withSignature(invoice, 0n, s, recovery)],
        ['s = 0', withSignature(invoice, r, 0n, recovery)],
        ['r = n', withSignature(invoice, groupOrder, s, recovery)],
        ['s = n', withSignature(invoice, r, groupOrder, recovery)],
        ['r = 2²⁵⁶ - 1', withSignature(invoice, 2n ** 256n - 1n, s, recovery)],
      ] as const) {
        expect(reference(changed), label).toBeInstanceOf(Error)
        expect(verifyInvoiceSignature(changed), label).toBe('invalid signature')
      }
    }
  })
})
