import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { PayfetchError } from '../../src/errors/PayfetchError.js'
import { checkInvoice } from '../../src/lightning/checkInvoice.js'
import { PayeeKeys } from '../../src/lightning/PayeeKeys.js'
import { type VerifiedInvoice, verifyInvoiceSignature } from '../../src/lightning/verifyInvoiceSignature.js'
import type { Bolt11Request } from '../../src/methods/Bolt11.js'
import { bech32, invoiceCorpus, reencoded } from '../support/invoiceCorpus.js'
import { expected, groupOrder, reference, signatureOf, withSignature } from './bolt11Reference.js'
import { bolt11SpecVectors } from './bolt11SpecVectors.js'

// Every network, amounts with each multiplier and none, with and without `n`, routing hints,
// fallback addresses, long and hashed descriptions, and the spec's own examples.
const bases = [
  ...invoiceCorpus().filter((_, index) => index % 3 === 0),
  ...bolt11SpecVectors.filter(({ valid }) => valid).map(({ invoice }) => ({ invoice })),
].map(({ invoice }) => invoice.toLowerCase())
// The ones bolt11 reads too: not the spec's example with fields to skip (it compares a short `n`).
const readable = bases.filter((invoice) => !(reference(invoice) instanceof Error))

type Mutation =
  | { kind: 'content'; at: number; value: number }
  | { kind: 'signature'; at: number; value: number }
  | { kind: 'recovery'; value: number }
  | { kind: 'high-S twin' }
  | { kind: 'prefix'; network: string; amount: string }
  | { kind: 'structure'; at: number; value: number }
  | { kind: 'insert'; at: number; value: number }
  | { kind: 'delete'; at: number }
  | { kind: 'character'; at: number; char: string }

const word = fc.nat({ max: 31 })
const position = fc.nat({ max: 2000 })
const networks = ['bc', 'tb', 'tbs', 'bcrt']
const amounts = ['', '1', '3', '21000000', '20m', '2500u', '210n', '10p', '210010p']
// Same-shape changes: the fields stay where they are, so bolt11 and the root reader parse alike.
const sameShape: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('content' as const), at: position, value: word }),
  fc.record({ kind: fc.constant('signature' as const), at: fc.nat({ max: 103 }), value: word }),
  fc.record({ kind: fc.constant('recovery' as const), value: fc.nat({ max: 3 }) }),
  fc.constant({ kind: 'high-S twin' as const }),
  fc.record({
    kind: fc.constant('prefix' as const),
    network: fc.constantFrom(...networks),
    amount: fc.constantFrom(...amounts),
  }),
)
// Anything: type and length words, words added or dropped, prefixes payfetch refuses, and raw
// characters with the checksum left as it was.
const anyShape: fc.Arbitrary<Mutation> = fc.oneof(
  sameShape,
  fc.record({ kind: fc.constant('structure' as const), at: position, value: word }),
  fc.record({ kind: fc.constant('insert' as const), at: position, value: word }),
  fc.record({ kind: fc.constant('delete' as const), at: position }),
  fc.record({
    kind: fc.constant('prefix' as const),
    network: fc.constantFrom(...networks, 'sb', 'bcx', ''),
    amount: fc.constantFrom(...amounts, '02500u', '15p', '22000000', '1x', '0'),
  }),
  fc.record({
    kind: fc.constant('character' as const),
    at: position,
    char: fc.constantFrom('q', 'p', 'z', '1', 'B', 'x', ' ', 'é'),
  }),
)

/** Where the timestamp and each field's data sit: words a change of which keeps the shape. */
function contentWords(words: number[]): number[] {
  const at = [0, 1, 2, 3, 4, 5, 6]
  for (let start = 7; start < words.length - 104; ) {
    const length = (words[start + 1] as number) * 32 + (words[start + 2] as number)
    for (let index = start + 3; index < Math.min(start + 3 + length, words.length - 104); index++) at.push(index)
    start += 3 + length
  }
  return at
}

function apply(invoice: string, mutation: Mutation): string {
  const { words } = bech32.decode(invoice, 10_000)
  const replaced = (index: number, value: number) =>
    reencoded(invoice, (all) => all.map((old, at) => (at === index ? value : old)))
  switch (mutation.kind) {
    case 'content': {
      const at = contentWords(words)
      return replaced(at[mutation.at % at.length] as number, mutation.value)
    }
    case 'signature':
      return replaced(words.length - 104 + mutation.at, mutation.value)
    case 'recovery': {
      const { r, s } = signatureOf(invoice)
      return withSignature(invoice, r, s, mutation.value)
    }
    case 'high-S twin': {
      const { r, s, recovery } = signatureOf(invoice)
      return s === 0n || s >= groupOrder ? invoice : withSignature(invoice, r, groupOrder - s, recovery ^ 1)
    }
    case 'prefix':
      return reencoded(invoice, (all) => all, `ln${mutation.network}${mutation.amount}`)
    case 'structure':
      return replaced(mutation.at % words.length, mutation.value)
    case 'insert':
      return reencoded(invoice, (all) => [
        ...all.slice(0, mutation.at % all.length),
        mutation.value,
        ...all.slice(mutation.at % all.length),
      ])
    case 'delete':
      return reencoded(invoice, (all) => all.filter((_, at) => at !== mutation.at % all.length))
    case 'character': {
      const at = mutation.at % invoice.length
      return `${invoice.slice(0, at)}${mutation.char}${invoice.slice(at + 1)}`
    }
  }
}

/** Applies the mutations in turn; one that leaves no valid bech32 string to work on stops the chain. */
/**
 * bolt11 dates the expiry with `Date`, which ends in the year 275760: an expiry past it (BOLT #11
 * allows 2^50 seconds) is valid, and bolt11's "Invalid time value" is its own limit.
 */
function pastDates(error: Error, verified: VerifiedInvoice): boolean {
  return error.message === 'Invalid time value' && (verified.timestamp + verified.expiry) * 1000 > 8.64e15
}

function mutated(invoice: string, mutations: Mutation[]): string {
  let current = invoice
  for (const mutation of mutations) {
    try {
      bech32.decode(current, 10_000)
    } catch {
      break
    }
    current = apply(current, mutation)
  }
  return current
}

/** An `n` field of another length than 53 words: the root reader skips it, bolt11 compares it. */
function hasOddPayeeField(invoice: string): boolean {
  const { words } = bech32.decode(invoice, 10_000)
  for (let start = 7; start < words.length - 104; ) {
    const length = (words[start + 1] as number) * 32 + (words[start + 2] as number)
    if (words[start] === 19 && length !== 53) return true
    start += 3 + length
  }
  return false
}

/**
 * Why bolt11 refuses an invoice the new check accepts, when BOLT #11 is on the new check's side:
 * with `n`, the signature is verified against it and the recovery id is not used, so bolt11
 * (which recovers and compares) reads it once the right recovery id is put back.
 */
function acceptedAgainstN(invoice: string, payee: string): boolean {
  const { r, s } = signatureOf(invoice)
  return [0, 1, 2, 3].some((recovery) => {
    const decoded = reference(withSignature(invoice, r, s, recovery))
    return !(decoded instanceof Error) && decoded.payeeNodeKey === payee && decoded.tagsObject.payee_node_key === payee
  })
}

/** The invoice in a payment request, as decodeL402 makes them, checked at a fixed time. */
function checkedInRequest(invoice: string): string | undefined {
  const request: Bolt11Request = {
    kind: 'bolt11',
    invoice,
    paymentHash: '00'.repeat(32),
    amountMsat: 250_000_000n,
    network: 'bip122:000000000019d6689c085ae165831e93',
  }
  try {
    return checkInvoice(request, 1_700_000_000_000)
  } catch (error) {
    if (error instanceof PayfetchError) return error.code
    throw error
  }
}

describe('verifyInvoiceSignature (fuzz)', () => {
  test('policy: on same-shape changes of valid invoices it accepts what bolt11 accepts and refuses what it refuses, reading the same payee, amount, hash and expiry, with payee keys remembered or not; the differences are BOLT #11’s rules', () => {
    const seen = { accepted: 0, refused: 0, amountless: 0, 'high-S with n': 0, 'recovery id with n': 0 }
    fc.assert(
      fc.property(
        fc.constantFrom(...readable),
        fc.array(sameShape, { minLength: 1, maxLength: 3 }),
        (base, changes) => {
          const invoice = mutated(base, changes)
          const verified = verifyInvoiceSignature(invoice)
          // The keys every check shares are warm here; a check with none remembered answers alike.
          expect(verifyInvoiceSignature(invoice, new PayeeKeys())).toEqual(verified)
          const decoded = reference(invoice)
          if (typeof verified !== 'string' && decoded instanceof Error) {
            expect(acceptedAgainstN(invoice, verified.payee) || pastDates(decoded, verified), decoded.message).toBe(
              true,
            )
            seen['recovery id with n']++
          } else if (typeof verified === 'string' && !(decoded instanceof Error)) {
            const highS = verified === 'signature not in low-S form'
            // Payfetch pays no open amount; with `n`, BOLT #11 fails a high-S signature bolt11 takes.
            if (highS)
              expect(signatureOf(invoice).s > groupOrder / 2n && !!decoded.tagsObject.payee_node_key).toBe(true)
            else expect(verified).toEqual(expected(decoded))
            seen[highS ? 'high-S with n' : 'amountless']++
          } else if (typeof verified !== 'string') {
            expect(verified).toEqual(expected(decoded as Exclude<typeof decoded, Error>))
            seen.accepted++
          } else seen.refused++
        },
      ),
      { numRuns: 400 },
    )
    // Every outcome was met, so none of the branches above is dead.
    for (const [outcome, count] of Object.entries(seen)) expect(count, outcome).toBeGreaterThan(0)
  })

  test('policy: on any change, or any string, it returns a reason or an invoice bolt11 reads alike (the same with payee keys remembered or not), never throws; checkInvoice too', () => {
    const invoices = fc.oneof(
      { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...bases), fc.array(anyShape, { minLength: 1, maxLength: 4 })) },
      { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 400 }), fc.constant([] as Mutation[])) },
    )
    fc.assert(
      fc.property(invoices, ([base, changes]) => {
        const invoice = mutated(base, changes)
        const verified = verifyInvoiceSignature(invoice)
        expect(verifyInvoiceSignature(invoice, new PayeeKeys())).toEqual(verified)
        const checked = checkedInRequest(invoice)
        expect(checked === undefined || typeof checked === 'string').toBe(true)
        if (typeof verified === 'string') {
          expect(verified).toMatch(/^[a-z][ -~]*$/)
          expect(checked).toBeTypeOf('string')
          return
        }
        const decoded = reference(invoice)
        if (decoded instanceof Error)
          expect(
            hasOddPayeeField(invoice) || acceptedAgainstN(invoice, verified.payee) || pastDates(decoded, verified),
            decoded.message,
          ).toBe(true)
        else if (!hasOddPayeeField(invoice)) {
          // Repeated or odd-length fields are read differently (first or last, skipped or not):
          // the payee and the amount must agree.
          const reading = expected(decoded) as VerifiedInvoice
          expect({ payee: verified.payee, amount: verified.amount }).toEqual({
            payee: reading.payee,
            amount: reading.amount,
          })
        }
      }),
      { numRuns: 600 },
    )
  })
})
